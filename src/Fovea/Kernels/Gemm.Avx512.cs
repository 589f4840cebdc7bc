using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

// Legend: C (M x N) = op(A) (M x K) * op(B) (K x N), row-major; MR x NR register tile.
// AVX-512 micro-kernel: 8 x 48 tile = 24 zmm accumulators + 3 B vectors + 1 broadcast A = 28 of 32 zmm registers.
// MR = 8 divides the channel counts CNN layers use (32, 64, ...), so M rarely leaves a ragged tile.

/// <summary>Whether a register tile also copies rows of the next B panel into its packed buffer (see IMicroKernel.RunCopying).</summary>
internal interface ISideCopy
{
    static abstract bool Copies { get; }
}

internal readonly struct NoCopy : ISideCopy
{
    public static bool Copies => false;
}

internal readonly struct CopyRows : ISideCopy
{
    public static bool Copies => true;
}

/// <summary>Where a register tile reads B: a packed panel (rows NR floats apart) or the rows of B as stored (ldb apart).</summary>
internal interface IPanelSource
{
    static abstract bool InPlace { get; }
}

internal readonly struct PackedPanel : IPanelSource
{
    public static bool InPlace => false;
}

internal readonly struct RowsInPlace : IPanelSource
{
    public static bool InPlace => true;
}

/// <summary>AVX-512F 8x48 micro-kernel with fused epilogue.</summary>
internal readonly unsafe partial struct Avx512Kernel : IMicroKernel
{
    private const int MRows = 8, NCols = 48;
    public static int MR => MRows;
    public static int NR => NCols;
    // Measured (1024^3 and conv shapes, 1 thread): KC 128..512 are within noise for square products; KC = 320 keeps
    // the common conv depth K = 288 in one pass over C. A block MC x KC = 160 KiB sits in the 1 MiB L2, the
    // B block KC x NC = 6 MiB in L3. The B micro-panel (60 KiB) overflows L1, but it is read sequentially and the
    // hardware prefetcher keeps up with it.
    public static int KC => 320;
    public static int MC => 128;
    public static int NC => 4800;
    public static int PrefetchLines => 4;

    /// <summary>How many rows ahead of the one it copies a register tile prefetches the next panel's rows into L1 (6, 10 and 16 measured alike).</summary>
    private const int CopyLeadRows = 10;

    public static bool CopiesWhileRunning => true;

    public static void Run(float* a, float* b, int kc, float* c, int ldc, int flags, float* rowBias, float* colBias, float* ahead, int aheadLines, long aheadStride)
        => Tile<NoCopy, PackedPanel>(a, b, kc, c, ldc, flags, rowBias, colBias, ahead, aheadLines, aheadStride, null, 0, null, 0);

    public static bool RunsInPlace => true;

    public static void RunInPlace(float* a, float* b, long ldb, int kc, float* c, int ldc, int flags, float* rowBias, float* colBias, float* ahead, int aheadLines, long aheadStride)
        => Tile<NoCopy, RowsInPlace>(a, b, kc, c, ldc, flags, rowBias, colBias, ahead, aheadLines, aheadStride, null, ldb, null, 0);

    public static void RunCopying(float* a, float* b, int kc, float* c, int ldc, int flags, float* rowBias, float* colBias, float* ahead, int aheadLines, long aheadStride,
        float* copyFrom, long ldb, float* copyTo, int copyRows)
        => Tile<CopyRows, PackedPanel>(a, b, kc, c, ldc, flags, rowBias, colBias, ahead, aheadLines, aheadStride, copyFrom, ldb, copyTo, copyRows);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TCopy, TSource>(float* a, float* b, int kc, float* c, int ldc, int flags, float* rowBias, float* colBias, float* ahead, int aheadLines, long aheadStride,
        float* copyFrom, long ldb, float* copyTo, int copyRows) where TCopy : ISideCopy where TSource : IPanelSource
    {
        long bRow = TSource.InPlace ? ldb : NCols;
        // Pull the C tile in before the stores: its rows are far apart in memory and would otherwise miss there. In a deep
        // loop, one row per pass from its middle on (one every eighth pass over the whole of a copying tile): 32 lines asked for at its start held the line fill buffers that the first passes' loads wait for
        // (1 thread, Intel VM: 1024^3 150 -> 155 GFLOP/s, 128x3136x576 160 -> 166).
        bool cInLoop = kc >= 64;
        float* cRow = c;
        int cFirst = cInLoop ? (TCopy.Copies && kc >= 256 ? 16 : kc / 8 * 4) : int.MaxValue, cRowsLeft = cInLoop ? MRows : 0;
        int cMask = TCopy.Copies && kc >= 256 ? 31 : 0;
        if (!cInLoop)
        {
            for (int r = 0; r < MRows; r++)
            {
                float* row = c + (long)r * ldc;
                Sse.Prefetch0(row); Sse.Prefetch0(row + 16); Sse.Prefetch0(row + 32); Sse.Prefetch0(row + 47);
            }
        }
        var zero = Vector512<float>.Zero;
        var c00 = zero; var c01 = zero; var c02 = zero;
        var c10 = zero; var c11 = zero; var c12 = zero;
        var c20 = zero; var c21 = zero; var c22 = zero;
        var c30 = zero; var c31 = zero; var c32 = zero;
        var c40 = zero; var c41 = zero; var c42 = zero;
        var c50 = zero; var c51 = zero; var c52 = zero;
        var c60 = zero; var c61 = zero; var c62 = zero;
        var c70 = zero; var c71 = zero; var c72 = zero;
        // Four depth steps per pass with constant offsets and one pointer bump: the loop's own scalar work (increments,
        // compare, branch) shares ports with the FMAs, so doing it once per 96 FMAs instead of per 24 keeps them busier.
        Vector512<float> b0, b1, b2, av;
        int p = 0;
        // Prefetches go out in the first passes, the copy runs in the last ones. Both hold a line fill buffer until their
        // line arrives (from L3 and L2); when their bursts overlapped, the loads of the B panel queued for buffers
        // (64x12544x288 on 1 thread of the Intel VM: 131 GFLOP/s with both in the first passes, 153 with them apart).
        int copyFirst = TCopy.Copies ? (kc / 4 - copyRows) * 4 : 0;
        // ReverseDepth walks the depth from its end (whole passes only, so kc a multiple of 4): the B panel (kc x 48)
        // overflows L1, and a tile that reads it in the opposite order to the tile before starts on the lines that
        // tile left in L1 instead of on lines it evicted (1 thread, Intel VM: 64x12544x288 153-157 -> 160-166 GFLOP/s).
        // In place, the share is spread evenly over the depth loop: one group every pass, at a position computed without
        // a branch (group = pass * groups / passes, in 16.16 fixed point; a group is one row of the panel ahead). With no
        // share, the group is the current row, already in L1.
        int aheadGroups = TSource.InPlace ? aheadLines / 4 : 0;
        long aheadScale = TSource.InPlace ? ((long)aheadGroups << 16) / Math.Max(1, kc / 4) : 0;
        float* aheadBase = ahead != null && aheadGroups > 0 ? ahead : b;
        if (ahead == null || aheadGroups == 0) aheadStride = 0;
        long aStep = 4 * MRows, bStep = 4 * bRow;
        if ((flags & Gemm.ReverseDepth) != 0 && (kc & 3) == 0)
        {
            a += (long)(kc - 4) * MRows; b += (long)(kc - 4) * bRow; aStep = -aStep; bStep = -bStep;
        }
        for (; p + 4 <= kc; p += 4, a += aStep, b += bStep)
        {
            if (TSource.InPlace)
            {
                // The row's 3 lines of the panel ahead and the first line of the one after it (1 thread, Intel VM:
                // 64x12544x288 161 -> 165 GFLOP/s against the 3 lines alone; 2 or 3 panels ahead measured no better).
                float* group = aheadBase + ((p >> 2) * aheadScale >> 16) * aheadStride;
                Sse.Prefetch1(group); Sse.Prefetch1(group + 16); Sse.Prefetch1(group + 32); Sse.Prefetch1(group + 48);
            }
            else if (p < aheadLines)
            {
                // Up to 3 lines past the share: the driver's next data all the same.
                Sse.Prefetch1(ahead); Sse.Prefetch1(ahead + 16); Sse.Prefetch1(ahead + 32); Sse.Prefetch1(ahead + 48);
                ahead += aheadStride;
            }
            if (cRowsLeft > 0 && p >= cFirst && ((p - cFirst) & cMask) == 0)
            {
                Sse.Prefetch0(cRow); Sse.Prefetch0(cRow + 16); Sse.Prefetch0(cRow + 32); Sse.Prefetch0(cRow + 47);
                cRow += ldc; cRowsLeft--;
            }
            // One row of the next panel per pass, its loads hidden under the FMAs. The rows are in L2 (prefetched panels
            // ahead), yet a copy load that waits on L2 holds up retirement behind it, so each row is pulled on into L1
            // CopyLeadRows passes before its copy; the first rows of a tile were pulled by the tile before (1 thread,
            // Intel VM: 64x12544x288 149-153 -> 156-158 GFLOP/s, 64x25088x288 140-151 -> 152-155; starting CopyLeadRows
            // passes before the copy instead, over the last prefetches into L2, cost 64x12544x288 its gain).
            if (TCopy.Copies && p >= copyFirst)
            {
                float* lead = copyFrom + CopyLeadRows * ldb;
                Sse.Prefetch0(lead); Sse.Prefetch0(lead + 16); Sse.Prefetch0(lead + 32); Sse.Prefetch0(lead + 47);
                Vector512.Store(Vector512.Load(copyFrom), copyTo); Vector512.Store(Vector512.Load(copyFrom + 16), copyTo + 16);
                Vector512.Store(Vector512.Load(copyFrom + 32), copyTo + 32);
                copyFrom += ldb; copyTo += NCols;
            }
            // In place, each row of the next pass is pulled from L2 into L1 one step ahead of its own: the panel's rows
            // share few L1 sets (rows of an unfolded image lie a multiple of 1 KiB apart), so they rarely stay there.
            if (TSource.InPlace) PrefetchRow(b + bStep);
            b0 = Vector512.Load(b); b1 = Vector512.Load(b + 16); b2 = Vector512.Load(b + 32);
            av = Vector512.Create(a[0]); c00 = Avx512F.FusedMultiplyAdd(av, b0, c00); c01 = Avx512F.FusedMultiplyAdd(av, b1, c01); c02 = Avx512F.FusedMultiplyAdd(av, b2, c02);
            av = Vector512.Create(a[1]); c10 = Avx512F.FusedMultiplyAdd(av, b0, c10); c11 = Avx512F.FusedMultiplyAdd(av, b1, c11); c12 = Avx512F.FusedMultiplyAdd(av, b2, c12);
            av = Vector512.Create(a[2]); c20 = Avx512F.FusedMultiplyAdd(av, b0, c20); c21 = Avx512F.FusedMultiplyAdd(av, b1, c21); c22 = Avx512F.FusedMultiplyAdd(av, b2, c22);
            av = Vector512.Create(a[3]); c30 = Avx512F.FusedMultiplyAdd(av, b0, c30); c31 = Avx512F.FusedMultiplyAdd(av, b1, c31); c32 = Avx512F.FusedMultiplyAdd(av, b2, c32);
            av = Vector512.Create(a[4]); c40 = Avx512F.FusedMultiplyAdd(av, b0, c40); c41 = Avx512F.FusedMultiplyAdd(av, b1, c41); c42 = Avx512F.FusedMultiplyAdd(av, b2, c42);
            av = Vector512.Create(a[5]); c50 = Avx512F.FusedMultiplyAdd(av, b0, c50); c51 = Avx512F.FusedMultiplyAdd(av, b1, c51); c52 = Avx512F.FusedMultiplyAdd(av, b2, c52);
            av = Vector512.Create(a[6]); c60 = Avx512F.FusedMultiplyAdd(av, b0, c60); c61 = Avx512F.FusedMultiplyAdd(av, b1, c61); c62 = Avx512F.FusedMultiplyAdd(av, b2, c62);
            av = Vector512.Create(a[7]); c70 = Avx512F.FusedMultiplyAdd(av, b0, c70); c71 = Avx512F.FusedMultiplyAdd(av, b1, c71); c72 = Avx512F.FusedMultiplyAdd(av, b2, c72);
            // Rows 1-3 of the pass: constant offsets for a packed panel (bRow = NCols), ldb apart in place.
            if (TSource.InPlace) PrefetchRow(b + bRow + bStep);
            b0 = Vector512.Load(b + bRow); b1 = Vector512.Load(b + bRow + 16); b2 = Vector512.Load(b + bRow + 32);
            av = Vector512.Create(a[8]); c00 = Avx512F.FusedMultiplyAdd(av, b0, c00); c01 = Avx512F.FusedMultiplyAdd(av, b1, c01); c02 = Avx512F.FusedMultiplyAdd(av, b2, c02);
            av = Vector512.Create(a[9]); c10 = Avx512F.FusedMultiplyAdd(av, b0, c10); c11 = Avx512F.FusedMultiplyAdd(av, b1, c11); c12 = Avx512F.FusedMultiplyAdd(av, b2, c12);
            av = Vector512.Create(a[10]); c20 = Avx512F.FusedMultiplyAdd(av, b0, c20); c21 = Avx512F.FusedMultiplyAdd(av, b1, c21); c22 = Avx512F.FusedMultiplyAdd(av, b2, c22);
            av = Vector512.Create(a[11]); c30 = Avx512F.FusedMultiplyAdd(av, b0, c30); c31 = Avx512F.FusedMultiplyAdd(av, b1, c31); c32 = Avx512F.FusedMultiplyAdd(av, b2, c32);
            av = Vector512.Create(a[12]); c40 = Avx512F.FusedMultiplyAdd(av, b0, c40); c41 = Avx512F.FusedMultiplyAdd(av, b1, c41); c42 = Avx512F.FusedMultiplyAdd(av, b2, c42);
            av = Vector512.Create(a[13]); c50 = Avx512F.FusedMultiplyAdd(av, b0, c50); c51 = Avx512F.FusedMultiplyAdd(av, b1, c51); c52 = Avx512F.FusedMultiplyAdd(av, b2, c52);
            av = Vector512.Create(a[14]); c60 = Avx512F.FusedMultiplyAdd(av, b0, c60); c61 = Avx512F.FusedMultiplyAdd(av, b1, c61); c62 = Avx512F.FusedMultiplyAdd(av, b2, c62);
            av = Vector512.Create(a[15]); c70 = Avx512F.FusedMultiplyAdd(av, b0, c70); c71 = Avx512F.FusedMultiplyAdd(av, b1, c71); c72 = Avx512F.FusedMultiplyAdd(av, b2, c72);
            if (TSource.InPlace) PrefetchRow(b + 2 * bRow + bStep);
            b0 = Vector512.Load(b + 2 * bRow); b1 = Vector512.Load(b + 2 * bRow + 16); b2 = Vector512.Load(b + 2 * bRow + 32);
            av = Vector512.Create(a[16]); c00 = Avx512F.FusedMultiplyAdd(av, b0, c00); c01 = Avx512F.FusedMultiplyAdd(av, b1, c01); c02 = Avx512F.FusedMultiplyAdd(av, b2, c02);
            av = Vector512.Create(a[17]); c10 = Avx512F.FusedMultiplyAdd(av, b0, c10); c11 = Avx512F.FusedMultiplyAdd(av, b1, c11); c12 = Avx512F.FusedMultiplyAdd(av, b2, c12);
            av = Vector512.Create(a[18]); c20 = Avx512F.FusedMultiplyAdd(av, b0, c20); c21 = Avx512F.FusedMultiplyAdd(av, b1, c21); c22 = Avx512F.FusedMultiplyAdd(av, b2, c22);
            av = Vector512.Create(a[19]); c30 = Avx512F.FusedMultiplyAdd(av, b0, c30); c31 = Avx512F.FusedMultiplyAdd(av, b1, c31); c32 = Avx512F.FusedMultiplyAdd(av, b2, c32);
            av = Vector512.Create(a[20]); c40 = Avx512F.FusedMultiplyAdd(av, b0, c40); c41 = Avx512F.FusedMultiplyAdd(av, b1, c41); c42 = Avx512F.FusedMultiplyAdd(av, b2, c42);
            av = Vector512.Create(a[21]); c50 = Avx512F.FusedMultiplyAdd(av, b0, c50); c51 = Avx512F.FusedMultiplyAdd(av, b1, c51); c52 = Avx512F.FusedMultiplyAdd(av, b2, c52);
            av = Vector512.Create(a[22]); c60 = Avx512F.FusedMultiplyAdd(av, b0, c60); c61 = Avx512F.FusedMultiplyAdd(av, b1, c61); c62 = Avx512F.FusedMultiplyAdd(av, b2, c62);
            av = Vector512.Create(a[23]); c70 = Avx512F.FusedMultiplyAdd(av, b0, c70); c71 = Avx512F.FusedMultiplyAdd(av, b1, c71); c72 = Avx512F.FusedMultiplyAdd(av, b2, c72);
            if (TSource.InPlace) PrefetchRow(b + 3 * bRow + bStep);
            b0 = Vector512.Load(b + 3 * bRow); b1 = Vector512.Load(b + 3 * bRow + 16); b2 = Vector512.Load(b + 3 * bRow + 32);
            av = Vector512.Create(a[24]); c00 = Avx512F.FusedMultiplyAdd(av, b0, c00); c01 = Avx512F.FusedMultiplyAdd(av, b1, c01); c02 = Avx512F.FusedMultiplyAdd(av, b2, c02);
            av = Vector512.Create(a[25]); c10 = Avx512F.FusedMultiplyAdd(av, b0, c10); c11 = Avx512F.FusedMultiplyAdd(av, b1, c11); c12 = Avx512F.FusedMultiplyAdd(av, b2, c12);
            av = Vector512.Create(a[26]); c20 = Avx512F.FusedMultiplyAdd(av, b0, c20); c21 = Avx512F.FusedMultiplyAdd(av, b1, c21); c22 = Avx512F.FusedMultiplyAdd(av, b2, c22);
            av = Vector512.Create(a[27]); c30 = Avx512F.FusedMultiplyAdd(av, b0, c30); c31 = Avx512F.FusedMultiplyAdd(av, b1, c31); c32 = Avx512F.FusedMultiplyAdd(av, b2, c32);
            av = Vector512.Create(a[28]); c40 = Avx512F.FusedMultiplyAdd(av, b0, c40); c41 = Avx512F.FusedMultiplyAdd(av, b1, c41); c42 = Avx512F.FusedMultiplyAdd(av, b2, c42);
            av = Vector512.Create(a[29]); c50 = Avx512F.FusedMultiplyAdd(av, b0, c50); c51 = Avx512F.FusedMultiplyAdd(av, b1, c51); c52 = Avx512F.FusedMultiplyAdd(av, b2, c52);
            av = Vector512.Create(a[30]); c60 = Avx512F.FusedMultiplyAdd(av, b0, c60); c61 = Avx512F.FusedMultiplyAdd(av, b1, c61); c62 = Avx512F.FusedMultiplyAdd(av, b2, c62);
            av = Vector512.Create(a[31]); c70 = Avx512F.FusedMultiplyAdd(av, b0, c70); c71 = Avx512F.FusedMultiplyAdd(av, b1, c71); c72 = Avx512F.FusedMultiplyAdd(av, b2, c72);
        }
        for (; p < kc; p++, a += MRows, b += bRow)
        {
            b0 = Vector512.Load(b + 0); b1 = Vector512.Load(b + 16); b2 = Vector512.Load(b + 32);
            av = Vector512.Create(a[0]); c00 = Avx512F.FusedMultiplyAdd(av, b0, c00); c01 = Avx512F.FusedMultiplyAdd(av, b1, c01); c02 = Avx512F.FusedMultiplyAdd(av, b2, c02);
            av = Vector512.Create(a[1]); c10 = Avx512F.FusedMultiplyAdd(av, b0, c10); c11 = Avx512F.FusedMultiplyAdd(av, b1, c11); c12 = Avx512F.FusedMultiplyAdd(av, b2, c12);
            av = Vector512.Create(a[2]); c20 = Avx512F.FusedMultiplyAdd(av, b0, c20); c21 = Avx512F.FusedMultiplyAdd(av, b1, c21); c22 = Avx512F.FusedMultiplyAdd(av, b2, c22);
            av = Vector512.Create(a[3]); c30 = Avx512F.FusedMultiplyAdd(av, b0, c30); c31 = Avx512F.FusedMultiplyAdd(av, b1, c31); c32 = Avx512F.FusedMultiplyAdd(av, b2, c32);
            av = Vector512.Create(a[4]); c40 = Avx512F.FusedMultiplyAdd(av, b0, c40); c41 = Avx512F.FusedMultiplyAdd(av, b1, c41); c42 = Avx512F.FusedMultiplyAdd(av, b2, c42);
            av = Vector512.Create(a[5]); c50 = Avx512F.FusedMultiplyAdd(av, b0, c50); c51 = Avx512F.FusedMultiplyAdd(av, b1, c51); c52 = Avx512F.FusedMultiplyAdd(av, b2, c52);
            av = Vector512.Create(a[6]); c60 = Avx512F.FusedMultiplyAdd(av, b0, c60); c61 = Avx512F.FusedMultiplyAdd(av, b1, c61); c62 = Avx512F.FusedMultiplyAdd(av, b2, c62);
            av = Vector512.Create(a[7]); c70 = Avx512F.FusedMultiplyAdd(av, b0, c70); c71 = Avx512F.FusedMultiplyAdd(av, b1, c71); c72 = Avx512F.FusedMultiplyAdd(av, b2, c72);
        }
        StoreRow(c + 0L * ldc, c00, c01, c02, flags, rowBias, 0, colBias);
        StoreRow(c + 1L * ldc, c10, c11, c12, flags, rowBias, 1, colBias);
        StoreRow(c + 2L * ldc, c20, c21, c22, flags, rowBias, 2, colBias);
        StoreRow(c + 3L * ldc, c30, c31, c32, flags, rowBias, 3, colBias);
        StoreRow(c + 4L * ldc, c40, c41, c42, flags, rowBias, 4, colBias);
        StoreRow(c + 5L * ldc, c50, c51, c52, flags, rowBias, 5, colBias);
        StoreRow(c + 6L * ldc, c60, c61, c62, flags, rowBias, 6, colBias);
        StoreRow(c + 7L * ldc, c70, c71, c72, flags, rowBias, 7, colBias);
    }

    /// <summary>
    /// Last column panel of a product whose N is no multiple of 48 (a 14x14 map has N = 196 = 4·48 + 4): only the
    /// 16-column vectors that hold valid columns are computed, so such a panel costs a third or two thirds of a full one.
    /// Up to 32 columns, it is the in-place narrow tile (Gemm.Avx512.Narrow.cs) on the packed panel, rows NR apart.
    /// </summary>
    public static void RunEdge(float* a, float* b, int kc, float* edge, int nr)
    {
        if (nr > NarrowMaxColumns) Run(a, b, kc, edge, NCols, 0, null, null, null, 0, 0);
        else RunInPlaceNarrow(a, b, NCols, kc, edge, NCols, 0, null, null, nr);
    }

    /// <summary>Pulls one row of an in-place panel (48 floats on a 64-byte line: 3 cache lines) into L1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchRow(float* row)
    {
        Sse.Prefetch0(row); Sse.Prefetch0(row + 16); Sse.Prefetch0(row + 32);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector512<float> x0, Vector512<float> x1, Vector512<float> x2, int flags, float* rowBias, int r, float* colBias)
    {
        if ((flags & Gemm.LoadC) != 0)
        {
            x0 = Avx512F.Add(x0, Vector512.Load(c)); x1 = Avx512F.Add(x1, Vector512.Load(c + 16)); x2 = Avx512F.Add(x2, Vector512.Load(c + 32));
        }
        if (rowBias != null) { var rb = Vector512.Create(rowBias[r]); x0 = Avx512F.Add(x0, rb); x1 = Avx512F.Add(x1, rb); x2 = Avx512F.Add(x2, rb); }
        if (colBias != null)
        {
            x0 = Avx512F.Add(x0, Vector512.Load(colBias)); x1 = Avx512F.Add(x1, Vector512.Load(colBias + 16)); x2 = Avx512F.Add(x2, Vector512.Load(colBias + 32));
        }
        if ((flags & Gemm.Relu) != 0)
        {
            // max(0, x) keeps NaN and -0 exactly like the reference's "if (v < 0) v = 0".
            var z = Vector512<float>.Zero;
            x0 = Avx512F.Max(z, x0); x1 = Avx512F.Max(z, x1); x2 = Avx512F.Max(z, x2);
        }
        Vector512.Store(x0, c); Vector512.Store(x1, c + 16); Vector512.Store(x2, c + 32);
    }
}
