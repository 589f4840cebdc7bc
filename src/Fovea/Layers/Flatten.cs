using System.Text.Json.Nodes;
using Fovea.Autograd;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>Flattens each sample to one axis: [C, H, W] → [C·H·W]. Values are shared, not copied.</summary>
public sealed class Flatten : UnaryLayer
{
    /// <summary>Creates the layer.</summary>
    public Flatten(string? name = null) : base(name) { }

    /// <inheritdoc/>
    public override string TypeName => "Flatten";

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape) => [inputShape.Aggregate(1, (a, b) => a * b)];

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Ops.Reshape(input, input.Dim(0), input.SampleLength);

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new();
}
