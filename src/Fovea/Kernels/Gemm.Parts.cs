namespace Fovea.Kernels;

// Legend: C (M x N) = op(A) (M x K) * op(B) (K x N), row-major.
// Parts of a product as products of their own: the threads' shares, and the columns a path writes apart.

public static partial class Gemm
{
    /// <summary>Columns [start, start + count) of a product, as a product of their own.</summary>
    private static unsafe Job Columns(in Job job, int start, int count)
    {
        Job sub = job;
        sub.N = count;
        sub.B += job.TransposeB ? (long)start * job.Ldb : start;
        sub.C += start;
        if (sub.ColumnBias != null) sub.ColumnBias += start;
        return sub;
    }

    /// <summary>Rows [start, start + count) of a product, as a product of their own.</summary>
    private static unsafe Job Rows(in Job job, int start, int count)
    {
        Job sub = job;
        sub.M = count;
        sub.A += job.TransposeA ? start : (long)start * job.Lda;
        sub.C += (long)start * job.Ldc;
        if (sub.RowBias != null) sub.RowBias += start;
        return sub;
    }
}
