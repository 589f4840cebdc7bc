using Fovea.Kernels;

namespace Fovea.Tests.Kernels;

// Legend: C (M x N) = op(A) (M x K) * op(B) (K x N), row-major; lda/ldb/ldc are strides as stored.
// Every test compares Gemm.Multiply with Gemm.Reference under the bound
//   |fast - ref| <= 1e-5 * (sum_p |a_ip||b_pj| + |c0_ij| + |rowBias_i| + |colBias_j|) + 1e-6,
// i.e. a float-rounding allowance proportional to the magnitudes actually summed (K up to a few hundred).
[Collection(DegreeCollection.Name)]
public class GemmTests
{
    // Path names rather than the internal enum keep the theory signatures public.
    public static TheoryData<string> Paths()
    {
        var data = new TheoryData<string>();
        foreach (var p in Enum.GetValues<GemmKernelPath>())
            if (Gemm.IsSupported(p)) data.Add(p.ToString());
        return data;
    }

    // OffsetB: B's first float sits that many floats past the start of a 64-byte cache line (B lives in a pinned array,
    // so the offset holds for the whole product), which sets where each of its rows meets a line.
    private sealed record Case(bool TA, bool TB, int M, int N, int K, int PadA = 0, int PadB = 0, int PadC = 0,
        bool Accumulate = false, bool RowBias = false, bool ColumnBias = false, bool Relu = false, int OffsetB = 0);

    private static float[] Random(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    private static void Check(Case t, int seed = 1)
    {
        var rng = new Random(seed);
        int lda = (t.TA ? t.M : t.K) + t.PadA, ldb = (t.TB ? t.K : t.N) + t.PadB, ldc = t.N + t.PadC;
        var a = Random(rng, (t.TA ? t.K : t.M) * lda);
        int bLength = (t.TB ? t.N : t.K) * ldb;
        var bStore = GC.AllocateArray<float>(bLength + 32, pinned: true);
        int misaligned = (int)((System.Runtime.InteropServices.Marshal.UnsafeAddrOfPinnedArrayElement(bStore, 0) & 63) / sizeof(float));
        int bStart = (16 - misaligned) % 16 + t.OffsetB % 16;
        Random(rng, bLength).CopyTo(bStore, bStart);
        var b = bStore.AsSpan(bStart, bLength).ToArray();
        var c0 = Random(rng, t.M * ldc);
        var rb = t.RowBias ? Random(rng, t.M) : [];
        var cb = t.ColumnBias ? Random(rng, t.N) : [];
        var fast = (float[])c0.Clone();
        var slow = (float[])c0.Clone();
        Gemm.Multiply(t.TA, t.TB, t.M, t.N, t.K, a, lda, bStore.AsSpan(bStart, bLength), ldb, fast, ldc, t.Accumulate, rb, cb, t.Relu);
        Gemm.Reference(t.TA, t.TB, t.M, t.N, t.K, a, lda, b, ldb, slow, ldc, t.Accumulate, rb, cb, t.Relu);
        for (int i = 0; i < t.M; i++)
        {
            for (int j = 0; j < ldc; j++)
            {
                int at = i * ldc + j;
                if (j >= t.N)
                {
                    // Padding between rows of C must be untouched.
                    Assert.True(fast[at] == c0[at], $"{t}: padding C[{i},{j}] changed");
                    continue;
                }
                double mag = (t.Accumulate ? Math.Abs(c0[at]) : 0) + (t.RowBias ? Math.Abs(rb[i]) : 0) + (t.ColumnBias ? Math.Abs(cb[j]) : 0);
                for (int p = 0; p < t.K; p++)
                    mag += Math.Abs(t.TA ? a[p * lda + i] : a[i * lda + p]) * Math.Abs(t.TB ? b[j * ldb + p] : b[p * ldb + j]);
                double err = Math.Abs(fast[at] - slow[at]);
                if (!(err <= 1e-5 * mag + 1e-6))
                    Assert.Fail($"{t}: C[{i},{j}] fast={fast[at]} ref={slow[at]} err={err} bound={1e-5 * mag + 1e-6}");
            }
        }
    }

    private static void WithPath(GemmKernelPath path, Action<GemmKernelPath> body)
    {
        var saved = Gemm.ForcedPath;
        Gemm.ForcedPath = path;
        try { body(path); }
        finally { Gemm.ForcedPath = saved; }
    }

    private static IEnumerable<(bool, bool)> Transposes() => [(false, false), (false, true), (true, false), (true, true)];

    [Theory]
    [MemberData(nameof(Paths))]
    public void EveryTailShapeMatchesReference(string pathName) => WithPath(Enum.Parse<GemmKernelPath>(pathName), path =>
    {
        // All m, n in 1..40 cover every ragged edge of every register tile (largest NR is 48 -> also 1..40 partial).
        foreach (var (ta, tb) in Transposes())
            for (int m = 1; m <= 40; m++)
                for (int n = 1; n <= 40; n += (path == GemmKernelPath.Auto ? 1 : 3))
                    Check(new Case(ta, tb, m, n, 3), seed: m * 100 + n);
    });

    [Fact]
    public void WideTailsMatchReference()
    {
        // n beyond one AVX-512 tile (48) with every remainder, m beyond one AVX2 tile.
        foreach (var (ta, tb) in Transposes())
            for (int n = 41; n <= 100; n++)
                Check(new Case(ta, tb, 7, n, 9), seed: n);
    }

    private static IEnumerable<Case> Table()
    {
        foreach (var (ta, tb) in Transposes())
        {
            yield return new Case(ta, tb, 17, 33, 65);
            yield return new Case(ta, tb, 1, 70, 40);
            yield return new Case(ta, tb, 70, 1, 40);
            yield return new Case(ta, tb, 1, 1, 1);
            yield return new Case(ta, tb, 9, 13, 1);
            yield return new Case(ta, tb, 9, 13, 0);
            yield return new Case(ta, tb, 9, 13, 0, Accumulate: true, RowBias: true, ColumnBias: true, Relu: true);
            yield return new Case(ta, tb, 0, 13, 5);
            yield return new Case(ta, tb, 13, 0, 5);
            // Crosses the K block (KC <= 256): the epilogue must apply only once, after the last block.
            yield return new Case(ta, tb, 20, 50, 531, RowBias: true, ColumnBias: true, Relu: true);
            yield return new Case(ta, tb, 20, 50, 531, Accumulate: true);
            // Crosses the M block (MC <= 256).
            yield return new Case(ta, tb, 300, 19, 20, Accumulate: true, ColumnBias: true);
            // Strided storage.
            yield return new Case(ta, tb, 23, 37, 29, PadA: 3, PadB: 5, PadC: 7);
            yield return new Case(ta, tb, 23, 37, 29, PadA: 1, PadB: 2, PadC: 3, Accumulate: true, RowBias: true, Relu: true);
            foreach (bool acc in new[] { false, true })
            {
                yield return new Case(ta, tb, 31, 45, 17, Accumulate: acc, RowBias: true);
                yield return new Case(ta, tb, 31, 45, 17, Accumulate: acc, ColumnBias: true);
                yield return new Case(ta, tb, 31, 45, 17, Accumulate: acc, Relu: true);
                yield return new Case(ta, tb, 64, 96, 33, Accumulate: acc, RowBias: true, ColumnBias: true, Relu: true);
            }
        }
        // Few rows, B as stored and deep enough to be packed under the multiply-adds (Gemm.SerialFewRowsPipelined):
        // many panels and a ragged last panel, ragged row tiles, depth blocks, misaligned B rows,
        // fewer than two panels.
        yield return new Case(false, false, 64, 1000, 300, RowBias: true, ColumnBias: true, Relu: true);
        yield return new Case(false, false, 12, 200, 700, Accumulate: true, RowBias: true, ColumnBias: true, Relu: true);
        yield return new Case(false, false, 16, 150, 100, PadB: 3, PadC: 5);
        yield return new Case(false, false, 8, 40, 80);
        yield return new Case(false, false, 9, 60, Gemm.PipelineMinDepth, Accumulate: true);
        // Few rows, deep, B's row stride a multiple of 16 floats: B read in place (Gemm.SerialFewRowsInPlace), its panels
        // starting wherever the rows meet a cache line (every offset), with a narrow first panel, a ragged last panel,
        // ragged row tiles, depth blocks, every epilogue.
        for (int offset = 0; offset < 16; offset++)
            yield return new Case(false, false, 64, 496, 130, OffsetB: offset, RowBias: offset % 2 == 0, ColumnBias: offset % 3 == 0, Relu: offset % 4 == 0, Accumulate: offset % 5 == 0);
        yield return new Case(true, false, 60, 512, 200, Accumulate: true, RowBias: true, Relu: true);
        yield return new Case(false, false, 24, 448, 700, OffsetB: 5, ColumnBias: true);
        yield return new Case(false, false, 8, 64, 256, OffsetB: 3, RowBias: true);
        yield return new Case(false, false, 16, 40, 256, PadB: 8, PadC: 2);
        // In place with a last panel of two or one whole vectors (offset 0) or of 25 and 9 columns after a lead panel of 9
        // (offset 7), read in place by Avx512Kernel.RunInPlaceNarrow, beside a ragged row tile that still takes the packed
        // edge; every epilogue, two depth blocks. (The offsets above give lead panels of every width.)
        foreach (int offset in new[] { 0, 7 })
        {
            yield return new Case(false, false, 64, 224, 144, OffsetB: offset, RowBias: true, ColumnBias: true, Relu: true);
            yield return new Case(false, false, 60, 208, 400, OffsetB: offset, Accumulate: true, RowBias: true, ColumnBias: true, Relu: true);
        }
        // A·Bᵀ, 49 to 64 rows, deep (Gemm.SerialBroadcastB on AVX-512): B's rows broadcast in place, a ragged last tile of
        // rows (N not a multiple of 6), depth blocks with a ragged last one, padded rows of Cᵀ (M < 64), every epilogue,
        // strided storage.
        yield return new Case(false, true, 64, 288, 600, Accumulate: true, RowBias: true, ColumnBias: true, Relu: true);
        yield return new Case(false, true, 64, 100, 531, RowBias: true, ColumnBias: true, Relu: true);
        yield return new Case(false, true, 49, 7, 700, PadA: 3, PadB: 5, PadC: 2, Accumulate: true);
        yield return new Case(false, true, 57, 6, Gemm.BroadcastMinDepth, ColumnBias: true);
        yield return new Case(false, true, 64, 35, 1000, PadB: 1, RowBias: true, Relu: true);
        // More rows than an M block but shallow: all of A still packed once, B packed under the multiply-adds (as a
        // convolution's backward-input product), here with a few rows of the next panel per register tile.
        yield return new Case(true, false, 200, 150, 64, Accumulate: true, RowBias: true, ColumnBias: true, Relu: true);
        yield return new Case(false, false, 264, 100, 96, PadA: 2, PadB: 3, PadC: 1);
        // Long rows: few-rows path (all of A in one block) and, with M above MC, the regular path crossing NC (<= 4800).
        yield return new Case(false, false, 3, 5000, 4, RowBias: true);
        yield return new Case(false, true, 3, 5000, 4, ColumnBias: true);
        yield return new Case(true, false, 150, 4900, 3, Accumulate: true, ColumnBias: true, Relu: true);
        yield return new Case(false, true, 150, 4900, 3, RowBias: true);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ShapeTableMatchesReference(string pathName) => WithPath(Enum.Parse<GemmKernelPath>(pathName), path =>
    {
        int seed = 0;
        foreach (var t in Table()) Check(t, ++seed);
    });

    [Theory]
    [MemberData(nameof(Paths))]
    public void LargeProductIsTheSameOnOneAndTwoThreads(string pathName) => WithPath(Enum.Parse<GemmKernelPath>(pathName), path =>
    {
        int saved = Parallelism.Degree;
        try
        {
            foreach (var (ta, tb) in Transposes())
            {
                // N split and M split (both above Gemm.ParallelThreshold); 64 x 1200: B read in place by both threads.
                foreach (var (m, n) in new[] { (257, 300), (600, 60), (64, 1200) })
                {
                    const int k = 129;
                    var rng = new Random(m + n);
                    var a = Random(rng, m * k);
                    var b = Random(rng, k * n);
                    var bias = Random(rng, n);
                    var one = new float[m * n];
                    var two = new float[m * n];
                    Parallelism.Degree = 1;
                    Gemm.Multiply(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, one, n, columnBias: bias, relu: true);
                    Parallelism.Degree = 2;
                    Gemm.Multiply(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, two, n, columnBias: bias, relu: true);
                    // Same kernel and blocking per element on both paths: expect (near) identical results.
                    for (int x = 0; x < one.Length; x++)
                        Assert.True(Math.Abs(one[x] - two[x]) <= 1e-5f * (1 + Math.Abs(one[x])), $"{ta},{tb} {m}x{n}: element {x}: {one[x]} vs {two[x]}");
                    if (path == GemmKernelPath.Auto || path == GemmKernelPath.Avx2)
                    {
                        Parallelism.Degree = 2;
                        Check(new Case(ta, tb, m, n, k, Accumulate: true, RowBias: true), seed: m);
                    }
                }
            }
        }
        finally { Parallelism.Degree = saved; }
    });

    [Fact]
    public void SerialCallDoesNotAllocateInSteadyState()
    {
        // Below the parallel threshold, with the packing buffers already grown by the first call.
        var a = new float[64 * 288];
        var b = new float[288 * 196];
        var c = new float[64 * 196];
        var bias = new float[64];
        Gemm.Multiply(false, false, 64, 196, 288, a, 288, b, 196, c, 196, rowBias: bias, relu: true);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++) Gemm.Multiply(false, false, 64, 196, 288, a, 288, b, 196, c, 196, rowBias: bias, relu: true);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void DotProductPathForFewColumnsMatchesReference()
    {
        // A·Bᵀ with N ≤ 12 and K ≥ 64 takes the dot-product path (Auto only): every tile and tail, strides, epilogues.
        foreach (int m in new[] { 1, 3, 4, 5, 8, 9, 32 })
        foreach (int n in new[] { 1, 2, 3, 4, 7, 9, 12 })
        foreach (int k in new[] { 64, 71, 784 })
            Check(new Case(false, true, m, n, k, PadA: m % 2, PadB: n % 3, PadC: 1, Accumulate: (m + n) % 2 == 0,
                RowBias: n == 3, ColumnBias: m == 5, Relu: k == 71), seed: m * 100 + n);
        // Few rows against many columns (a dense layer on one image).
        foreach (int m in new[] { 1, 2, 3 })
        foreach (int n in new[] { 13, 64, 129 })
            Check(new Case(false, true, m, n, 3136 / (m + 1), PadA: 1, PadB: 2, ColumnBias: true, Relu: n == 13), seed: m + n);
    }

    [Fact]
    public void ShallowPathMatchesReference()
    {
        // K <= 16 with long rows takes the shallow path on AVX-512 (Auto only; elsewhere this checks the register tiles):
        // four-row groups and single leftover rows, column tails, both layouts of A, every epilogue, strided C.
        foreach (int m in new[] { 1, 5, 8 })
        foreach (int k in new[] { 1, 9, 16 })
            Check(new Case(m % 2 == 0, false, m, Gemm.ShallowMinN + 77, k, PadA: 1, PadB: k % 3, PadC: m == 5 ? 3 : 0,
                Accumulate: k == 9, RowBias: m == 5, ColumnBias: k == 16, Relu: m != 1), seed: m * 10 + k);
        // A C of over 4 MiB is streamed out with non-temporal stores from its first whole cache line on, on one thread
        // and split between two.
        int saved = Parallelism.Degree;
        try
        {
            foreach (int degree in new[] { 1, 2 })
            {
                Parallelism.Degree = degree;
                Check(new Case(false, false, 32, (int)(Gemm.StreamMinFloats / 32) + 1000, 9), seed: degree);
                Check(new Case(true, false, 33, (int)(Gemm.StreamMinFloats / 32) + 999, 4, RowBias: true, Relu: true), seed: degree + 2);
            }
        }
        finally { Parallelism.Degree = saved; }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void DepthSplitBetweenThreadsMatchesReference(string pathName) => WithPath(Enum.Parse<GemmKernelPath>(pathName), path =>
    {
        // Small C and long K (a weight gradient): two threads each take half of K into their own partial C; the sum and
        // then the epilogue (accumulated C, biases, ReLU) come after.
        int saved = Parallelism.Degree;
        try
        {
            Parallelism.Degree = 2;
            int seed = 0;
            foreach (var (ta, tb) in Transposes())
            {
                Check(new Case(ta, tb, 64, 72, 2 * Gemm.SplitDepthMinK + 37), ++seed);
                Check(new Case(ta, tb, 13, 50, 7 * Gemm.SplitDepthMinK + 1, PadA: 1, PadB: 2, PadC: 3,
                    Accumulate: true, RowBias: true, ColumnBias: true, Relu: true), ++seed);
            }
        }
        finally { Parallelism.Degree = saved; }
    });

    [Fact]
    public void LargeCWrittenOnceMatchesReference()
    {
        // C over 4 MiB, written once (one depth block, no accumulation), many rows: the AVX-512 register tiles stream it
        // out with non-temporal stores after a head of plain columns, on one thread and split between two.
        int saved = Parallelism.Degree;
        try
        {
            foreach (int degree in new[] { 1, 2 })
            {
                Parallelism.Degree = degree;
                // Row strides a multiple of 16 floats (every row starts at the same offset in its cache line), as streaming needs.
                Check(new Case(false, false, 160, 6560, 40, RowBias: true, Relu: true), seed: degree);
                Check(new Case(true, false, 300, 3504, 24, ColumnBias: true), seed: degree + 2);
                // Accumulating into C keeps plain stores.
                Check(new Case(false, true, 48, (int)(Gemm.StreamMinFloats / 48) + 7, 20, Accumulate: true), seed: degree + 4);
            }
        }
        finally { Parallelism.Degree = saved; }
    }

    [Fact]
    public void DenseOverloadMatchesReference()
    {
        var rng = new Random(5);
        var a = Random(rng, 12 * 7);
        var b = Random(rng, 7 * 9);
        var fast = new float[12 * 9];
        var slow = new float[12 * 9];
        Gemm.Multiply(true, true, 12, 9, 7, a, b, fast);
        Gemm.Reference(true, true, 12, 9, 7, a, 12, b, 7, slow, 9);
        for (int x = 0; x < fast.Length; x++) Assert.True(Math.Abs(fast[x] - slow[x]) <= 1e-5f, $"element {x}");
    }

    [Fact]
    public void ShortSpansAndBadDimensionsThrowNamingValues()
    {
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 4, 2, 3, new float[10], 3, new float[6], 2, new float[8], 2));
        Assert.Contains("Span a has 10 elements but m=4, k=3, lda=3 need 12.", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, true, 4, 2, 3, new float[12], 3, new float[5], 3, new float[8], 2));
        Assert.Contains("Span b has 5 elements but n=2, k=3, ldb=3 need 6.", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 4, 2, 3, new float[12], 3, new float[6], 2, new float[7], 2));
        Assert.Contains("Span c has 7 elements but m=4, n=2, ldc=2 need 8.", ex.Message);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(false, false, 4, -2, 3, new float[12], 3, new float[6], 2, new float[8], 2));
        Assert.Contains("n=-2", ex.Message);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(false, false, 4, 2, 3, new float[12], 2, new float[6], 2, new float[8], 2));
        Assert.Contains("lda=2", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 4, 2, 3, new float[12], 3, new float[6], 2, new float[8], 2, rowBias: new float[3]));
        Assert.Contains("rowBias has 3 elements but m=4", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 4, 2, 3, new float[12], 3, new float[6], 2, new float[8], 2, columnBias: new float[1]));
        Assert.Contains("columnBias has 1 elements but n=2", ex.Message);
    }
}
