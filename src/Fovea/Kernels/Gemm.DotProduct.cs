using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Fovea.Kernels;

// C (M x N) (+)= A (M x K) · Bᵀ, B stored N x K, with N small and K long: every C value is a dot product of two
// rows that are contiguous along K. Packing for the register-tile kernels would spend more than it saves here
// (a 48-wide tile holding a handful of columns), so a 4 x 3 block of C accumulates twelve vector dot products
// that share their seven loads. Typical caller: the weight gradient of a convolution with few input channels
// (dW [K x C·R·S] += dY [K x P] · colsᵀ, with C·R·S = 9 for a grey 3x3 first layer), and a dense layer applied
// to one or two images (M small: y = x·Wᵀ reads each weight row once instead of packing the whole weight matrix).

public static partial class Gemm
{
    /// <summary>Use the dot-product path for A·Bᵀ when N (or M) is at most this and K at least <see cref="DotProductMinK"/>.</summary>
    internal const int DotProductMaxN = 12;
    internal const int DotProductMaxM = 3;
    internal const int DotProductMinK = 64;

    // Tests that force a micro-kernel path bypass this one; the Auto path takes it.
    private static bool UseDotProduct(in Job job) =>
        !job.TransposeA && job.TransposeB && (job.N <= DotProductMaxN || job.M <= DotProductMaxM) && job.K >= DotProductMinK &&
        ForcedPath == GemmKernelPath.Auto && Vector256.IsHardwareAccelerated;

    private static unsafe void DotProductNT(in Job job)
    {
        int m = job.M, n = job.N, k = job.K;
        int i = 0;
        for (; i + 4 <= m; i += 4)
        {
            int j = 0;
            for (; j + 3 <= n; j += 3) Tile4x3(job, i, j, k);
            for (; j < n; j++) for (int r = 0; r < 4; r++) Store(job, i + r, j, Dot(job.A + (long)(i + r) * job.Lda, job.B + (long)j * job.Ldb, k));
        }
        for (; i < m; i++)
        {
            // A single row against many columns (a dense layer on one image): four columns share each load of the row.
            int j = 0;
            for (; j + 4 <= n; j += 4) Tile1x4(job, i, j, k);
            for (; j < n; j++) Store(job, i, j, Dot(job.A + (long)i * job.Lda, job.B + (long)j * job.Ldb, k));
        }
    }

    private static unsafe void Tile1x4(in Job job, int i, int j, int k)
    {
        float* a = job.A + (long)i * job.Lda;
        float* b0 = job.B + (long)j * job.Ldb, b1 = b0 + job.Ldb, b2 = b1 + job.Ldb, b3 = b2 + job.Ldb;
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
        int p = 0;
        for (; p + 8 <= k; p += 8)
        {
            var va = Vector256.Load(a + p);
            c0 = Vector256.FusedMultiplyAdd(va, Vector256.Load(b0 + p), c0);
            c1 = Vector256.FusedMultiplyAdd(va, Vector256.Load(b1 + p), c1);
            c2 = Vector256.FusedMultiplyAdd(va, Vector256.Load(b2 + p), c2);
            c3 = Vector256.FusedMultiplyAdd(va, Vector256.Load(b3 + p), c3);
        }
        float s0 = Vector256.Sum(c0), s1 = Vector256.Sum(c1), s2 = Vector256.Sum(c2), s3 = Vector256.Sum(c3);
        for (; p < k; p++) { float x = a[p]; s0 += x * b0[p]; s1 += x * b1[p]; s2 += x * b2[p]; s3 += x * b3[p]; }
        Store(job, i, j, s0); Store(job, i, j + 1, s1); Store(job, i, j + 2, s2); Store(job, i, j + 3, s3);
    }

    private static unsafe void Tile4x3(in Job job, int i, int j, int k)
    {
        float* a0 = job.A + (long)i * job.Lda, a1 = a0 + job.Lda, a2 = a1 + job.Lda, a3 = a2 + job.Lda;
        float* b0 = job.B + (long)j * job.Ldb, b1 = b0 + job.Ldb, b2 = b1 + job.Ldb;
        Vector256<float> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default;
        Vector256<float> c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        int p = 0;
        for (; p + 8 <= k; p += 8)
        {
            var vb0 = Vector256.Load(b0 + p); var vb1 = Vector256.Load(b1 + p); var vb2 = Vector256.Load(b2 + p);
            var va = Vector256.Load(a0 + p);
            c00 = Vector256.FusedMultiplyAdd(va, vb0, c00); c01 = Vector256.FusedMultiplyAdd(va, vb1, c01); c02 = Vector256.FusedMultiplyAdd(va, vb2, c02);
            va = Vector256.Load(a1 + p);
            c10 = Vector256.FusedMultiplyAdd(va, vb0, c10); c11 = Vector256.FusedMultiplyAdd(va, vb1, c11); c12 = Vector256.FusedMultiplyAdd(va, vb2, c12);
            va = Vector256.Load(a2 + p);
            c20 = Vector256.FusedMultiplyAdd(va, vb0, c20); c21 = Vector256.FusedMultiplyAdd(va, vb1, c21); c22 = Vector256.FusedMultiplyAdd(va, vb2, c22);
            va = Vector256.Load(a3 + p);
            c30 = Vector256.FusedMultiplyAdd(va, vb0, c30); c31 = Vector256.FusedMultiplyAdd(va, vb1, c31); c32 = Vector256.FusedMultiplyAdd(va, vb2, c32);
        }
        float s00 = Vector256.Sum(c00), s01 = Vector256.Sum(c01), s02 = Vector256.Sum(c02);
        float s10 = Vector256.Sum(c10), s11 = Vector256.Sum(c11), s12 = Vector256.Sum(c12);
        float s20 = Vector256.Sum(c20), s21 = Vector256.Sum(c21), s22 = Vector256.Sum(c22);
        float s30 = Vector256.Sum(c30), s31 = Vector256.Sum(c31), s32 = Vector256.Sum(c32);
        for (; p < k; p++)
        {
            float x0 = b0[p], x1 = b1[p], x2 = b2[p];
            s00 += a0[p] * x0; s01 += a0[p] * x1; s02 += a0[p] * x2;
            s10 += a1[p] * x0; s11 += a1[p] * x1; s12 += a1[p] * x2;
            s20 += a2[p] * x0; s21 += a2[p] * x1; s22 += a2[p] * x2;
            s30 += a3[p] * x0; s31 += a3[p] * x1; s32 += a3[p] * x2;
        }
        Store(job, i, j, s00); Store(job, i, j + 1, s01); Store(job, i, j + 2, s02);
        Store(job, i + 1, j, s10); Store(job, i + 1, j + 1, s11); Store(job, i + 1, j + 2, s12);
        Store(job, i + 2, j, s20); Store(job, i + 2, j + 1, s21); Store(job, i + 2, j + 2, s22);
        Store(job, i + 3, j, s30); Store(job, i + 3, j + 1, s31); Store(job, i + 3, j + 2, s32);
    }

    private static unsafe float Dot(float* a, float* b, int k)
    {
        var acc = Vector256<float>.Zero;
        int p = 0;
        for (; p + 8 <= k; p += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + p), Vector256.Load(b + p), acc);
        float s = Vector256.Sum(acc);
        for (; p < k; p++) s += a[p] * b[p];
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store(in Job job, int i, int j, float value)
    {
        float* c = job.C + (long)i * job.Ldc + j;
        float v = job.Accumulate ? *c + value : value;
        if (job.RowBias != null) v += job.RowBias[i];
        if (job.ColumnBias != null) v += job.ColumnBias[j];
        if (job.Relu && v < 0f) v = 0f;
        *c = v;
    }
}
