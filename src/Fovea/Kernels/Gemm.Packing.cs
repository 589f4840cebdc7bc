using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Fovea.Kernels;

// Legend: C (M x N) = op(A) (M x K) * op(B) (K x N), row-major.
// Packed A block: MC/MR micro-panels, each kc groups of MR floats (column p of the panel is contiguous).
// Packed B block: NC/NR micro-panels, each kc groups of NR floats (row p of the panel is contiguous).
// Transposes are absorbed here: the micro-kernels only ever see packed panels. Ragged panels are zero-padded
// so the kernels always run full tiles.

public static partial class Gemm
{
    /// <summary>Packs op(A)[ic..ic+mc, pc..pc+kc] into MR-tall micro-panels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackA<TK>(bool transposeA, float* a, int lda, int ic, int pc, int mc, int kc, float* dst)
        where TK : IMicroKernel
    {
        int mrFull = TK.MR;
        for (int ir = 0; ir < mc; ir += mrFull)
        {
            int mr = Math.Min(mrFull, mc - ir);
            float* d = dst + (long)ir * kc;
            if (transposeA)
            {
                // Stored K x M: each k step contributes MR contiguous floats.
                float* src = a + (long)pc * lda + ic + ir;
                for (int p = 0; p < kc; p++, src += lda, d += mrFull)
                {
                    int r = 0;
                    for (; r < mr; r++) d[r] = src[r];
                    for (; r < mrFull; r++) d[r] = 0f;
                }
            }
            else
            {
                // Stored M x K: row r of the panel is a contiguous source row.
                PackGather(a + (long)(ic + ir) * lda + pc, lda, mr, mrFull, kc, d);
            }
        }
    }

    /// <summary>Packs op(B)[pc..pc+kc, jc..jc+nc] into NR-wide micro-panels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackB<TK>(bool transposeB, float* b, int ldb, int pc, int jc, int kc, int nc, float* dst)
        where TK : IMicroKernel
    {
        int nrFull = TK.NR;
        for (int jr = 0; jr < nc; jr += nrFull)
        {
            int nr = Math.Min(nrFull, nc - jr);
            float* d = dst + (long)jr * kc;
            if (!transposeB)
            {
                // Stored K x N: each k step contributes NR contiguous floats.
                float* src = b + (long)pc * ldb + jc + jr;
                if (nr == nrFull)
                {
                    for (int p = 0; p < kc; p++, src += ldb, d += nrFull)
                    {
                        // Rows ldb apart (an unfolded image's rows are a whole map apart): fetch a few rows ahead.
                        if (System.Runtime.Intrinsics.X86.Sse.IsSupported && p + 4 < kc)
                        {
                            float* ahead = src + 4L * ldb;
                            System.Runtime.Intrinsics.X86.Sse.Prefetch0(ahead); System.Runtime.Intrinsics.X86.Sse.Prefetch0(ahead + nrFull - 1);
                        }
                        CopyFloats(src, d, nrFull);
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++, src += ldb, d += nrFull)
                    {
                        int x = 0;
                        for (; x < nr; x++) d[x] = src[x];
                        for (; x < nrFull; x++) d[x] = 0f;
                    }
                }
            }
            else
            {
                // Stored N x K: column x of the panel is a contiguous source row.
                PackGather(b + (long)(jc + jr) * ldb + pc, ldb, nr, nrFull, kc, d);
            }
        }
    }

    /// <summary>
    /// dst[p * width + x] = src[x * ld + p] for x &lt; count (zero for count &lt;= x &lt; width), p &lt; kc.
    /// Sixteen (AVX-512) or eight source rows at a time go through an in-register transpose; the rest are scattered one by one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackGather(float* src, int ld, int count, int width, int kc, float* dst)
    {
        int x = 0;
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        {
            for (; x + 16 <= count; x += 16) PackRowsTransposed16(src + (long)x * ld, ld, kc, dst + x, width);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; x + 8 <= count; x += 8) PackRowsTransposed(src + (long)x * ld, ld, kc, dst + x, width);
        }
        for (; x < width; x++)
        {
            float* dx = dst + x;
            if (x < count)
            {
                float* s = src + (long)x * ld;
                for (int p = 0; p < kc; p++) dx[p * width] = s[p];
            }
            else
            {
                for (int p = 0; p < kc; p++) dx[p * width] = 0f;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void CopyFloats(float* src, float* dst, int count)
    {
        int x = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; x + 16 <= count; x += 16) Vector512.Store(Vector512.Load(src + x), dst + x);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; x + 8 <= count; x += 8) Vector256.Store(Vector256.Load(src + x), dst + x);
        }
        for (; x + 4 <= count; x += 4) Vector128.Store(Vector128.Load(src + x), dst + x);
        for (; x < count; x++) dst[x] = src[x];
    }

    /// <summary>
    /// 8 source rows (stride ld), kc columns each, written transposed: dst[p * dstStride + r] = src[r * ld + p] for r in 0..8.
    /// Works 8 columns at a time through an in-register 8x8 transpose; the rest column by column.
    /// </summary>
    private static unsafe void PackRowsTransposed(float* src, int ld, int kc, float* dst, int dstStride)
    {
        float* s0 = src, s1 = src + ld, s2 = src + 2L * ld, s3 = src + 3L * ld;
        float* s4 = src + 4L * ld, s5 = src + 5L * ld, s6 = src + 6L * ld, s7 = src + 7L * ld;
        int p = 0;
        for (; p + 8 <= kc; p += 8)
        {
            // Eight rows far apart (a whole K apart in long-K products such as weight gradients) defeat the hardware
            // prefetcher: ask for each row's data 64 floats ahead.
            if (System.Runtime.Intrinsics.X86.Sse.IsSupported && (p & 15) == 0)
            {
                System.Runtime.Intrinsics.X86.Sse.Prefetch0(s0 + p + 64); System.Runtime.Intrinsics.X86.Sse.Prefetch0(s1 + p + 64);
                System.Runtime.Intrinsics.X86.Sse.Prefetch0(s2 + p + 64); System.Runtime.Intrinsics.X86.Sse.Prefetch0(s3 + p + 64);
                System.Runtime.Intrinsics.X86.Sse.Prefetch0(s4 + p + 64); System.Runtime.Intrinsics.X86.Sse.Prefetch0(s5 + p + 64);
                System.Runtime.Intrinsics.X86.Sse.Prefetch0(s6 + p + 64); System.Runtime.Intrinsics.X86.Sse.Prefetch0(s7 + p + 64);
            }
            Transpose8x8(Vector256.Load(s0 + p), Vector256.Load(s1 + p), Vector256.Load(s2 + p), Vector256.Load(s3 + p),
                Vector256.Load(s4 + p), Vector256.Load(s5 + p), Vector256.Load(s6 + p), Vector256.Load(s7 + p),
                dst + (long)p * dstStride, dstStride);
        }
        for (; p < kc; p++)
        {
            float* d = dst + (long)p * dstStride;
            d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p];
            d[4] = s4[p]; d[5] = s5[p]; d[6] = s6[p]; d[7] = s7[p];
        }
    }

    /// <summary>Rows r0..r7 in, columns out: column p goes to dst + p * stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Transpose8x8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, float* dst, int stride)
    {
        // Scalar gather through a small stack tile is portable; the x64 build replaces it with shuffles.
        if (System.Runtime.Intrinsics.X86.Avx.IsSupported)
        {
            TransposeAvx(r0, r1, r2, r3, r4, r5, r6, r7, dst, stride);
            return;
        }
        float* t = stackalloc float[64];
        Vector256.Store(r0, t); Vector256.Store(r1, t + 8); Vector256.Store(r2, t + 16); Vector256.Store(r3, t + 24);
        Vector256.Store(r4, t + 32); Vector256.Store(r5, t + 40); Vector256.Store(r6, t + 48); Vector256.Store(r7, t + 56);
        for (int p = 0; p < 8; p++)
            for (int r = 0; r < 8; r++) dst[p * stride + r] = t[r * 8 + p];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void TransposeAvx(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, float* dst, int stride)
    {
        // Classic three-stage transpose: interleave pairs, then 64-bit pairs, then swap 128-bit lanes.
        var t0 = System.Runtime.Intrinsics.X86.Avx.UnpackLow(r0, r1);
        var t1 = System.Runtime.Intrinsics.X86.Avx.UnpackHigh(r0, r1);
        var t2 = System.Runtime.Intrinsics.X86.Avx.UnpackLow(r2, r3);
        var t3 = System.Runtime.Intrinsics.X86.Avx.UnpackHigh(r2, r3);
        var t4 = System.Runtime.Intrinsics.X86.Avx.UnpackLow(r4, r5);
        var t5 = System.Runtime.Intrinsics.X86.Avx.UnpackHigh(r4, r5);
        var t6 = System.Runtime.Intrinsics.X86.Avx.UnpackLow(r6, r7);
        var t7 = System.Runtime.Intrinsics.X86.Avx.UnpackHigh(r6, r7);
        var u0 = System.Runtime.Intrinsics.X86.Avx.Shuffle(t0, t2, 0x44);
        var u1 = System.Runtime.Intrinsics.X86.Avx.Shuffle(t0, t2, 0xEE);
        var u2 = System.Runtime.Intrinsics.X86.Avx.Shuffle(t1, t3, 0x44);
        var u3 = System.Runtime.Intrinsics.X86.Avx.Shuffle(t1, t3, 0xEE);
        var u4 = System.Runtime.Intrinsics.X86.Avx.Shuffle(t4, t6, 0x44);
        var u5 = System.Runtime.Intrinsics.X86.Avx.Shuffle(t4, t6, 0xEE);
        var u6 = System.Runtime.Intrinsics.X86.Avx.Shuffle(t5, t7, 0x44);
        var u7 = System.Runtime.Intrinsics.X86.Avx.Shuffle(t5, t7, 0xEE);
        Vector256.Store(System.Runtime.Intrinsics.X86.Avx.Permute2x128(u0, u4, 0x20), dst);
        Vector256.Store(System.Runtime.Intrinsics.X86.Avx.Permute2x128(u1, u5, 0x20), dst + stride);
        Vector256.Store(System.Runtime.Intrinsics.X86.Avx.Permute2x128(u2, u6, 0x20), dst + 2L * stride);
        Vector256.Store(System.Runtime.Intrinsics.X86.Avx.Permute2x128(u3, u7, 0x20), dst + 3L * stride);
        Vector256.Store(System.Runtime.Intrinsics.X86.Avx.Permute2x128(u0, u4, 0x31), dst + 4L * stride);
        Vector256.Store(System.Runtime.Intrinsics.X86.Avx.Permute2x128(u1, u5, 0x31), dst + 5L * stride);
        Vector256.Store(System.Runtime.Intrinsics.X86.Avx.Permute2x128(u2, u6, 0x31), dst + 6L * stride);
        Vector256.Store(System.Runtime.Intrinsics.X86.Avx.Permute2x128(u3, u7, 0x31), dst + 7L * stride);
    }
}
