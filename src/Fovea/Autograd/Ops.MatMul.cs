using Fovea.Kernels;
using Fovea.Tensors;

namespace Fovea.Autograd;

public static partial class Ops
{
    /// <summary>
    /// Matrix product with NumPy semantics: a [..., M, K] · b [..., K, N] → [..., M, N], leading (batch) axes broadcast;
    /// a 1-D operand is a row (a) or column (b) vector whose axis is dropped from the result.
    /// </summary>
    public static Tensor MatMul(Tensor a, Tensor b)
    {
        if (a.Rank == 0 || b.Rank == 0) throw new ArgumentException("MatMul needs operands of rank 1 or more.");
        var sa = a.Rank == 1 ? new[] { 1, a.Dim(0) } : a.Shape;
        var sb = b.Rank == 1 ? new[] { b.Dim(0), 1 } : b.Shape;
        int m = sa[^2], k = sa[^1], n = sb[^1];
        if (sb[^2] != k)
            throw new ArgumentException($"MatMul: inner dimensions differ. Received {Tensor.ShapeToString(a.Shape)} and {Tensor.ShapeToString(b.Shape)}.");
        var batch = BroadcastShape(sa.AsSpan(0, sa.Length - 2), sb.AsSpan(0, sb.Length - 2));
        var outShape = new List<int>(batch);
        if (a.Rank > 1) outShape.Add(m);
        if (b.Rank > 1) outShape.Add(n);
        var y = new Tensor(outShape.ToArray());
        int count = batch.Aggregate(1, (p, d) => p * d);
        var (offA, offB) = MatMulOffsets(batch, sa, sb, m * k, k * n);
        // b shared by every batch entry: one tall product (the common "x · W" case).
        bool sharedB = sb.Length == 2 && count > 0;
        if (sharedB) Gemm.Multiply(false, false, count * m, n, k, a.Span, b.Span, y.Span);
        else
            for (int i = 0; i < count; i++)
                Gemm.Multiply(false, false, m, n, k, a.Span.Slice(offA[i], m * k), b.Span.Slice(offB[i], k * n), y.Span.Slice(i * m * n, m * n));
        if (Tape.ShouldRecord(a, b))
        {
            y.RequiresGrad = true;
            Tape.Current!.Add(() =>
            {
                if (y.Grad is null) return;
                var gy = y.Grad.Span;
                if (a.RequiresGrad)
                {
                    var ga = a.GradOrCreate().Span;
                    if (sharedB) Gemm.Multiply(false, true, count * m, k, n, gy, b.Span, ga, accumulate: true);
                    else
                        for (int i = 0; i < count; i++)
                            Gemm.Multiply(false, true, m, k, n, gy.Slice(i * m * n, m * n), b.Span.Slice(offB[i], k * n), ga.Slice(offA[i], m * k), accumulate: true);
                }
                if (b.RequiresGrad)
                {
                    var gb = b.GradOrCreate().Span;
                    if (sharedB) Gemm.Multiply(true, false, k, n, count * m, a.Span, gy, gb, accumulate: true);
                    else
                        for (int i = 0; i < count; i++)
                            Gemm.Multiply(true, false, k, n, m, a.Span.Slice(offA[i], m * k), gy.Slice(i * m * n, m * n), gb.Slice(offB[i], k * n), accumulate: true);
                }
            });
        }
        return y;
    }

    private static (int[] A, int[] B) MatMulOffsets(int[] batch, int[] sa, int[] sb, int matA, int matB)
    {
        int count = batch.Aggregate(1, (p, d) => p * d);
        var offA = new int[count];
        var offB = new int[count];
        var idx = new int[batch.Length];
        for (int i = 0; i < count; i++)
        {
            offA[i] = BatchOffset(idx, batch, sa, matA);
            offB[i] = BatchOffset(idx, batch, sb, matB);
            for (int d = batch.Length - 1; d >= 0; d--) { if (++idx[d] < batch[d]) break; idx[d] = 0; }
        }
        return (offA, offB);
    }

    // Offset of the matrix at broadcast batch index idx in an operand of shape s (batch axes right-aligned, size-1 axes repeat).
    private static int BatchOffset(int[] idx, int[] batch, int[] s, int matrix)
    {
        int rankB = s.Length - 2, off = 0, stride = matrix;
        for (int d = rankB - 1; d >= 0; d--)
        {
            int i = idx[batch.Length - rankB + d];
            if (s[d] != 1) off += i * stride;
            stride *= s[d];
        }
        return off;
    }
}
