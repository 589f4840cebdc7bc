using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

// Legend: C (M x N) = op(A) (M x K) * B (K x N), row-major; a cache line is 64 bytes = 16 floats.
// Shallow products (a 3x3 filter over one channel, unfolded: K = 9) do K multiply-adds per element of C, so storing C
// is their cost, not arithmetic. The register-tile path ran 32x50176x9 at the rate of a plain fill of C (its stores
// first read each line of C from memory: read for ownership). Here four rows of C at a time are written front to back
// in runs of 512 columns, and a C too large for the caches goes out through non-temporal stores, which skip that read
// (filling 6.4 MB on the Intel VM: 12 GB/s with plain stores, 21 GB/s non-temporal; 32x50176x9 on one thread: 56
// GFLOP/s through the register tiles, 55 here with plain stores, 76 non-temporal). B's rows for a block of columns
// (K x 512 floats, at most 32 KiB) stay in L1 while every row of C passes over them. x64 with AVX-512 only; other
// hardware keeps the register-tile path.

public static partial class Gemm
{
    /// <summary>Smallest C (in floats, 4 MiB) written with non-temporal stores: twice the 2 MiB L2 of the machines measured.</summary>
    /// <remarks>
    /// Only this path streams C. The register-tile path did too, for products with many rows, one depth block and a
    /// large C (a convolution's backward-input product, 288x12544x64), until its copy of B's rows pulled them into L1
    /// ahead; from then on plain stores, which keep C in L3 for its reader, measured 7% faster there (1 thread, Intel
    /// VM: 142-145 -> 152-159 GFLOP/s; 2 threads 285-293 -> 308-315) and no slower on any other benchmark product.
    /// </remarks>
    internal const long StreamMinFloats = 1L << 20;

    /// <summary>Deepest product the shallow path takes.</summary>
    internal const int ShallowMaxK = 16;

    /// <summary>Narrowest product the shallow path takes: rows long enough for runs of whole cache lines.</summary>
    internal const int ShallowMinN = 1024;

    private const int ShallowBlock = 512;

    private static bool UseShallow(in Job job) =>
        !job.TransposeB && job.K >= 1 && job.K <= ShallowMaxK && job.N >= ShallowMinN &&
        ForcedPath == GemmKernelPath.Auto && Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    private static unsafe void Shallow(in Job job)
    {
        // Non-temporal stores need 64-byte aligned addresses: every row of C must start at the same offset in its line.
        bool stream = !job.Accumulate && (long)job.M * job.N >= StreamMinFloats && job.Ldc % 16 == 0 && ((nuint)job.C & 3) == 0;
        int head = stream ? (int)(((64 - ((nuint)job.C & 63)) & 63) / sizeof(float)) : 0;
        int blocks = (job.N + ShallowBlock - 1) / ShallowBlock;
        int parts = Math.Min(Parallelism.Degree, blocks);
        if (parts <= 1 || Parallelism.InsideParallelRegion || (long)job.M * job.N * job.K < ParallelThreshold)
            ShallowColumns(in job, 0, job.N, head, stream);
        else
            ShallowParallel(job, blocks, parts, head, stream);
    }

    // Separate so the closure is only allocated when the product goes parallel.
    private static unsafe void ShallowParallel(Job job, int blocks, int parts, int head, bool stream) =>
        Parallelism.For(parts, part =>
        {
            // Part boundaries sit on whole blocks past the head, so they keep the cache-line alignment.
            int b0 = (int)((long)blocks * part / parts), b1 = (int)((long)blocks * (part + 1) / parts);
            int x0 = part == 0 ? 0 : Math.Min(job.N, head + b0 * ShallowBlock);
            int x1 = part == parts - 1 ? job.N : Math.Min(job.N, head + b1 * ShallowBlock);
            if (x1 > x0) ShallowColumns(in job, x0, x1, head, stream);
        });

    /// <summary>Columns [x0, x1) of C; columns before <paramref name="head"/> (ahead of the first cache line) with plain stores.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ShallowColumns(in Job j, int x0, int x1, int head, bool stream)
    {
        int k = j.K;
        float* coefficients = stackalloc float[4 * ShallowMaxK];
        for (int x = x0; x < x1;)
        {
            // The first block ends at the head, so every later block starts on a cache line of every row.
            int end = x < head ? Math.Min(head, x1) : Math.Min(x1, x + ShallowBlock);
            int i = 0;
            for (; i + 4 <= j.M; i += 4)
            {
                for (int r = 0; r < 4; r++)
                    for (int p = 0; p < k; p++) coefficients[r * ShallowMaxK + p] = j.TransposeA ? j.A[(long)p * j.Lda + i + r] : j.A[(long)(i + r) * j.Lda + p];
                ShallowFourRows(in j, i, x, end - x, coefficients, stream && x >= head);
            }
            for (; i < j.M; i++)
            {
                for (int p = 0; p < k; p++) coefficients[p] = j.TransposeA ? j.A[(long)p * j.Lda + i] : j.A[(long)i * j.Lda + p];
                float rowBias = j.RowBias != null ? j.RowBias[i] : 0f;
                ShallowRow(j.B + x, j.Ldb, k, coefficients, j.C + (long)i * j.Ldc + x, end - x,
                    j.Accumulate, j.RowBias != null, rowBias, j.ColumnBias != null ? j.ColumnBias + x : null, j.Relu, stream && x >= head);
            }
            x = end;
        }
        if (stream) Sse.StoreFence(); // non-temporal stores are weakly ordered: visible before the product counts as done
    }

    /// <summary>
    /// Rows i..i+3 of C, columns x..x+width: four rows share each load of B, and their 16 accumulators are independent
    /// chains (one row alone would wait on the multiply-add latency); the rest of the columns go row by row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ShallowFourRows(in Job j, int i, int x0, int width, float* a, bool stream)
    {
        // With K = 9 the epilogue costs as much as the multiply-adds: without C, biases or ReLU it is only the stores.
        bool plain = !j.Accumulate && j.RowBias == null && j.ColumnBias == null && !j.Relu;
        if (plain && stream) ShallowFourRows<StreamedStores>(in j, i, x0, width, a);
        else if (plain) ShallowFourRows<PlainStores>(in j, i, x0, width, a);
        else if (stream) ShallowFourRows<StreamedEpilogue>(in j, i, x0, width, a);
        else ShallowFourRows<FullEpilogue>(in j, i, x0, width, a);
    }

    private interface IShallowEpilogue
    {
        static abstract bool Plain { get; }
        static abstract bool Stream { get; }
    }

    private readonly struct PlainStores : IShallowEpilogue { public static bool Plain => true; public static bool Stream => false; }
    private readonly struct StreamedStores : IShallowEpilogue { public static bool Plain => true; public static bool Stream => true; }
    private readonly struct FullEpilogue : IShallowEpilogue { public static bool Plain => false; public static bool Stream => false; }
    private readonly struct StreamedEpilogue : IShallowEpilogue { public static bool Plain => false; public static bool Stream => true; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ShallowFourRows<TE>(in Job j, int i, int x0, int width, float* a) where TE : IShallowEpilogue
    {
        bool stream = TE.Stream;
        int k = j.K;
        float* b = j.B + x0;
        float* c0 = j.C + (long)i * j.Ldc + x0, c1 = c0 + j.Ldc, c2 = c1 + j.Ldc, c3 = c2 + j.Ldc;
        float* a0 = a, a1 = a + ShallowMaxK, a2 = a + 2 * ShallowMaxK, a3 = a + 3 * ShallowMaxK;
        bool acc = j.Accumulate, hasRowBias = j.RowBias != null, relu = j.Relu;
        float rb0 = hasRowBias ? j.RowBias[i] : 0f, rb1 = hasRowBias ? j.RowBias[i + 1] : 0f;
        float rb2 = hasRowBias ? j.RowBias[i + 2] : 0f, rb3 = hasRowBias ? j.RowBias[i + 3] : 0f;
        int x = 0;
        for (; x + 64 <= width; x += 64)
        {
            var zero = Vector512<float>.Zero;
            Vector512<float> s00 = zero, s01 = zero, s02 = zero, s03 = zero, s10 = zero, s11 = zero, s12 = zero, s13 = zero;
            Vector512<float> s20 = zero, s21 = zero, s22 = zero, s23 = zero, s30 = zero, s31 = zero, s32 = zero, s33 = zero;
            float* bp = b + x;
            for (int p = 0; p < k; p++, bp += j.Ldb)
            {
                var b0 = Vector512.Load(bp); var b1 = Vector512.Load(bp + 16); var b2 = Vector512.Load(bp + 32); var b3 = Vector512.Load(bp + 48);
                var av = Vector512.Create(a0[p]);
                s00 = Avx512F.FusedMultiplyAdd(av, b0, s00); s01 = Avx512F.FusedMultiplyAdd(av, b1, s01); s02 = Avx512F.FusedMultiplyAdd(av, b2, s02); s03 = Avx512F.FusedMultiplyAdd(av, b3, s03);
                av = Vector512.Create(a1[p]);
                s10 = Avx512F.FusedMultiplyAdd(av, b0, s10); s11 = Avx512F.FusedMultiplyAdd(av, b1, s11); s12 = Avx512F.FusedMultiplyAdd(av, b2, s12); s13 = Avx512F.FusedMultiplyAdd(av, b3, s13);
                av = Vector512.Create(a2[p]);
                s20 = Avx512F.FusedMultiplyAdd(av, b0, s20); s21 = Avx512F.FusedMultiplyAdd(av, b1, s21); s22 = Avx512F.FusedMultiplyAdd(av, b2, s22); s23 = Avx512F.FusedMultiplyAdd(av, b3, s23);
                av = Vector512.Create(a3[p]);
                s30 = Avx512F.FusedMultiplyAdd(av, b0, s30); s31 = Avx512F.FusedMultiplyAdd(av, b1, s31); s32 = Avx512F.FusedMultiplyAdd(av, b2, s32); s33 = Avx512F.FusedMultiplyAdd(av, b3, s33);
            }
            if (TE.Plain)
            {
                StoreFour<TE>(c0 + x, s00, s01, s02, s03); StoreFour<TE>(c1 + x, s10, s11, s12, s13);
                StoreFour<TE>(c2 + x, s20, s21, s22, s23); StoreFour<TE>(c3 + x, s30, s31, s32, s33);
                continue;
            }
            float* cb = j.ColumnBias != null ? j.ColumnBias + x0 + x : null;
            ShallowStoreFour(c0 + x, s00, s01, s02, s03, acc, hasRowBias, rb0, cb, relu, stream);
            ShallowStoreFour(c1 + x, s10, s11, s12, s13, acc, hasRowBias, rb1, cb, relu, stream);
            ShallowStoreFour(c2 + x, s20, s21, s22, s23, acc, hasRowBias, rb2, cb, relu, stream);
            ShallowStoreFour(c3 + x, s30, s31, s32, s33, acc, hasRowBias, rb3, cb, relu, stream);
        }
        if (x < width)
        {
            float* cb = j.ColumnBias != null ? j.ColumnBias + x0 + x : null;
            ShallowRow(b + x, j.Ldb, k, a0, c0 + x, width - x, acc, hasRowBias, rb0, cb, relu, stream);
            ShallowRow(b + x, j.Ldb, k, a1, c1 + x, width - x, acc, hasRowBias, rb1, cb, relu, stream);
            ShallowRow(b + x, j.Ldb, k, a2, c2 + x, width - x, acc, hasRowBias, rb2, cb, relu, stream);
            ShallowRow(b + x, j.Ldb, k, a3, c3 + x, width - x, acc, hasRowBias, rb3, cb, relu, stream);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreFour<TE>(float* c, Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, Vector512<float> s3)
        where TE : IShallowEpilogue
    {
        if (TE.Stream)
        {
            Avx512F.StoreAlignedNonTemporal(c, s0); Avx512F.StoreAlignedNonTemporal(c + 16, s1);
            Avx512F.StoreAlignedNonTemporal(c + 32, s2); Avx512F.StoreAlignedNonTemporal(c + 48, s3);
        }
        else
        {
            Vector512.Store(s0, c); Vector512.Store(s1, c + 16); Vector512.Store(s2, c + 32); Vector512.Store(s3, c + 48);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void ShallowStoreFour(float* c, Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, Vector512<float> s3,
        bool accumulate, bool hasRowBias, float rowBias, float* colBias, bool relu, bool stream)
    {
        ShallowStore(c, s0, accumulate, hasRowBias, rowBias, colBias, relu, stream);
        ShallowStore(c + 16, s1, accumulate, hasRowBias, rowBias, colBias != null ? colBias + 16 : null, relu, stream);
        ShallowStore(c + 32, s2, accumulate, hasRowBias, rowBias, colBias != null ? colBias + 32 : null, relu, stream);
        ShallowStore(c + 48, s3, accumulate, hasRowBias, rowBias, colBias != null ? colBias + 48 : null, relu, stream);
    }

    /// <summary>c[x] = (c[x] when accumulating) + Σ_p a[p]·b[p·ldb + x] (+ row bias, + column bias, ReLU) for x &lt; width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ShallowRow(float* b, int ldb, int k, float* a, float* c, int width,
        bool accumulate, bool hasRowBias, float rowBias, float* colBias, bool relu, bool stream)
    {
        int x = 0;
        // Four vectors per pass: one broadcast of a[p] feeds four multiply-adds, in the same order (p ascending, then
        // C, row bias, column bias, ReLU) as the register-tile kernels, so both paths give the same floats.
        for (; x + 64 <= width; x += 64)
        {
            var s0 = Vector512<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
            float* bp = b + x;
            for (int p = 0; p < k; p++, bp += ldb)
            {
                var av = Vector512.Create(a[p]);
                s0 = Avx512F.FusedMultiplyAdd(av, Vector512.Load(bp), s0);
                s1 = Avx512F.FusedMultiplyAdd(av, Vector512.Load(bp + 16), s1);
                s2 = Avx512F.FusedMultiplyAdd(av, Vector512.Load(bp + 32), s2);
                s3 = Avx512F.FusedMultiplyAdd(av, Vector512.Load(bp + 48), s3);
            }
            float* cx = c + x;
            float* cb = colBias != null ? colBias + x : null;
            ShallowStore(cx, s0, accumulate, hasRowBias, rowBias, cb, relu, stream);
            ShallowStore(cx + 16, s1, accumulate, hasRowBias, rowBias, cb != null ? cb + 16 : null, relu, stream);
            ShallowStore(cx + 32, s2, accumulate, hasRowBias, rowBias, cb != null ? cb + 32 : null, relu, stream);
            ShallowStore(cx + 48, s3, accumulate, hasRowBias, rowBias, cb != null ? cb + 48 : null, relu, stream);
        }
        for (; x + 16 <= width; x += 16)
        {
            var s = Vector512<float>.Zero;
            float* bp = b + x;
            for (int p = 0; p < k; p++, bp += ldb) s = Avx512F.FusedMultiplyAdd(Vector512.Create(a[p]), Vector512.Load(bp), s);
            ShallowStore(c + x, s, accumulate, hasRowBias, rowBias, colBias != null ? colBias + x : null, relu, stream);
        }
        for (; x < width; x++)
        {
            float s = 0f;
            for (int p = 0; p < k; p++) s = MathF.FusedMultiplyAdd(a[p], b[(long)p * ldb + x], s);
            if (accumulate) s += c[x];
            if (hasRowBias) s += rowBias;
            if (colBias != null) s += colBias[x];
            if (relu && s < 0) s = 0;
            c[x] = s;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void ShallowStore(float* c, Vector512<float> s, bool accumulate, bool hasRowBias, float rowBias, float* colBias, bool relu, bool stream)
    {
        if (accumulate) s = Avx512F.Add(s, Vector512.Load(c));
        if (hasRowBias) s = Avx512F.Add(s, Vector512.Create(rowBias));
        if (colBias != null) s = Avx512F.Add(s, Vector512.Load(colBias));
        if (relu) s = Avx512F.Max(Vector512<float>.Zero, s);
        if (stream) Avx512F.StoreAlignedNonTemporal(c, s);
        else Vector512.Store(s, c);
    }
}
