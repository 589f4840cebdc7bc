using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

// Legend: a 16 x 16 block of a transposing pack: 16 source rows (stride ld), 16 consecutive floats (depth) each; out
// come 16 rows of 16 floats, one per depth step. A zmm register is four 128-bit lanes.
// The 8 x 8 AVX transpose (Gemm.Packing.cs) costs 24 shuffles per 64 floats. Here the cross-lane half of the
// transpose is done by the loads instead: each register is filled with 128-bit pieces of four rows (an insert from
// memory is a load plus a uop on any vector port), and only in-lane 4 x 4 transposes are left, 32 shuffles per 256
// floats, with whole-line stores. Measured: 0.36 against 0.39 cycles per float with the data in L2 (the pack is bound
// by traffic between L1 and L2 more than by shuffles), and 124 -> 127 GFLOP/s on the weight-gradient product
// 64x288x12544 NT (1 thread, Intel VM), where packing B takes a fifth of the time.

public static partial class Gemm
{
    /// <summary>
    /// dst[p * dstStride + r] = src[r * ld + p] for r in 0..16, p &lt; kc. AVX-512 only; the depth left over after the
    /// last whole 16 goes through the 8-row path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackRowsTransposed16(float* src, int ld, int kc, float* dst, int dstStride)
    {
        int p = 0;
        for (; p + 16 <= kc; p += 16)
        {
            // Rows far apart (a whole K in a weight-gradient product): ask for each row's data 64 floats ahead.
            for (int r = 0; r < 16; r++) Sse.Prefetch0(src + (long)r * ld + p + 64);
            float* s = src + p;
            float* d = dst + (long)p * dstStride;
            // Column group b (depth p + 4b .. p + 4b + 3) of rows i, 4 + i, 8 + i, 12 + i in the lanes of one register.
            for (int b = 0; b < 4; b++)
            {
                float* sb = s + 4 * b;
                var x0 = Lanes(sb, ld, 0); var x1 = Lanes(sb, ld, 1); var x2 = Lanes(sb, ld, 2); var x3 = Lanes(sb, ld, 3);
                // In each lane, rows i = 0..3 by depth j = 0..3 becomes depth by row: register j is depth step 4b + j,
                // its lane a the rows 4a .. 4a + 3, i.e. the 16 output floats in order.
                var t0 = Avx512F.UnpackLow(x0, x1); var t1 = Avx512F.UnpackHigh(x0, x1);
                var t2 = Avx512F.UnpackLow(x2, x3); var t3 = Avx512F.UnpackHigh(x2, x3);
                float* db = d + (long)(4 * b) * dstStride;
                Vector512.Store(Avx512F.Shuffle(t0, t2, 0x44), db);
                Vector512.Store(Avx512F.Shuffle(t0, t2, 0xEE), db + dstStride);
                Vector512.Store(Avx512F.Shuffle(t1, t3, 0x44), db + 2L * dstStride);
                Vector512.Store(Avx512F.Shuffle(t1, t3, 0xEE), db + 3L * dstStride);
            }
        }
        if (p < kc)
        {
            PackRowsTransposed(src + p, ld, kc - p, dst + (long)p * dstStride, dstStride);
            PackRowsTransposed(src + 8L * ld + p, ld, kc - p, dst + (long)p * dstStride + 8, dstStride);
        }
    }

    /// <summary>Four floats of rows i, 4 + i, 8 + i and 12 + i (stride ld) from <paramref name="s"/>, one row per 128-bit lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<float> Lanes(float* s, int ld, int i)
    {
        var v = Vector128.Load(s + (long)i * ld).ToVector256Unsafe().ToVector512Unsafe();
        v = Avx512F.InsertVector128(v, Vector128.Load(s + (long)(4 + i) * ld), 1);
        v = Avx512F.InsertVector128(v, Vector128.Load(s + (long)(8 + i) * ld), 2);
        return Avx512F.InsertVector128(v, Vector128.Load(s + (long)(12 + i) * ld), 3);
    }
}
