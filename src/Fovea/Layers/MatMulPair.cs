using System.Text.Json.Nodes;
using Fovea.Autograd;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>
/// Matrix product of two computed inputs, per sample: a [..., M, K] · b [..., K, N] → [..., M, N] with NumPy semantics
/// (leading axes broadcast, a 1-D a is a row and a 1-D b a column whose axis is dropped), as ONNX MatMul. Gradients flow
/// to both inputs; two vector samples give a scalar sample (shape []), their dot product. For a product with a learned
/// matrix use <see cref="MatMul"/> or <see cref="Dense"/>.
/// </summary>
public sealed class MatMulPair(string? name = null) : Layer(name)
{
    /// <inheritdoc/>
    public override string TypeName => "MatMulPair";
    /// <inheritdoc/>
    public override int InputCount => 2;

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(IReadOnlyList<int[]> inputShapes)
    {
        var (a, b) = (inputShapes[0], inputShapes[1]);
        if (a.Length == 0 || b.Length == 0)
            throw new ArgumentException($"Layer '{Name}' (MatMulPair) needs samples of rank ≥ 1; received {Tensor.ShapeToString(a)} and {Tensor.ShapeToString(b)}.");
        return MatMul.ProductShape(a, b, $"Layer '{Name}' (MatMulPair)", "the first input", "the second input");
    }

    /// <inheritdoc/>
    public override Tensor Forward(IReadOnlyList<Tensor> inputs, bool training)
    {
        var (x, y) = (inputs[0], inputs[1]);
        int n = x.Dim(0);
        var outShape = ComputeOutputShape([x.Shape[1..], y.Shape[1..]]);
        // Vectors become a row or a column; then both get leading 1s (behind the batch axis) up to one rank, so that
        // the batch axes pair with each other and the sample's broadcast axes with each other.
        var a = x.Rank == 2 ? new[] { 1, x.Dim(1) } : x.Shape[1..];
        var b = y.Rank == 2 ? new[] { y.Dim(1), 1 } : y.Shape[1..];
        int rank = Math.Max(a.Length, b.Length);
        var pa = Ops.Reshape(x, [n, .. Enumerable.Repeat(1, rank - a.Length), .. a]);
        var pb = Ops.Reshape(y, [y.Dim(0), .. Enumerable.Repeat(1, rank - b.Length), .. b]);
        return Ops.Reshape(Ops.MatMul(pa, pb), [n, .. outShape]);
    }

    /// <inheritdoc/>
    public override long Flops(IReadOnlyList<int[]> inputShapes)
    {
        var a = inputShapes[0];
        return 2L * ComputeOutputShape(inputShapes).Aggregate(1L, (p, d) => p * d) * a[^1];
    }

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new();
}
