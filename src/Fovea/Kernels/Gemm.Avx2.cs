using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

// Legend: C (M x N) = op(A) (M x K) * op(B) (K x N), row-major; MR x NR register tile.
// AVX2/FMA micro-kernel: 6 x 16 tile = 12 ymm accumulators + 2 B vectors + 1 broadcast A = 15 of 16 ymm registers.
// Per k step: 2 loads + 6 broadcasts feed 12 FMAs, well inside Zen's load bandwidth, so the FMA pipes set the pace.

/// <summary>AVX2/FMA 6x16 micro-kernel with fused epilogue.</summary>
internal readonly unsafe struct Avx2Kernel : IMicroKernel
{
    private const int MRows = 6, NCols = 16;
    public static int MR => MRows;
    public static int NR => NCols;
    // B micro-panel KC x 16 floats = 16 KiB stays in the 48 KiB L1; A block MC x KC = 144 KiB sits in L2.
    public static int KC => 256;
    public static int MC => 144;
    public static int NC => 4096;
    public static int PrefetchLines => 1;

    /// <inheritdoc cref="IMicroKernel.RunEdge"/>
    public static void RunEdge(float* a, float* b, int kc, float* edge, int nr) => Run(a, b, kc, edge, NCols, 0, null, null, null, 0, 0);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(float* a, float* b, int kc, float* c, int ldc, int flags, float* rowBias, float* colBias, float* ahead, int aheadLines, long aheadStride)
    {
        var zero = Vector256<float>.Zero;
        var c00 = zero; var c01 = zero;
        var c10 = zero; var c11 = zero;
        var c20 = zero; var c21 = zero;
        var c30 = zero; var c31 = zero;
        var c40 = zero; var c41 = zero;
        var c50 = zero; var c51 = zero;
        for (int p = 0; p < kc; p++, a += MRows, b += NCols)
        {
            if (p < aheadLines) { Sse.Prefetch1(ahead); ahead += aheadStride; }
            var b0 = Avx.LoadVector256(b + 0); var b1 = Avx.LoadVector256(b + 8);
            var av = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[1]);
            c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[2]);
            c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Vector256.Create(a[3]);
            c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Vector256.Create(a[4]);
            c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Vector256.Create(a[5]);
            c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
        }
        StoreRow(c + 0L * ldc, c00, c01, flags, rowBias, 0, colBias);
        StoreRow(c + 1L * ldc, c10, c11, flags, rowBias, 1, colBias);
        StoreRow(c + 2L * ldc, c20, c21, flags, rowBias, 2, colBias);
        StoreRow(c + 3L * ldc, c30, c31, flags, rowBias, 3, colBias);
        StoreRow(c + 4L * ldc, c40, c41, flags, rowBias, 4, colBias);
        StoreRow(c + 5L * ldc, c50, c51, flags, rowBias, 5, colBias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector256<float> x0, Vector256<float> x1, int flags, float* rowBias, int r, float* colBias)
    {
        if ((flags & Gemm.LoadC) != 0) { x0 = Avx.Add(x0, Avx.LoadVector256(c)); x1 = Avx.Add(x1, Avx.LoadVector256(c + 8)); }
        if (rowBias != null) { var rb = Vector256.Create(rowBias[r]); x0 = Avx.Add(x0, rb); x1 = Avx.Add(x1, rb); }
        if (colBias != null) { x0 = Avx.Add(x0, Avx.LoadVector256(colBias)); x1 = Avx.Add(x1, Avx.LoadVector256(colBias + 8)); }
        if ((flags & Gemm.Relu) != 0)
        {
            // max(0, x) keeps NaN and -0 exactly like the reference's "if (v < 0) v = 0".
            x0 = Avx.Max(Vector256<float>.Zero, x0); x1 = Avx.Max(Vector256<float>.Zero, x1);
        }
        Avx.Store(c, x0); Avx.Store(c + 8, x1);
    }
}
