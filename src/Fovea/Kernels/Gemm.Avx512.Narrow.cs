using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

// Legend: C (M x N) = op(A) (M x K) * op(B) (K x N), row-major; MR x NR = 8 x 48 register tile.
// A product read in place has up to two narrow panels: the columns before B's rows first meet a cache line, and the
// ragged last ones (a batch of 64 maps of 14x14 has N = 12544 = 261·48 + 16). Packing such a panel and merging a tile
// computed aside cost 0.8% of 64x12544x288 (1 thread, Intel VM, perf samples of PackB, RunEdge and MergeEdge) for
// under 0.5% of its multiply-adds. Here they are read in place with masked loads (lanes past the panel are neither read nor
// faulted on) and stored with the fused epilogue through masked stores, up to 32 columns per call.

internal readonly unsafe partial struct Avx512Kernel
{
    public static bool RunsInPlaceNarrow => true;

    public static int NarrowMaxColumns => 32;

    public static void RunInPlaceNarrow(float* a, float* b, long ldb, int kc, float* c, int ldc, int flags, float* rowBias, float* colBias, int width)
    {
        // Lanes below the panel's width (of its last vector) are on.
        var last = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(width <= 16 ? width : width - 16)).AsSingle();
        if (width <= 16) OneVector(a, b, ldb, kc, c, ldc, flags, rowBias, colBias, last);
        else TwoVectors(a, b, ldb, kc, c, ldc, flags, rowBias, colBias, last);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OneVector(float* a, float* b, long ldb, int kc, float* c, int ldc, int flags, float* rowBias, float* colBias, Vector512<float> mask)
    {
        var zero = Vector512<float>.Zero;
        Vector512<float> c0 = zero, c1 = zero, c2 = zero, c3 = zero, c4 = zero, c5 = zero, c6 = zero, c7 = zero;
        for (int p = 0; p < kc; p++, a += MRows, b += ldb)
        {
            // The rows are ldb apart, so nothing streams them in: ask for the row 4 steps ahead.
            Sse.Prefetch0(b + 4 * ldb);
            var b0 = Avx512F.MaskLoad(b, mask, zero);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[1]), b0, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[2]), b0, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[3]), b0, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[4]), b0, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[5]), b0, c5);
            c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[6]), b0, c6);
            c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[7]), b0, c7);
        }
        StoreVector(c + 0L * ldc, c0, mask, flags, rowBias, 0, colBias);
        StoreVector(c + 1L * ldc, c1, mask, flags, rowBias, 1, colBias);
        StoreVector(c + 2L * ldc, c2, mask, flags, rowBias, 2, colBias);
        StoreVector(c + 3L * ldc, c3, mask, flags, rowBias, 3, colBias);
        StoreVector(c + 4L * ldc, c4, mask, flags, rowBias, 4, colBias);
        StoreVector(c + 5L * ldc, c5, mask, flags, rowBias, 5, colBias);
        StoreVector(c + 6L * ldc, c6, mask, flags, rowBias, 6, colBias);
        StoreVector(c + 7L * ldc, c7, mask, flags, rowBias, 7, colBias);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TwoVectors(float* a, float* b, long ldb, int kc, float* c, int ldc, int flags, float* rowBias, float* colBias, Vector512<float> mask)
    {
        var zero = Vector512<float>.Zero;
        Vector512<float> c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero, c30 = zero, c31 = zero;
        Vector512<float> c40 = zero, c41 = zero, c50 = zero, c51 = zero, c60 = zero, c61 = zero, c70 = zero, c71 = zero;
        float* colBias1 = colBias != null ? colBias + 16 : null;
        for (int p = 0; p < kc; p++, a += MRows, b += ldb)
        {
            float* ahead = b + 4 * ldb;
            Sse.Prefetch0(ahead); Sse.Prefetch0(ahead + 16);
            var b0 = Vector512.Load(b); var b1 = Avx512F.MaskLoad(b + 16, mask, zero);
            var av = Vector512.Create(a[0]); c00 = Avx512F.FusedMultiplyAdd(av, b0, c00); c01 = Avx512F.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a[1]); c10 = Avx512F.FusedMultiplyAdd(av, b0, c10); c11 = Avx512F.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a[2]); c20 = Avx512F.FusedMultiplyAdd(av, b0, c20); c21 = Avx512F.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a[3]); c30 = Avx512F.FusedMultiplyAdd(av, b0, c30); c31 = Avx512F.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a[4]); c40 = Avx512F.FusedMultiplyAdd(av, b0, c40); c41 = Avx512F.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a[5]); c50 = Avx512F.FusedMultiplyAdd(av, b0, c50); c51 = Avx512F.FusedMultiplyAdd(av, b1, c51);
            av = Vector512.Create(a[6]); c60 = Avx512F.FusedMultiplyAdd(av, b0, c60); c61 = Avx512F.FusedMultiplyAdd(av, b1, c61);
            av = Vector512.Create(a[7]); c70 = Avx512F.FusedMultiplyAdd(av, b0, c70); c71 = Avx512F.FusedMultiplyAdd(av, b1, c71);
        }
        StoreVector(c + 0L * ldc, c00, Full, flags, rowBias, 0, colBias); StoreVector(c + 0L * ldc + 16, c01, mask, flags, rowBias, 0, colBias1);
        StoreVector(c + 1L * ldc, c10, Full, flags, rowBias, 1, colBias); StoreVector(c + 1L * ldc + 16, c11, mask, flags, rowBias, 1, colBias1);
        StoreVector(c + 2L * ldc, c20, Full, flags, rowBias, 2, colBias); StoreVector(c + 2L * ldc + 16, c21, mask, flags, rowBias, 2, colBias1);
        StoreVector(c + 3L * ldc, c30, Full, flags, rowBias, 3, colBias); StoreVector(c + 3L * ldc + 16, c31, mask, flags, rowBias, 3, colBias1);
        StoreVector(c + 4L * ldc, c40, Full, flags, rowBias, 4, colBias); StoreVector(c + 4L * ldc + 16, c41, mask, flags, rowBias, 4, colBias1);
        StoreVector(c + 5L * ldc, c50, Full, flags, rowBias, 5, colBias); StoreVector(c + 5L * ldc + 16, c51, mask, flags, rowBias, 5, colBias1);
        StoreVector(c + 6L * ldc, c60, Full, flags, rowBias, 6, colBias); StoreVector(c + 6L * ldc + 16, c61, mask, flags, rowBias, 6, colBias1);
        StoreVector(c + 7L * ldc, c70, Full, flags, rowBias, 7, colBias); StoreVector(c + 7L * ldc + 16, c71, mask, flags, rowBias, 7, colBias1);
    }

    private static Vector512<float> Full => Vector512<int>.AllBitsSet.AsSingle();

    /// <summary>
    /// The lanes of <paramref name="mask"/> of one vector of a row of C, with the epilogue of <see cref="StoreRow"/>;
    /// colBias (null for none) points at its 16 columns. Lanes off the mask are neither read nor written.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreVector(float* c, Vector512<float> x, Vector512<float> mask, int flags, float* rowBias, int r, float* colBias)
    {
        var zero = Vector512<float>.Zero;
        if ((flags & Gemm.LoadC) != 0) x = Avx512F.Add(x, Avx512F.MaskLoad(c, mask, zero));
        if (rowBias != null) x = Avx512F.Add(x, Vector512.Create(rowBias[r]));
        if (colBias != null) x = Avx512F.Add(x, Avx512F.MaskLoad(colBias, mask, zero));
        if ((flags & Gemm.Relu) != 0) x = Avx512F.Max(zero, x);
        Avx512F.MaskStore(c, mask, x);
    }
}
