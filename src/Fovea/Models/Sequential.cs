using Fovea.Layers;

namespace Fovea.Models;

/// <summary>
/// A chain of layers: each takes the previous one's output. Build the feature extractor with <see cref="Base"/>
/// and the classifier with <see cref="Top"/>:
/// <code>
/// var model = new Sequential([1, 28, 28])
///     .Base(new Conv2D(32, 3, padding: 1), new ReLU(), new MaxPool2D(2))
///     .Top(new Flatten(), new Dense(10));
/// </code>
/// </summary>
public sealed class Sequential : Model
{
    /// <summary>Creates an empty chain for per-sample inputs of <paramref name="inputShape"/>.</summary>
    public Sequential(int[] inputShape, string name = "sequential", int seed = 0) : base(inputShape, name, seed) { }

    /// <summary>Appends feature-extractor layers.</summary>
    public Sequential Base(params Layer[] layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var top = StageLayers(ModelStage.Top).Select(l => l.Name).ToList();
        if (top.Count > 0)
            throw new InvalidOperationException($"Base layers must come before top layers in Sequential model '{Name}'; received base layer(s) " +
                $"{string.Join(", ", layers.Select(l => l?.ToString() ?? "null"))} after top layer(s) {string.Join(", ", top)}.");
        foreach (var l in layers) Add(l);
        return this;
    }

    /// <summary>Appends classifier layers.</summary>
    public Sequential Top(params Layer[] layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        foreach (var l in layers) AddTop(l);
        return this;
    }
}
