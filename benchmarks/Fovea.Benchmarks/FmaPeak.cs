using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Fovea.Kernels;

namespace Fovea.Benchmarks;

/// <summary>
/// The ceiling a GEMM can reach on this machine: fused multiply-adds on registers only, 24 independent accumulators
/// per thread (more than latency x ports, so the FMA ports never wait), in the vector width Fovea's GEMM uses. A GEMM
/// figure divided by this one is the share of the hardware's arithmetic it keeps busy; on a shared machine the clock,
/// and with it this figure, moves by a few percent from minute to minute, so it is measured next to the products.
/// </summary>
internal static class FmaPeak
{
    /// <summary>Best GFLOP/s over <paramref name="samples"/> samples of about 20 ms, on <paramref name="threads"/> threads at once; NaN without FMA hardware.</summary>
    public static double Measure(int threads, int samples)
    {
        if (!Fma.IsSupported) return double.NaN;
        bool wide = Gemm.AutoPath == GemmKernelPath.Avx512;
        // Steps per call: 24 FMAs of 16 (or 8) lanes, 2 flops each.
        double flopsPerStep = 24.0 * (wide ? 16 : 8) * 2;
        const long Steps = 1_000_000;
        var perThread = new double[threads];
        double best = 0;
        for (int s = 0; s < samples + 3; s++)
        {
            long start = Stopwatch.GetTimestamp();
            Fovea.Parallelism.For(threads, part => perThread[part] = wide ? Run512(Steps) : Run256(Steps));
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (s >= 3) best = Math.Max(best, threads * Steps * flopsPerStep / seconds / 1e9);
        }
        // The sums are kept so the loops are not removed; they are finite by construction.
        if (perThread.Any(double.IsNaN)) throw new InvalidOperationException("FMA peak loop produced NaN.");
        return best;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double Run512(long steps)
    {
        // Factors just below and above 1 keep every accumulator finite and away from denormals.
        var x = Vector512.Create(0.9999999f); var y = Vector512.Create(1.0000001f);
        var c0 = Vector512.Create(1f); var c1 = c0; var c2 = c0; var c3 = c0; var c4 = c0; var c5 = c0; var c6 = c0; var c7 = c0;
        var c8 = c0; var c9 = c0; var c10 = c0; var c11 = c0; var c12 = c0; var c13 = c0; var c14 = c0; var c15 = c0;
        var c16 = c0; var c17 = c0; var c18 = c0; var c19 = c0; var c20 = c0; var c21 = c0; var c22 = c0; var c23 = c0;
        var zero = Vector512<float>.Zero;
        for (long i = 0; i < steps; i++)
        {
            c0 = Avx512F.FusedMultiplyAdd(c0, x, zero); c1 = Avx512F.FusedMultiplyAdd(c1, y, zero); c2 = Avx512F.FusedMultiplyAdd(c2, x, zero);
            c3 = Avx512F.FusedMultiplyAdd(c3, y, zero); c4 = Avx512F.FusedMultiplyAdd(c4, x, zero); c5 = Avx512F.FusedMultiplyAdd(c5, y, zero);
            c6 = Avx512F.FusedMultiplyAdd(c6, x, zero); c7 = Avx512F.FusedMultiplyAdd(c7, y, zero); c8 = Avx512F.FusedMultiplyAdd(c8, x, zero);
            c9 = Avx512F.FusedMultiplyAdd(c9, y, zero); c10 = Avx512F.FusedMultiplyAdd(c10, x, zero); c11 = Avx512F.FusedMultiplyAdd(c11, y, zero);
            c12 = Avx512F.FusedMultiplyAdd(c12, x, zero); c13 = Avx512F.FusedMultiplyAdd(c13, y, zero); c14 = Avx512F.FusedMultiplyAdd(c14, x, zero);
            c15 = Avx512F.FusedMultiplyAdd(c15, y, zero); c16 = Avx512F.FusedMultiplyAdd(c16, x, zero); c17 = Avx512F.FusedMultiplyAdd(c17, y, zero);
            c18 = Avx512F.FusedMultiplyAdd(c18, x, zero); c19 = Avx512F.FusedMultiplyAdd(c19, y, zero); c20 = Avx512F.FusedMultiplyAdd(c20, x, zero);
            c21 = Avx512F.FusedMultiplyAdd(c21, y, zero); c22 = Avx512F.FusedMultiplyAdd(c22, x, zero); c23 = Avx512F.FusedMultiplyAdd(c23, y, zero);
        }
        var sum = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 + c14 + c15 + c16 + c17 + c18 + c19 + c20 + c21 + c22 + c23;
        return Vector512.Sum(sum);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double Run256(long steps)
    {
        var x = Vector256.Create(0.9999999f); var y = Vector256.Create(1.0000001f);
        var c0 = Vector256.Create(1f); var c1 = c0; var c2 = c0; var c3 = c0; var c4 = c0; var c5 = c0; var c6 = c0; var c7 = c0;
        var c8 = c0; var c9 = c0; var c10 = c0; var c11 = c0; var c12 = c0; var c13 = c0; var c14 = c0; var c15 = c0;
        var c16 = c0; var c17 = c0; var c18 = c0; var c19 = c0; var c20 = c0; var c21 = c0; var c22 = c0; var c23 = c0;
        var zero = Vector256<float>.Zero;
        for (long i = 0; i < steps; i++)
        {
            c0 = Fma.MultiplyAdd(c0, x, zero); c1 = Fma.MultiplyAdd(c1, y, zero); c2 = Fma.MultiplyAdd(c2, x, zero);
            c3 = Fma.MultiplyAdd(c3, y, zero); c4 = Fma.MultiplyAdd(c4, x, zero); c5 = Fma.MultiplyAdd(c5, y, zero);
            c6 = Fma.MultiplyAdd(c6, x, zero); c7 = Fma.MultiplyAdd(c7, y, zero); c8 = Fma.MultiplyAdd(c8, x, zero);
            c9 = Fma.MultiplyAdd(c9, y, zero); c10 = Fma.MultiplyAdd(c10, x, zero); c11 = Fma.MultiplyAdd(c11, y, zero);
            c12 = Fma.MultiplyAdd(c12, x, zero); c13 = Fma.MultiplyAdd(c13, y, zero); c14 = Fma.MultiplyAdd(c14, x, zero);
            c15 = Fma.MultiplyAdd(c15, y, zero); c16 = Fma.MultiplyAdd(c16, x, zero); c17 = Fma.MultiplyAdd(c17, y, zero);
            c18 = Fma.MultiplyAdd(c18, x, zero); c19 = Fma.MultiplyAdd(c19, y, zero); c20 = Fma.MultiplyAdd(c20, x, zero);
            c21 = Fma.MultiplyAdd(c21, y, zero); c22 = Fma.MultiplyAdd(c22, x, zero); c23 = Fma.MultiplyAdd(c23, y, zero);
        }
        var sum = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 + c14 + c15 + c16 + c17 + c18 + c19 + c20 + c21 + c22 + c23;
        return Vector256.Sum(sum);
    }
}
