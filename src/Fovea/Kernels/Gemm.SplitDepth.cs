using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fovea.Kernels;

// Legend: C (M x N) = op(A) (M x K) * op(B) (K x N), row-major.
// A weight gradient (dW = dY·Xᵀ: M = output channels, N = input channels x taps, K = batch x pixels) has a small C and
// a long K. Split over N (or M), every thread packs all of the other operand: 64x288x12544 on two threads packed A
// twice. Split over K instead, each thread packs only its half of both operands into its own partial C, and the
// partials are summed at the end (C is small, the sum cheap); the epilogue (biases, ReLU) runs once, after the sum.

public static partial class Gemm
{
    /// <summary>Largest C (in floats, 256 KiB) whose product may be split over K between threads.</summary>
    internal const long SplitDepthMaxC = 1L << 16;

    /// <summary>Least depth per thread for a split over K: enough multiply-adds per element of C to repay its sum.</summary>
    internal const int SplitDepthMinK = 1024;

    private static bool SplitOverDepth(in Job job, int parts) =>
        (long)job.M * job.N <= SplitDepthMaxC && job.K >= SplitDepthMinK * parts;

    [ThreadStatic] private static float[]? t_partials;

    // Separate so the closure is only allocated when the product goes parallel.
    private static unsafe void RunSplitDepth<TK>(Job shared, int parts) where TK : IMicroKernel
    {
        int cells = shared.M * shared.N;
        // The calling thread owns the partials of parts 1.., sized and pinned here; workers only write their own slice.
        var storage = t_partials;
        if (storage == null || storage.Length < (parts - 1) * cells)
            t_partials = storage = GC.AllocateUninitializedArray<float>((parts - 1) * cells, pinned: true);
        float* partials = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(storage));
        Parallelism.For(parts, part =>
        {
            int k0 = (int)((long)shared.K * part / parts), k1 = (int)((long)shared.K * (part + 1) / parts);
            Job sub = shared;
            sub.K = k1 - k0;
            sub.A += shared.TransposeA ? (long)k0 * shared.Lda : k0;
            sub.B += shared.TransposeB ? k0 : (long)k0 * shared.Ldb;
            sub.RowBias = sub.ColumnBias = null;
            sub.Relu = false;
            if (part > 0)
            {
                sub.C = partials + (long)(part - 1) * cells;
                sub.Ldc = shared.N;
                sub.Accumulate = false;
            }
            Serial<TK>(in sub);
        });
        SumPartials(in shared, partials, parts - 1);
    }

    /// <summary>C += every partial (M x N, dense), then row bias, column bias and ReLU, in that order.</summary>
    private static unsafe void SumPartials(in Job j, float* partials, int count)
    {
        // Vectorised row by row, each element summed in the same order as before (the scalar loop cost 1% of a 64x288x12544
        // weight gradient on two threads and 7% of 64x128x3136, a dense layer's).
        long cells = (long)j.M * j.N;
        var columnBias = j.ColumnBias != null ? new ReadOnlySpan<float>(j.ColumnBias, j.N) : default;
        for (int i = 0; i < j.M; i++)
        {
            var row = new Span<float>(j.C + (long)i * j.Ldc, j.N);
            for (int q = 0; q < count; q++) TensorPrimitives.Add(row, new ReadOnlySpan<float>(partials + q * cells + (long)i * j.N, j.N), row);
            if (j.RowBias != null) TensorPrimitives.Add(row, j.RowBias[i], row);
            if (j.ColumnBias != null) TensorPrimitives.Add(row, columnBias, row);
            if (j.Relu) TensorPrimitives.Max(row, 0f, row);
        }
    }
}
