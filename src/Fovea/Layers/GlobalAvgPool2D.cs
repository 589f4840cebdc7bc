using System.Text.Json.Nodes;
using Fovea.Autograd;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>Mean of each channel's whole activation map: [C, H, W] → [C] (or [C, 1, 1] with keepDims).</summary>
public sealed class GlobalAvgPool2D : UnaryLayer
{
    /// <summary>Creates the layer; keepDims false flattens to [C] so a Dense layer can follow.</summary>
    public GlobalAvgPool2D(bool keepDims = false, string? name = null) : base(name) => KeepDims = keepDims;

    /// <summary>Keep the 1×1 spatial axes.</summary>
    public bool KeepDims { get; }

    /// <inheritdoc/>
    public override string TypeName => "GlobalAvgPool2D";

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        var s = RequireRank([inputShape], 3, "[C, H, W]");
        RequireImage(this, s);
        return KeepDims ? [s[0], 1, 1] : [s[0]];
    }

    /// <summary>A global pool of an image without pixels has no value (a mean of nothing, a maximum of nothing).</summary>
    internal static void RequireImage(Layer layer, int[] shape)
    {
        if (shape[1] == 0 || shape[2] == 0)
            throw new ArgumentException($"Layer '{layer.Name}' ({layer.TypeName}) pools over each channel's H × W values; samples {Tensor.ShapeToString(shape)} have none.");
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training)
    {
        var y = Ops.GlobalAvgPool2d(input);
        return KeepDims ? y : Ops.Reshape(y, y.Dim(0), y.Dim(1));
    }

    /// <inheritdoc/>
    public override long Flops(int[] inputShape) => (long)inputShape[0] * inputShape[1] * inputShape[2];

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["keep_dims"] = KeepDims };
}
