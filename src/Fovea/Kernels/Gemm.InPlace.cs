using System.Runtime.CompilerServices;

namespace Fovea.Kernels;

// Legend: C (M x N) = op(A) (M x K) * op(B) (K x N), row-major; MR x NR register tile; a panel is NR columns of B.
// Few rows (M <= 64) and B as stored, K x N, deep and far larger than the caches (an unfolded image): the register
// tiles read each panel's rows where they are instead of a packed copy. Packing, even hidden under the multiply-adds
// (SerialFewRowsPipelined), costs loads and stores that reading in place does not: 64x12544x288 on one thread of the
// Intel VM ran at 155-162 GFLOP/s packed and 163-167 in place. With more rows per panel (M = 128) or a shallow one
// (K = 64), the packed panel is reused often enough to pay, and stays the faster.
// Each tile pulls the rows of its next pass into L1; the rows of the panel after this one are prefetched into L2
// while this one is multiplied, an equal share per tile spread over its depth loop.

public static partial class Gemm
{
    /// <summary>At most this many rows (8 register tiles) for B to be read in place.</summary>
    private const int InPlaceMaxRows = 64;

    /// <summary>At least this deep a block for B to be read in place (64x12544xK, 1 thread: K = 144 155 against 148 GFLOP/s packed).</summary>
    private const int InPlaceMinDepth = 128;

    /// <summary>Whether SerialFewRows reads this product's B in place (see <see cref="SerialFewRowsInPlace"/>).</summary>
    private static unsafe bool ReadsBInPlace<TK>(in Job j, int kcMax) where TK : IMicroKernel
    {
        if (!TK.RunsInPlace || j.PackedB != null || j.TransposeB || j.M < TK.MR || j.M > InPlaceMaxRows) return false;
        if (Math.Min(j.K, kcMax) < InPlaceMinDepth || j.Ldb % 16 != 0 || LeadColumns(j.B) + TK.NR > j.N) return false;
        // Rows a large power of two apart land in the same L2 sets: when more of the panel's rows share a set than half
        // its ways (the other half holds the panel ahead), they evict each other before the tiles after the first read
        // them. 64x25088x288 (rows 1568 lines apart) on 1 thread of the Intel VM (2048 sets, 16 ways): 142 GFLOP/s packed,
        // 160-162 in place; a 1 MiB, 16-way L2 would give each set position 9 of its 288 rows.
        int sets = CacheGeometry.Level2Sets;
        int step = (int)((j.Ldb / 16) % sets);
        int positions = sets / GreatestCommonDivisor(sets, step);
        long rowsPerSet = (kcMax + positions - 1) / positions;
        return rowsPerSet * 2 <= CacheGeometry.Level2Ways;
    }

    /// <summary>Columns before the first one whose rows start on a 64-byte line (the same in every row, as ldb is a multiple of 16).</summary>
    private static unsafe int LeadColumns(float* b) => ((nuint)b & 3) != 0 ? int.MaxValue / 2 : (int)((64 - ((nuint)b & 63)) & 63) / 4;

    private static int GreatestCommonDivisor(int a, int b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void SerialFewRowsInPlace<TK>(in Job j, int kcMax, float* packA, float* packB, float* edge) where TK : IMicroKernel
    {
        int nr = TK.NR, tilesM = (j.M + TK.MR - 1) / TK.MR;
        // Panels start where B's rows start a cache line, so no load of a panel row straddles two lines; the columns
        // before the first such start make a narrow panel of their own, like the ragged last one.
        int lead = LeadColumns(j.B);
        // Worked out once: the lines of the panel ahead each register tile prefetches, the same offsets for every whole
        // panel (its rows all start on a line). Per tile they cost several integer divisions.
        long* shareOffsets = stackalloc long[tilesM];
        int* shareLineCounts = stackalloc int[tilesM];
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
            long shareStride = 0;
            bool tabled = true;
            Lookahead first = Lookahead.Strided(rows + lead, kc, nr, j.Ldb);
            for (int t = 0; t < tilesM && tabled; t++)
                tabled = first.TrySplit(t, tilesM, kc, TK.PrefetchLines, out shareOffsets[t], out shareLineCounts[t], out shareStride);
            for (int jr = 0; jr < j.N; jr = jr < lead ? lead : jr + nr)
            {
                int width = jr < lead ? lead : Math.Min(nr, j.N - jr);
                // The panel after this one, when it is whole (the ragged last one is not prefetched).
                long aheadColumn = jr < lead ? lead : jr + nr;
                float* aheadStart = tabled && aheadColumn + nr <= j.N ? rows + aheadColumn : null;
                float* cb = last && j.ColumnBias != null ? j.ColumnBias + jr : null;
                bool packed = false;
                for (int t = 0; t < tilesM; t++)
                {
                    int ir = t * TK.MR, mr = Math.Min(TK.MR, j.M - ir);
                    float* ap = aBlock + (long)ir * kc;
                    float* cp = j.C + (long)ir * j.Ldc + jr;
                    float* rb = rowBias != null ? rowBias + ir : null;
                    if (mr == TK.MR && width == nr)
                    {
                        float* share = aheadStart != null ? aheadStart + shareOffsets[t] : null;
                        int shareLines = aheadStart != null ? shareLineCounts[t] : 0;
                        TK.RunInPlace(ap, rows + jr, j.Ldb, kc, cp, j.Ldc, flags, rb, cb, share, shareLines, shareStride);
                    }
                    else if (mr == TK.MR && TK.RunsInPlaceNarrow)
                    {
                        // A narrow panel (the lead or the ragged last one) read in place too, a few vectors per call.
                        for (int done = 0; done < width; done += TK.NarrowMaxColumns)
                            TK.RunInPlaceNarrow(ap, rows + jr + done, j.Ldb, kc, cp + done, j.Ldc, flags, rb, cb != null ? cb + done : null,
                                Math.Min(TK.NarrowMaxColumns, width - done));
                    }
                    else
                    {
                        // A narrow panel or a ragged tile: pack the panel once (zero-padded) and merge a full tile computed aside.
                        if (!packed) { PackB<TK>(false, j.B, j.Ldb, pc, jr, kc, width, packB); packed = true; }
                        TK.RunEdge(ap, packB, kc, edge, width);
                        MergeEdge(edge, nr, mr, width, cp, j.Ldc, flags, rb, cb);
                    }
                }
            }
        }
    }
}
