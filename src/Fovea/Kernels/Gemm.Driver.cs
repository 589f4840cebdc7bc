using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

// The benchmark app selects micro-kernel paths through the internal switch, like the tests do.
[assembly: InternalsVisibleTo("Fovea.Benchmarks")]

namespace Fovea.Kernels;

// Legend: C (M x N) = op(A) (M x K) * op(B) (K x N), row-major.
// MR x NR is the register tile of a micro-kernel; KC, MC, NC are the cache blocks (Goto/BLIS loop order):
//   jc over N by NC  -> pack B block (KC x NC, lives in L3) into NR-wide micro-panels
//   pc over K by KC  -> (epilogue only on the last pc block)
//   ic over M by MC  -> pack A block (MC x KC, lives in L2) into MR-tall micro-panels
//   jr over NC by NR -> one B micro-panel stays in L1 while...
//   ir over MC by MR -> ...the micro-kernel streams A micro-panels past it.

/// <summary>Which micro-kernel the fast path uses. Internal: tests force each path explicitly.</summary>
internal enum GemmKernelPath
{
    /// <summary>Fastest supported path on this machine.</summary>
    Auto,
    /// <summary>Vector512 + AVX-512F.</summary>
    Avx512,
    /// <summary>Vector256 + FMA3.</summary>
    Avx2,
    /// <summary>Vector128 generic ops (the ARM64 AdvSimd path; software fallback elsewhere).</summary>
    Vector128,
    /// <summary>Plain scalar floats, for hardware without SIMD.</summary>
    Scalar,
}

/// <summary>A register-tile micro-kernel and the cache blocking that suits it.</summary>
internal unsafe interface IMicroKernel
{
    static abstract int MR { get; }
    static abstract int NR { get; }
    static abstract int KC { get; }
    static abstract int MC { get; }
    static abstract int NC { get; }

    /// <summary>Cache lines a kernel prefetches together, once per that many depth steps (see <see cref="Run"/>).</summary>
    static abstract int PrefetchLines { get; }

    /// <summary>
    /// Full MR x NR tile: C = (flags has LoadC ? C : 0) + Apanel·Bpanel, then + rowBias[r] + colBias[j] when non-null, then ReLU when flags has Relu.
    /// a: kc groups of MR floats, b: kc groups of NR floats. Along the way, the x64 kernels prefetch into L2 data the
    /// driver reads next: <paramref name="aheadLines"/> (at most kc) cache lines, in groups of <see cref="PrefetchLines"/>
    /// contiguous lines, group g at <paramref name="ahead"/> + g·<paramref name="aheadStride"/> floats.
    /// </summary>
    static abstract void Run(float* a, float* b, int kc, float* c, int ldc, int flags, float* rowBias, float* colBias, float* ahead, int aheadLines, long aheadStride);

    /// <summary>True when the kernel implements <see cref="RunCopying"/>.</summary>
    static virtual bool CopiesWhileRunning => false;

    /// <summary>
    /// <see cref="Run"/>, and under its multiply-adds a side job: copies <paramref name="copyRows"/> (at most
    /// kc / <see cref="PrefetchLines"/>) rows of NR floats from <paramref name="copyFrom"/> (row stride
    /// <paramref name="ldb"/>) to <paramref name="copyTo"/> (row stride NR): a share of packing the next B panel.
    /// The copy runs in the last passes of the depth loop, away from the prefetches of the first ones.
    /// </summary>
    static virtual void RunCopying(float* a, float* b, int kc, float* c, int ldc, int flags, float* rowBias, float* colBias,
        float* ahead, int aheadLines, long aheadStride, float* copyFrom, long ldb, float* copyTo, int copyRows)
        => throw new NotSupportedException("This micro-kernel does not copy while it runs.");

    /// <summary>True when the kernel implements <see cref="RunInPlace"/>.</summary>
    static virtual bool RunsInPlace => false;

    /// <summary>
    /// <see cref="Run"/> on B as stored: the panel's kc rows of NR floats are <paramref name="ldb"/> floats apart
    /// (row k at <paramref name="b"/> + k·ldb) instead of packed. The kernel pulls the rows of its next pass into L1 itself.
    /// </summary>
    static virtual void RunInPlace(float* a, float* b, long ldb, int kc, float* c, int ldc, int flags, float* rowBias, float* colBias,
        float* ahead, int aheadLines, long aheadStride)
        => throw new NotSupportedException("This micro-kernel does not read B in place.");

    /// <summary>True when the kernel implements <see cref="RunInPlaceNarrow"/>.</summary>
    static virtual bool RunsInPlaceNarrow => false;

    /// <summary>Most columns <see cref="RunInPlaceNarrow"/> takes in one call.</summary>
    static virtual int NarrowMaxColumns => 0;

    /// <summary>
    /// <see cref="RunInPlace"/> on a panel of <paramref name="width"/> (1 to <see cref="NarrowMaxColumns"/>) columns
    /// instead of NR, stored with the same epilogue; nothing past the panel's columns is read or written.
    /// </summary>
    static virtual void RunInPlaceNarrow(float* a, float* b, long ldb, int kc, float* c, int ldc, int flags, float* rowBias, float* colBias, int width)
        => throw new NotSupportedException("This micro-kernel does not read narrow panels in place.");

    /// <summary>
    /// Partial tile for the last, narrower column panel: at least the first <paramref name="nr"/> columns of
    /// Apanel·Bpanel into <paramref name="edge"/> (row stride NR), no epilogue. A kernel may skip the columns past nr.
    /// </summary>
    static abstract void RunEdge(float* a, float* b, int kc, float* edge, int nr);
}

public static partial class Gemm
{
    /// <summary>Micro-kernel flags: add into C; ReLU in the epilogue; run the depth loop backwards (same sums, other order).</summary>
    internal const int LoadC = 1, Relu = 2, ReverseDepth = 4;

    /// <summary>All arguments of one product, as pointers (so worker threads can share it).</summary>
    private unsafe struct Job
    {
        public bool TransposeA, TransposeB, Accumulate, Relu;
        public int M, N, K, Lda, Ldb, Ldc;
        public float* A, B, C, RowBias, ColumnBias;
        // Operands packed ahead of time (see Gemm.Prepacked.cs), or null. The block of depth offset pc starts at
        // Packed + pc * PackedStride; PackedARow / PackedBColumn is the first row of op(A) / column of op(B) this job uses.
        public float* PackedA, PackedB;
        public int PackedAStride, PackedBStride, PackedARow, PackedBColumn;
        // The packed B of the product the caller runs next on this thread, or null: its first chunk is prefetched
        // while this product's last chunk runs.
        public float* NextB;
        public int NextBStride, NextBDepth;
    }

    [ThreadStatic] private static GemmKernelPath t_forcedPath;

    /// <summary>Forces a micro-kernel on the calling thread (tests). The choice is read once per call and carried to worker threads.</summary>
    internal static GemmKernelPath ForcedPath { get => t_forcedPath; set => t_forcedPath = value; }

    /// <summary>Below this many multiply-adds a product stays on the calling thread: waking a worker costs more than it saves.</summary>
    internal const long ParallelThreshold = 1L << 22;

    /// <summary>True when the hardware can run the given path natively (Vector128/Scalar always run).</summary>
    internal static bool IsSupported(GemmKernelPath path) => path switch
    {
        GemmKernelPath.Avx512 => Avx512F.IsSupported && Fma.IsSupported,
        GemmKernelPath.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        _ => true,
    };

    private static readonly GemmKernelPath s_autoPath = ChooseAutoPath();

    private static GemmKernelPath ChooseAutoPath()
    {
        // Measured on a Zen 5 EPYC (full-width 512-bit FMA units): the AVX-512 kernel runs 1024^3 at ~1.6-1.9x the
        // AVX2 kernel's rate; on an Intel Xeon (family 6 model 207, two 512-bit FMA ports) at ~2x (120 against 60
        // GFLOP/s on one thread). On CPUs that split 512-bit ops in two (Zen 4) it would merely tie: still no loss.
        if (IsSupported(GemmKernelPath.Avx512)) return GemmKernelPath.Avx512;
        if (IsSupported(GemmKernelPath.Avx2)) return GemmKernelPath.Avx2;
        if (Vector128.IsHardwareAccelerated) return GemmKernelPath.Vector128;
        return GemmKernelPath.Scalar;
    }

    /// <summary>The path Auto resolves to on this machine.</summary>
    internal static GemmKernelPath AutoPath => s_autoPath;

    private static GemmKernelPath SelectKernel()
    {
        var forced = t_forcedPath;
        if (forced == GemmKernelPath.Auto) return s_autoPath;
        if (!IsSupported(forced)) throw new PlatformNotSupportedException($"GEMM kernel path {forced} is not supported on this CPU.");
        return forced;
    }

    private static unsafe void Execute(in Job job, GemmKernelPath path)
    {
        if (job.K == 0) { EpilogueOnly(in job); return; }
        switch (path)
        {
            case GemmKernelPath.Avx512: Split<Avx512Kernel>(in job); break;
            case GemmKernelPath.Avx2: Split<Avx2Kernel>(in job); break;
            case GemmKernelPath.Vector128: Split<Vector128Kernel>(in job); break;
            default: Split<ScalarKernel>(in job); break;
        }
    }

    /// <summary>k == 0: the product is zero, so C becomes (C or 0) + biases, then ReLU.</summary>
    private static unsafe void EpilogueOnly(in Job j)
    {
        for (int i = 0; i < j.M; i++)
        {
            float* row = j.C + (long)i * j.Ldc;
            float rb = j.RowBias != null ? j.RowBias[i] : 0f;
            for (int x = 0; x < j.N; x++)
            {
                float v = j.Accumulate ? row[x] : 0f;
                if (j.RowBias != null) v += rb;
                if (j.ColumnBias != null) v += j.ColumnBias[x];
                if (j.Relu && v < 0) v = 0;
                row[x] = v;
            }
        }
    }

    private static unsafe void Split<TK>(in Job job) where TK : IMicroKernel
    {
        int tilesM = (job.M + TK.MR - 1) / TK.MR, tilesN = (job.N + TK.NR - 1) / TK.NR;
        int degree = Parallelism.Degree;
        bool splitN = SplitOverN(job.M, job.N, job.K, tilesM * TK.MR, tilesN * TK.NR, TK.MR, TK.NR, degree);
        int parts = Math.Min(degree, splitN ? tilesN : tilesM);
        bool serial = Parallelism.InsideParallelRegion || (long)job.M * job.N * job.K < ParallelThreshold;
        if (!serial && degree > 1 && SplitOverDepth(in job, degree))
        {
            RunSplitDepth<TK>(job, degree);
            return;
        }
        if (parts <= 1 || serial)
        {
            Serial<TK>(in job);
            return;
        }
        RunParallel<TK>(job, splitN, splitN ? tilesN : tilesM, parts);
    }

    // Separate from Run so the closure (allocated at entry of the scope that declares captured locals) is only
    // created when the product really goes parallel; the serial path allocates nothing.
    private static unsafe void RunParallel<TK>(Job shared, bool splitN, int tiles, int parts) where TK : IMicroKernel
    {
        Parallelism.For(parts, part =>
        {
            int tile = splitN ? TK.NR : TK.MR;
            int t0 = (int)((long)tiles * part / parts), t1 = (int)((long)tiles * (part + 1) / parts);
            int start = t0 * tile, end = Math.Min(splitN ? shared.N : shared.M, t1 * tile);
            if (end <= start) return;
            // Whole register tiles apart: each part's rows still start on cache lines when the product's do.
            Job sub = splitN ? Columns(in shared, start, end - start) : Rows(in shared, start, end - start);
            Serial<TK>(in sub);
        });
    }

    /// <summary>
    /// Chooses the dimension to split between threads with a small cost model, in multiply-add units: the busiest
    /// part's share of the tiles (ragged splits leave a thread idle) plus re-packing the operand every part needs
    /// whole (A when N is split, B when M is split), weighted as a strided gather costs about 16 lane-FMAs.
    /// </summary>
    private static bool SplitOverN(int m, int n, int k, int mPadded, int nPadded, int mr, int nr, int parts)
    {
        const long PackCost = 16;
        long tilesM = mPadded / mr, tilesN = nPadded / nr;
        long busiestN = Math.Min(n, (tilesN + parts - 1) / parts * nr), busiestM = Math.Min(m, (tilesM + parts - 1) / parts * mr);
        long costN = busiestN * m * k + PackCost * m * k;
        long costM = busiestM * n * k + PackCost * n * k;
        return costN <= costM;
    }

    /// <summary>Splits extent into the fewest blocks of at most max, of near-equal size rounded up to a multiple of unit (avoids a thin last block).</summary>
    private static int BalancedBlock(int extent, int max, int unit)
    {
        int blocks = (extent + max - 1) / max;
        int size = (extent + blocks - 1) / blocks;
        return Math.Min(max, (size + unit - 1) / unit * unit);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Serial<TK>(in Job j) where TK : IMicroKernel
    {
        if (BroadcastsB<TK>(in j))
        {
            SerialBroadcastB(in j);
            return;
        }
        int kcMax = BalancedBlock(j.K, TK.KC, 1);
        int mcMax = BalancedBlock(j.M, TK.MC, TK.MR);
        int ncMax = BalancedBlock(j.N, TK.NC, TK.NR);
        // "Few rows": all of op(A) in one packed block. Also a shallow A with more than MC rows that is no bigger than an
        // MC x KC block: a convolution's backward-input product (288 x 12544 x 64) then packs B under the multiply-adds
        // too (1 thread, Intel VM: 139 -> 145 GFLOP/s).
        bool fewRows = j.M <= mcMax || j.PackedA != null || j.PackedB != null
            || (j.K <= kcMax && (long)j.M * kcMax <= (long)TK.MC * TK.KC);
        // With B packed ahead, SerialFewRows packs all of A per depth block, whatever M is.
        float* packA = PackBuffers.A((fewRows ? (j.M + TK.MR - 1) / TK.MR * TK.MR : mcMax) * kcMax);
        // At least two panels: SerialFewRowsPipelined fills one while it multiplies the other.
        float* packB = PackBuffers.B(Math.Max((ncMax + TK.NR - 1) / TK.NR, 2) * TK.NR * kcMax);
        float* edge = stackalloc float[TK.MR * TK.NR];

        if (fewRows)
        {
            SerialFewRows<TK>(in j, kcMax, packA, packB, edge);
            return;
        }

        for (int jc = 0; jc < j.N; jc += ncMax)
        {
            int nc = Math.Min(ncMax, j.N - jc);
            for (int pc = 0; pc < j.K; pc += kcMax)
            {
                int kc = Math.Min(kcMax, j.K - pc);
                PackB<TK>(j.TransposeB, j.B, j.Ldb, pc, jc, kc, nc, packB);
                bool last = pc + kc == j.K;
                int flags = (pc > 0 || j.Accumulate ? LoadC : 0) | (last && j.Relu ? Relu : 0);
                float* rowBias = last ? j.RowBias : null;
                float* colBias = last && j.ColumnBias != null ? j.ColumnBias + jc : null;
                for (int ic = 0; ic < j.M; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, j.M - ic);
                    PackA<TK>(j.TransposeA, j.A, j.Lda, ic, pc, mc, kc, packA);
                    Macro<TK>(packA, packB, mc, nc, kc, j.C + (long)ic * j.Ldc + jc, j.Ldc, flags,
                        rowBias != null ? rowBias + ic : null, colBias, edge, default);
                }
            }
        }
    }

    /// <summary>
    /// All of op(A) fits one packed A block (typical of convolutions: M = output channels). Then each packed B
    /// micro-panel is used by only M/MR kernels, so pack it just before use, while it is still in L1, instead of
    /// packing an NC-wide block that would have to come back from L3.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void SerialFewRows<TK>(in Job j, int kcMax, float* packA, float* packB, float* edge) where TK : IMicroKernel
    {
        if (ReadsBInPlace<TK>(in j, kcMax))
        {
            SerialFewRowsInPlace<TK>(in j, kcMax, packA, packB, edge);
            return;
        }
        // Shallow products (a 3x3 filter over one channel: K = 9) spend their time storing C; there a tile is too short
        // to hide a share of the packing, and the pipeline's bookkeeping per tile would only add to it.
        if (TK.CopiesWhileRunning && j.PackedB == null && !j.TransposeB && j.M >= TK.MR && j.K >= PipelineMinDepth)
        {
            SerialFewRowsPipelined<TK>(in j, kcMax, packA, packB, edge);
            return;
        }
        for (int pc = 0; pc < j.K; pc += kcMax)
        {
            int kc = Math.Min(kcMax, j.K - pc);
            float* aBlock = packA;
            if (j.PackedA != null) aBlock = j.PackedA + (long)pc * j.PackedAStride + (long)j.PackedARow * kc;
            else PackA<TK>(j.TransposeA, j.A, j.Lda, 0, pc, j.M, kc, packA);
            float* bBlock = j.PackedB != null ? j.PackedB + (long)pc * j.PackedBStride + (long)j.PackedBColumn * kc : null;
            bool last = pc + kc == j.K;
            int flags = (pc > 0 || j.Accumulate ? LoadC : 0) | (last && j.Relu ? Relu : 0);
            float* rowBias = last ? j.RowBias : null;
            // A few micro-panels at a time: longer contiguous reads of B's rows, still small enough for L2.
            int chunk = TK.NR * 4;
            for (int jr = 0; jr < j.N; jr += chunk)
            {
                int nr = Math.Min(chunk, j.N - jr);
                float* bPanels = packB;
                if (bBlock != null) bPanels = bBlock + (long)jr * kc;
                else PackB<TK>(j.TransposeB, j.B, j.Ldb, pc, jr, kc, nr, packB);
                // The chunk after this one is prefetched under this chunk's multiply-adds: packed-ahead B (weights) is read
                // once per call, from memory when it outgrows L2; unpacked B (an unfolded image) is read once too.
                Lookahead ahead = default;
                if (bBlock != null)
                {
                    if (jr + chunk < j.N) ahead = Lookahead.Contiguous(bPanels + (long)chunk * kc, (long)RoundUp(Math.Min(chunk, j.N - jr - chunk), TK.NR) * kc);
                    else if (!last)
                    {
                        int kcNext = Math.Min(kcMax, j.K - pc - kc);
                        ahead = Lookahead.Contiguous(j.PackedB + (long)(pc + kc) * j.PackedBStride + (long)j.PackedBColumn * kcNext,
                            (long)RoundUp(Math.Min(chunk, j.N), TK.NR) * kcNext);
                    }
                    else if (j.NextB != null)
                    {
                        ahead = Lookahead.Contiguous(j.NextB, (long)Math.Min(chunk, j.NextBStride) * BalancedBlock(j.NextBDepth, TK.KC, 1));
                    }
                }
                else ahead = NextUnpackedChunk(in j, pc, kc, kcMax, jr, chunk);
                Macro<TK>(aBlock, bPanels, j.M, nr, kc, j.C + jr, j.Ldc, flags, rowBias,
                    last && j.ColumnBias != null ? j.ColumnBias + jr : null, edge, in ahead);
            }
        }
    }

    /// <summary>Smallest K for which SerialFewRows packs B under the multiply-adds (<see cref="SerialFewRowsPipelined"/>).</summary>
    internal const int PipelineMinDepth = 64;

    private static int RoundUp(int value, int unit) => (value + unit - 1) / unit * unit;

    /// <summary>Where SerialFewRows reads unpacked op(B) next: the chunk after [jr, jr + chunk) of depth block pc, or none.</summary>
    private static unsafe Lookahead NextUnpackedChunk(in Job j, int pc, int kc, int kcMax, int jr, int chunk)
    {
        int nextJr = jr + chunk, nextPc = pc, nextKc = kc;
        if (nextJr >= j.N)
        {
            if (pc + kc >= j.K) return default;
            nextJr = 0; nextPc = pc + kc; nextKc = Math.Min(kcMax, j.K - nextPc);
        }
        int width = Math.Min(chunk, j.N - nextJr);
        // Stored K x N: kc rows of the chunk's width; stored N x K: one row of depth kc per column.
        return j.TransposeB
            ? Lookahead.Strided(j.B + (long)nextJr * j.Ldb + nextPc, width, nextKc, j.Ldb)
            : Lookahead.Strided(j.B + (long)nextPc * j.Ldb + nextJr, nextKc, width, j.Ldb);
    }

    /// <summary>
    /// All register tiles of one packed A block times one packed B block; <paramref name="ahead"/> is prefetched along
    /// the way, an equal share in each tile's depth loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Macro<TK>(float* packA, float* packB, int mc, int nc, int kc, float* c, int ldc,
        int flags, float* rowBias, float* colBias, float* edge, in Lookahead ahead) where TK : IMicroKernel
    {
        long tiles = (long)((nc + TK.NR - 1) / TK.NR) * ((mc + TK.MR - 1) / TK.MR), tile = 0;
        for (int jr = 0; jr < nc; jr += TK.NR)
        {
            int nr = Math.Min(TK.NR, nc - jr);
            float* bp = packB + (long)jr * kc;
            float* cb = colBias != null ? colBias + jr : null;
            for (int ir = 0; ir < mc; ir += TK.MR)
            {
                int mr = Math.Min(TK.MR, mc - ir);
                float* ap = packA + (long)ir * kc;
                float* cp = c + (long)ir * ldc + jr;
                float* rb = rowBias != null ? rowBias + ir : null;
                float* share = ahead.Share<TK>(tile++, tiles, mr == TK.MR && nr == TK.NR ? kc : 0, out int shareLines, out long shareStride);
                if (mr == TK.MR && nr == TK.NR)
                {
                    TK.Run(ap, bp, kc, cp, ldc, flags, rb, cb, share, shareLines, shareStride);
                }
                else
                {
                    // Partial tile: the packed panels are zero-padded, so compute a full tile aside and merge the valid part.
                    TK.RunEdge(ap, bp, kc, edge, nr);
                    MergeEdge(edge, TK.NR, mr, nr, cp, ldc, flags, rb, cb);
                }
            }
        }
    }

    /// <summary>Scalar tail: C[0..mr, 0..nr] = (C or 0) + tile, then biases and ReLU, in the same order as the full-tile store.</summary>
    private static unsafe void MergeEdge(float* tile, int tileStride, int mr, int nr, float* c, int ldc, int flags, float* rowBias, float* colBias)
    {
        bool load = (flags & LoadC) != 0, relu = (flags & Relu) != 0;
        for (int r = 0; r < mr; r++)
        {
            float* src = tile + r * tileStride;
            float* dst = c + (long)r * ldc;
            for (int x = 0; x < nr; x++)
            {
                float v = src[x];
                if (load) v += dst[x];
                if (rowBias != null) v += rowBias[r];
                if (colBias != null) v += colBias[x];
                if (relu && v < 0) v = 0;
                dst[x] = v;
            }
        }
    }

    /// <summary>Per-thread packing buffers: pinned, 64-byte aligned, grown on demand and then reused (no steady-state allocation).</summary>
    private static unsafe class PackBuffers
    {
        [ThreadStatic] private static float[]? t_a, t_b;

        public static float* A(int floats) => Get(ref t_a, floats);
        public static float* B(int floats) => Get(ref t_b, floats);

        private static float* Get(ref float[]? buffer, int floats)
        {
            const int AlignFloats = 16; // 64 bytes: one cache line / one Vector512
            if (buffer == null || buffer.Length < floats + AlignFloats)
                buffer = GC.AllocateUninitializedArray<float>(floats + AlignFloats, pinned: true);
            float* p = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
            return (float*)(((nuint)p + 63) & ~(nuint)63);
        }
    }
}
