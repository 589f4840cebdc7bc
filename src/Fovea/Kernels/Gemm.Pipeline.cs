using System.Runtime.CompilerServices;

namespace Fovea.Kernels;

// Legend: C (M x N) = op(A) (M x K) * op(B) (K x N), row-major; MR x NR register tile; a panel is NR columns of B.
// Few rows (all of A in one packed block) and B as stored, K x N, far larger than the caches (an unfolded image):
// packing B in a pass of its own took a third of the time of 64x25088x288 on the Intel VM (3.2 of 9.3 ms), waiting
// on strided rows, and still a seventh (1.0 of 7.4 ms) with the rows prefetched. Here the packing runs under the
// multiply-adds instead, two steps ahead of use:
//   the rows of panel g + AheadPanels are prefetched into L2 while panel g is multiplied;
//   each register tile of panel g copies its share of panel g + 1's rows (from L2) into the other panel buffer.
// Fetching panel by panel, a few panels ahead, measured 3-4% faster on 64x12544x288 and 64x25088x288 (1 thread, Intel
// VM) than fetching the whole next 4-panel chunk while the current one is multiplied.

public static partial class Gemm
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void SerialFewRowsPipelined<TK>(in Job j, int kcMax, float* packA, float* packB, float* edge) where TK : IMicroKernel
    {
        int nr = TK.NR, panels = (j.N + nr - 1) / nr, tilesM = (j.M + TK.MR - 1) / TK.MR;
        // Two panel buffers: the one multiplied now and the one being filled (Serial sizes packB for at least two panels).
        float* current = packB, filling = packB + (long)kcMax * nr;
        // Per depth block, worked out once: which rows of the next panel each register tile copies, and which lines of
        // the panel AheadPanels on it prefetches (the same offsets for every whole panel: a panel is a whole number of
        // cache lines). Per tile they cost several integer divisions, a few percent of a 64-deep tile.
        bool tabled = tilesM <= MaxTabledTiles;
        int* rowBounds = stackalloc int[tabled ? tilesM + 1 : 0];
        long* shareOffsets = stackalloc long[tabled ? tilesM : 0];
        int* shareLineCounts = stackalloc int[tabled ? tilesM : 0];
        for (int pc = 0; pc < j.K; pc += kcMax)
        {
            int kc = Math.Min(kcMax, j.K - pc);
            float* aBlock = packA;
            if (j.PackedA != null) aBlock = j.PackedA + (long)pc * j.PackedAStride + (long)j.PackedARow * kc;
            else PackA<TK>(j.TransposeA, j.A, j.Lda, 0, pc, j.M, kc, packA);
            bool last = pc + kc == j.K;
            int flags = (pc > 0 || j.Accumulate ? LoadC : 0) | (last && j.Relu ? Relu : 0);
            float* rowBias = last ? j.RowBias : null;
            float* rows = j.B + (long)pc * j.Ldb;
            PackB<TK>(false, j.B, j.Ldb, pc, 0, kc, Math.Min(nr, j.N), current);
            long regularStride = 0;
            bool regularShares = tabled && nr % 16 == 0 && j.N >= nr;
            if (tabled)
            {
                for (int t = 0; t <= tilesM; t++) rowBounds[t] = (int)((long)kc * t / tilesM);
                Lookahead first = Lookahead.Strided(rows, kc, nr, j.Ldb);
                for (int t = 0; t < tilesM && regularShares; t++)
                    regularShares = first.TrySplit(t, tilesM, kc, TK.PrefetchLines, out shareOffsets[t], out shareLineCounts[t], out regularStride);
            }
            for (int g = 0; g < panels; g++)
            {
                int jr = g * nr, width = Math.Min(nr, j.N - jr);
                // The panel ahead is regular when it lies in this depth block and is whole (the ragged last one is not).
                bool aheadRegular = regularShares && (long)(g + AheadPanels + 1) * nr <= j.N;
                Lookahead ahead = aheadRegular ? default : UnpackedPanel(in j, pc, kc, kcMax, g + AheadPanels, nr);
                float* aheadStart = aheadRegular ? Lookahead.Strided(rows + (long)(g + AheadPanels) * nr, kc, nr, j.Ldb).Start : null;
                // Panel g + 1 is copied by this panel's tiles when it is whole; a ragged last panel is packed (zero-padded) below.
                bool nextWhole = g + 1 < panels && jr + 2 * nr <= j.N;
                float* cb = last && j.ColumnBias != null ? j.ColumnBias + jr : null;
                for (int t = 0; t < tilesM; t++)
                {
                    int ir = t * TK.MR, mr = Math.Min(TK.MR, j.M - ir);
                    float* ap = aBlock + (long)ir * kc;
                    float* cp = j.C + (long)ir * j.Ldc + jr;
                    float* rb = rowBias != null ? rowBias + ir : null;
                    bool full = mr == TK.MR && width == nr;
                    float* share;
                    int shareLines;
                    long shareStride;
                    if (aheadRegular && full)
                    {
                        share = aheadStart + shareOffsets[t]; shareLines = shareLineCounts[t]; shareStride = regularStride;
                    }
                    else if (aheadRegular)
                    {
                        share = Lookahead.Strided(rows + (long)(g + AheadPanels) * nr, kc, nr, j.Ldb).Share<TK>(t, tilesM, 0, out shareLines, out shareStride);
                    }
                    else share = ahead.Share<TK>(t, tilesM, full ? kc : 0, out shareLines, out shareStride);
                    int r0 = 0, r1 = 0;
                    if (nextWhole && tabled) { r0 = rowBounds[t]; r1 = rowBounds[t + 1]; }
                    else if (nextWhole) { r0 = (int)((long)kc * t / tilesM); r1 = (int)((long)kc * (t + 1) / tilesM); }
                    float* from = rows + jr + nr + (long)r0 * j.Ldb, to = filling + (long)r0 * nr;
                    int inLoop = 0;
                    if (full)
                    {
                        inLoop = Math.Min(r1 - r0, kc / TK.PrefetchLines);
                        // Every other tile reads the panel backwards, into the lines its predecessor left in L1 (only a
                        // panel larger than L1 gains; on shallower ones the backward walk measured 1-2% slower).
                        int order = (t & 1) != 0 && kc >= ReverseMinDepth ? ReverseDepth : 0;
                        TK.RunCopying(ap, current, kc, cp, j.Ldc, flags | order, rb, cb, share, shareLines, shareStride, from, j.Ldb, to, inLoop);
                    }
                    else
                    {
                        TK.RunEdge(ap, current, kc, edge, width);
                        MergeEdge(edge, nr, mr, width, cp, j.Ldc, flags, rb, cb);
                    }
                    for (int r = r0 + inLoop; r < r1; r++) CopyFloats(rows + jr + nr + (long)r * j.Ldb, filling + (long)r * nr, nr);
                }
                if (g + 1 < panels && !nextWhole) PackB<TK>(false, j.B, j.Ldb, pc, jr + nr, kc, j.N - jr - nr, filling);
                float* multiplied = current;
                current = filling;
                filling = multiplied;
            }
        }
    }

    /// <summary>How many panels ahead of the one multiplied SerialFewRowsPipelined prefetches B's rows (2 and 4 measured the same).</summary>
    private const int AheadPanels = 3;

    /// <summary>From this depth on, every other register tile of SerialFewRowsPipelined walks the depth backwards.</summary>
    private const int ReverseMinDepth = 192;

    /// <summary>Up to this many register tiles down M, SerialFewRowsPipelined tables its per-tile shares on the stack.</summary>
    private const int MaxTabledTiles = 64;

    /// <summary>
    /// The rows of unpacked B (stored K x N) that make panel <paramref name="panel"/> of depth block
    /// <paramref name="pc"/>, counting on into the next depth block past the last panel; none past the end.
    /// </summary>
    private static unsafe Lookahead UnpackedPanel(in Job j, int pc, int kc, int kcMax, int panel, int nr)
    {
        int panels = (j.N + nr - 1) / nr;
        if (panel >= panels)
        {
            if (pc + kc >= j.K) return default;
            panel -= panels;
            pc += kc;
            kc = Math.Min(kcMax, j.K - pc);
            if (panel >= panels) return default;
        }
        int jr = panel * nr;
        return Lookahead.Strided(j.B + (long)pc * j.Ldb + jr, kc, Math.Min(nr, j.N - jr), j.Ldb);
    }
}
