using System.Text.Json.Nodes;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>Element-wise sum of two inputs of the same shape: the residual connection of a graph model.</summary>
public sealed class Add : Layer
{
    /// <summary>Creates the layer.</summary>
    public Add(string? name = null) : base(name) { }

    /// <inheritdoc/>
    public override string TypeName => "Add";

    /// <inheritdoc/>
    public override int InputCount => 2;

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(IReadOnlyList<int[]> inputShapes)
    {
        if (inputShapes.Count != 2 || !inputShapes[0].AsSpan().SequenceEqual(inputShapes[1]))
            throw new ArgumentException($"Layer '{Name}' (Add) needs two inputs of the same shape; received {string.Join(" and ", inputShapes.Select(s => Tensor.ShapeToString(s)))}.");
        return (int[])inputShapes[0].Clone();
    }

    /// <inheritdoc/>
    public override Tensor Forward(IReadOnlyList<Tensor> inputs, bool training) => Autograd.Ops.Add(inputs[0], inputs[1]);

    /// <inheritdoc/>
    public override long Flops(IReadOnlyList<int[]> inputShapes) => inputShapes[0].Aggregate(1L, (a, b) => a * b);

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new();
}
