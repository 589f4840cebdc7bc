using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NeonArm64 = System.Runtime.Intrinsics.Arm.AdvSimd.Arm64;

namespace Fovea.Kernels;

// Legend: C (M x N) = op(A) (M x K) * op(B) (K x N), row-major; MR x NR register tile.
// Portable micro-kernels. Vector128 generic ops compile to AdvSimd on ARM64 (32 q registers: 16 accumulators +
// 2 B + 1 A fit) and to SSE elsewhere; MultiplyAddEstimate becomes a fused FMLA/VFMADD where the hardware has one.
// The scalar kernel is the last resort for hardware without SIMD.

/// <summary>Vector128 8x8 micro-kernel with fused epilogue.</summary>
internal readonly unsafe struct Vector128Kernel : IMicroKernel
{
    private const int MRows = 8, NCols = 8;
    public static int MR => MRows;
    public static int NR => NCols;
    public static int KC => 256;
    public static int MC => 128;
    public static int NC => 2048;
    public static int PrefetchLines => 1;

    /// <inheritdoc cref="IMicroKernel.RunEdge"/>
    public static void RunEdge(float* a, float* b, int kc, float* edge, int nr) => Run(a, b, kc, edge, NCols, 0, null, null, null, 0, 0);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(float* a, float* b, int kc, float* c, int ldc, int flags, float* rowBias, float* colBias, float* ahead, int aheadLines, long aheadStride)
    {
        var zero = Vector128<float>.Zero;
        var c00 = zero; var c01 = zero;
        var c10 = zero; var c11 = zero;
        var c20 = zero; var c21 = zero;
        var c30 = zero; var c31 = zero;
        var c40 = zero; var c41 = zero;
        var c50 = zero; var c51 = zero;
        var c60 = zero; var c61 = zero;
        var c70 = zero; var c71 = zero;
        for (int p = 0; p < kc; p++, a += MRows, b += NCols)
        {
            var b0 = Vector128.Load(b + 0); var b1 = Vector128.Load(b + 4);
            if (NeonArm64.IsSupported)
            {
                // ARM64: A's 8 values load as two vectors and each FMLA takes its row's lane, where the broadcast form
                // below spends a DUP per value: 16 instead of 24 vector instructions per step of k for the same
                // 16 multiply-adds, on cores whose vector pipes do both (Neoverse N1: two).
                var a0 = Vector128.Load(a + 0); var a1 = Vector128.Load(a + 4);
                c00 = NeonArm64.FusedMultiplyAddBySelectedScalar(c00, b0, a0, 0); c01 = NeonArm64.FusedMultiplyAddBySelectedScalar(c01, b1, a0, 0);
                c10 = NeonArm64.FusedMultiplyAddBySelectedScalar(c10, b0, a0, 1); c11 = NeonArm64.FusedMultiplyAddBySelectedScalar(c11, b1, a0, 1);
                c20 = NeonArm64.FusedMultiplyAddBySelectedScalar(c20, b0, a0, 2); c21 = NeonArm64.FusedMultiplyAddBySelectedScalar(c21, b1, a0, 2);
                c30 = NeonArm64.FusedMultiplyAddBySelectedScalar(c30, b0, a0, 3); c31 = NeonArm64.FusedMultiplyAddBySelectedScalar(c31, b1, a0, 3);
                c40 = NeonArm64.FusedMultiplyAddBySelectedScalar(c40, b0, a1, 0); c41 = NeonArm64.FusedMultiplyAddBySelectedScalar(c41, b1, a1, 0);
                c50 = NeonArm64.FusedMultiplyAddBySelectedScalar(c50, b0, a1, 1); c51 = NeonArm64.FusedMultiplyAddBySelectedScalar(c51, b1, a1, 1);
                c60 = NeonArm64.FusedMultiplyAddBySelectedScalar(c60, b0, a1, 2); c61 = NeonArm64.FusedMultiplyAddBySelectedScalar(c61, b1, a1, 2);
                c70 = NeonArm64.FusedMultiplyAddBySelectedScalar(c70, b0, a1, 3); c71 = NeonArm64.FusedMultiplyAddBySelectedScalar(c71, b1, a1, 3);
            }
            else
            {
                var av = Vector128.Create(a[0]);
                c00 = Vector128.MultiplyAddEstimate(b0, av, c00); c01 = Vector128.MultiplyAddEstimate(b1, av, c01);
                av = Vector128.Create(a[1]);
                c10 = Vector128.MultiplyAddEstimate(b0, av, c10); c11 = Vector128.MultiplyAddEstimate(b1, av, c11);
                av = Vector128.Create(a[2]);
                c20 = Vector128.MultiplyAddEstimate(b0, av, c20); c21 = Vector128.MultiplyAddEstimate(b1, av, c21);
                av = Vector128.Create(a[3]);
                c30 = Vector128.MultiplyAddEstimate(b0, av, c30); c31 = Vector128.MultiplyAddEstimate(b1, av, c31);
                av = Vector128.Create(a[4]);
                c40 = Vector128.MultiplyAddEstimate(b0, av, c40); c41 = Vector128.MultiplyAddEstimate(b1, av, c41);
                av = Vector128.Create(a[5]);
                c50 = Vector128.MultiplyAddEstimate(b0, av, c50); c51 = Vector128.MultiplyAddEstimate(b1, av, c51);
                av = Vector128.Create(a[6]);
                c60 = Vector128.MultiplyAddEstimate(b0, av, c60); c61 = Vector128.MultiplyAddEstimate(b1, av, c61);
                av = Vector128.Create(a[7]);
                c70 = Vector128.MultiplyAddEstimate(b0, av, c70); c71 = Vector128.MultiplyAddEstimate(b1, av, c71);
            }
        }
        StoreRow(c + 0L * ldc, c00, c01, flags, rowBias, 0, colBias);
        StoreRow(c + 1L * ldc, c10, c11, flags, rowBias, 1, colBias);
        StoreRow(c + 2L * ldc, c20, c21, flags, rowBias, 2, colBias);
        StoreRow(c + 3L * ldc, c30, c31, flags, rowBias, 3, colBias);
        StoreRow(c + 4L * ldc, c40, c41, flags, rowBias, 4, colBias);
        StoreRow(c + 5L * ldc, c50, c51, flags, rowBias, 5, colBias);
        StoreRow(c + 6L * ldc, c60, c61, flags, rowBias, 6, colBias);
        StoreRow(c + 7L * ldc, c70, c71, flags, rowBias, 7, colBias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector128<float> x0, Vector128<float> x1, int flags, float* rowBias, int r, float* colBias)
    {
        if ((flags & Gemm.LoadC) != 0) { x0 += Vector128.Load(c); x1 += Vector128.Load(c + 4); }
        if (rowBias != null) { var rb = Vector128.Create(rowBias[r]); x0 += rb; x1 += rb; }
        if (colBias != null) { x0 += Vector128.Load(colBias); x1 += Vector128.Load(colBias + 4); }
        if ((flags & Gemm.Relu) != 0)
        {
            // Select rather than Max: only values below zero change, so NaN and -0 match the reference.
            var z = Vector128<float>.Zero;
            x0 = Vector128.ConditionalSelect(Vector128.LessThan(x0, z), z, x0);
            x1 = Vector128.ConditionalSelect(Vector128.LessThan(x1, z), z, x1);
        }
        Vector128.Store(x0, c); Vector128.Store(x1, c + 4);
    }
}

/// <summary>Scalar 4x4 micro-kernel: correct everywhere, fast nowhere.</summary>
internal readonly unsafe struct ScalarKernel : IMicroKernel
{
    private const int MRows = 4, NCols = 4;
    public static int MR => MRows;
    public static int NR => NCols;
    public static int KC => 256;
    public static int MC => 64;
    public static int NC => 1024;
    public static int PrefetchLines => 1;

    /// <inheritdoc cref="IMicroKernel.RunEdge"/>
    public static void RunEdge(float* a, float* b, int kc, float* edge, int nr) => Run(a, b, kc, edge, NCols, 0, null, null, null, 0, 0);

    public static void Run(float* a, float* b, int kc, float* c, int ldc, int flags, float* rowBias, float* colBias, float* ahead, int aheadLines, long aheadStride)
    {
        float* acc = stackalloc float[MRows * NCols];
        for (int x = 0; x < MRows * NCols; x++) acc[x] = 0f;
        for (int p = 0; p < kc; p++, a += MRows, b += NCols)
        {
            for (int r = 0; r < MRows; r++)
            {
                float av = a[r];
                float* row = acc + r * NCols;
                row[0] += av * b[0]; row[1] += av * b[1]; row[2] += av * b[2]; row[3] += av * b[3];
            }
        }
        bool load = (flags & Gemm.LoadC) != 0, relu = (flags & Gemm.Relu) != 0;
        for (int r = 0; r < MRows; r++)
        {
            float* dst = c + (long)r * ldc;
            for (int x = 0; x < NCols; x++)
            {
                float v = acc[r * NCols + x];
                if (load) v += dst[x];
                if (rowBias != null) v += rowBias[r];
                if (colBias != null) v += colBias[x];
                if (relu && v < 0) v = 0;
                dst[x] = v;
            }
        }
    }
}
