using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

// Legend: C (M x N) = op(A) (M x K) * op(B) (K x N), row-major; a cache line is 64 bytes = 16 floats.
// A plain store to a line that is not in the cache first reads it from memory (read for ownership), so writing a C far
// larger than the caches moves it twice; non-temporal stores write whole lines without that read (filling 6.4 MB on
// the Intel VM: 12 GB/s plain, 21 GB/s non-temporal). A product whose C is written once (no accumulation, one depth
// block) and is large streams C out so; its register tiles must then start on cache lines.

public static partial class Gemm
{
    /// <summary>Smallest C (in floats, 4 MiB) written with non-temporal stores: twice the 2 MiB L2 of the machines measured.</summary>
    internal const long StreamMinFloats = 1L << 20;

    /// <summary>
    /// True when C is written once and is large; then <paramref name="head"/> is how many leading columns to write
    /// apart, with plain stores, so that the rest of every row starts on a cache line.
    /// </summary>
    private static unsafe bool WantsStreamingStores(in Job job, int depthBlock, out int head)
    {
        head = 0;
        if (!Sse.IsSupported || job.Accumulate || job.K > depthBlock || (long)job.M * job.N < StreamMinFloats ||
            job.Ldc % 16 != 0 || ((nuint)job.C & 3) != 0) return false;
        head = (int)(((64 - ((nuint)job.C & 63)) & 63) / sizeof(float));
        return head < job.N;
    }

    /// <summary>Non-temporal stores are weakly ordered: make them visible before the product counts as done.</summary>
    private static void FenceStreamingStores(in Job job)
    {
        if (job.Stream && Sse.IsSupported) Sse.StoreFence();
    }

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
