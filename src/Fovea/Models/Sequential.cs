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
        if (StageLayers(ModelStage.Top).Any()) throw new InvalidOperationException("Base layers must come before top layers in a Sequential model.");
        foreach (var l in layers) Add(l);
        return this;
    }

    /// <summary>Appends classifier layers.</summary>
    public Sequential Top(params Layer[] layers)
    {
        foreach (var l in layers) AddTop(l);
        return this;
    }
}
