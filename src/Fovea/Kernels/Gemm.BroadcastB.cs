using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

// Legend: C (M x N) = A (M x K) · Bᵀ, A stored M x K and B stored N x K: both operands run along K (a weight gradient,
// dW = dY · colsᵀ: M output channels, N = input channels x taps, K = batch x pixels).
// The register-tile kernels take vectors along N, so they need B transposed into panels: for 64x288x12544 that pack
// touched every element of the larger operand and took about a fifth of the time. Here the roles turn: Cᵀ = B · Aᵀ
// is computed, the vectors run along M (A's depth block, transposed once into a kc x 64 panel that stays in L1), and
// B's values are broadcast straight from its rows, read in place, each once. Cᵀ accumulates in a scratch block over
// the depth blocks and is transposed into C, with the epilogue, at the end.

public static partial class Gemm
{
    /// <summary>B rows per register tile: 6 rows x 4 vectors of 16 = 24 zmm accumulators.</summary>
    private const int BroadcastRows = 6;

    /// <summary>Columns of Cᵀ (rows of C) a tile covers: M is padded to this.</summary>
    private const int BroadcastWidth = 64;

    /// <summary>Depth block: the kc x 64 panel of Aᵀ (32 KiB at 128) stays in L1 while the tiles stream B (64x288x12544, 1 thread, Intel VM: kc = 64 155, 128 157, 192 144-152, 256 152, 384 152 GFLOP/s).</summary>
    internal const int BroadcastDepth = 128;

    /// <summary>
    /// Least K for the broadcast path: Cᵀ is transposed into C once at the end, and that must be paid for (64x288xK NT,
    /// 1 thread, Intel VM: K = 196 100 against 120 GFLOP/s packed, 256 about even, 384 116-122 against 105-113, 512 131 against 114).
    /// </summary>
    internal const int BroadcastMinDepth = 384;

    private static unsafe bool BroadcastsB<TK>(in Job j) where TK : IMicroKernel =>
        typeof(TK) == typeof(Avx512Kernel) && j.TransposeB && !j.TransposeA && j.PackedA == null && j.PackedB == null
        && j.M > 48 && j.M <= BroadcastWidth && j.N >= BroadcastRows && j.K >= BroadcastMinDepth;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void SerialBroadcastB(in Job j)
    {
        int kcMax = BalancedBlock(j.K, BroadcastDepth, 16);
        int tiles = (j.N + BroadcastRows - 1) / BroadcastRows;
        float* panel = PackBuffers.A(kcMax * BroadcastWidth);
        // Cᵀ, one row of 64 per column of C (rows past N belong to the ragged last tile), then that tile's B rows.
        float* product = PackBuffers.B(tiles * BroadcastRows * BroadcastWidth + BroadcastRows * kcMax);
        float* raggedRows = product + (long)tiles * BroadcastRows * BroadcastWidth;
        int wholeTiles = j.N / BroadcastRows;
        for (int pc = 0; pc < j.K; pc += kcMax)
        {
            int kc = Math.Min(kcMax, j.K - pc);
            PackGather(j.A + pc, j.Lda, j.M, BroadcastWidth, kc, panel);
            bool load = pc > 0;
            for (int t = 0; t < tiles; t++)
            {
                float* rows = j.B + (long)t * BroadcastRows * j.Ldb + pc;
                long ldb = j.Ldb;
                if (t >= wholeTiles)
                {
                    // The last rows, zero-padded to a whole tile (their products land in Cᵀ's padding rows).
                    int count = j.N - t * BroadcastRows;
                    for (int r = 0; r < BroadcastRows; r++)
                    {
                        if (r < count) CopyFloats(rows + r * ldb, raggedRows + (long)r * kc, kc);
                        else new Span<float>(raggedRows + (long)r * kc, kc).Clear();
                    }
                    rows = raggedRows; ldb = kc;
                }
                // The next whole tile's rows are pulled in while this one runs: the next block's first tile after the last.
                float* ahead = t + 1 < wholeTiles ? rows + BroadcastRows * ldb
                    : pc + kc < j.K && wholeTiles > 0 ? j.B + pc + kc : null;
                BroadcastTile(rows, ldb, panel, kc, product + (long)t * BroadcastRows * BroadcastWidth, load, ahead, j.Ldb);
            }
        }
        StoreTransposed(in j, product);
    }

    /// <summary>C = (Accumulate ? C : 0) + productᵀ + row bias + column bias, then ReLU (the order of the other paths' epilogue).</summary>
    private static unsafe void StoreTransposed(in Job j, float* product)
    {
        for (int i = 0; i < j.M; i++)
        {
            float* c = j.C + (long)i * j.Ldc;
            float* column = product + i;
            float rowBias = j.RowBias != null ? j.RowBias[i] : 0f;
            for (int x = 0; x < j.N; x++)
            {
                float v = column[(long)x * BroadcastWidth];
                if (j.Accumulate) v = c[x] + v;
                if (j.RowBias != null) v += rowBias;
                if (j.ColumnBias != null) v += j.ColumnBias[x];
                if (j.Relu && v < 0) v = 0;
                c[x] = v;
            }
        }
    }

    /// <summary>
    /// tile (6 x 64, row stride 64) (+)= B rows (6, <paramref name="ldb"/> apart, kc floats each) · panel (kc x 64).
    /// <paramref name="ahead"/> (or null): the first of 6 rows, <paramref name="aheadLdb"/> apart, prefetched into L1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void BroadcastTile(float* b, long ldb, float* panel, int kc, float* tile, bool load, float* ahead, long aheadLdb)
    {
        float* b1 = b + ldb, b2 = b1 + ldb, b3 = b2 + ldb, b4 = b3 + ldb, b5 = b4 + ldb;
        if (ahead == null) { ahead = b; aheadLdb = ldb; }
        var zero = Vector512<float>.Zero;
        var c00 = zero; var c01 = zero; var c02 = zero; var c03 = zero;
        var c10 = zero; var c11 = zero; var c12 = zero; var c13 = zero;
        var c20 = zero; var c21 = zero; var c22 = zero; var c23 = zero;
        var c30 = zero; var c31 = zero; var c32 = zero; var c33 = zero;
        var c40 = zero; var c41 = zero; var c42 = zero; var c43 = zero;
        var c50 = zero; var c51 = zero; var c52 = zero; var c53 = zero;
        Vector512<float> v0, v1, v2, v3, s;
        int p = 0;
        for (; p < kc; p++, panel += BroadcastWidth)
        {
            if ((p & 15) == 0)
            {
                // One line of each of the next tile's rows per 16 depth steps (one line of this tile's rows is used up).
                float* line = ahead + p;
                Sse.Prefetch0(line); Sse.Prefetch0(line + aheadLdb); Sse.Prefetch0(line + 2 * aheadLdb);
                Sse.Prefetch0(line + 3 * aheadLdb); Sse.Prefetch0(line + 4 * aheadLdb); Sse.Prefetch0(line + 5 * aheadLdb);
            }
            v0 = Vector512.Load(panel); v1 = Vector512.Load(panel + 16); v2 = Vector512.Load(panel + 32); v3 = Vector512.Load(panel + 48);
            s = Vector512.Create(b[p]); c00 = Avx512F.FusedMultiplyAdd(s, v0, c00); c01 = Avx512F.FusedMultiplyAdd(s, v1, c01); c02 = Avx512F.FusedMultiplyAdd(s, v2, c02); c03 = Avx512F.FusedMultiplyAdd(s, v3, c03);
            s = Vector512.Create(b1[p]); c10 = Avx512F.FusedMultiplyAdd(s, v0, c10); c11 = Avx512F.FusedMultiplyAdd(s, v1, c11); c12 = Avx512F.FusedMultiplyAdd(s, v2, c12); c13 = Avx512F.FusedMultiplyAdd(s, v3, c13);
            s = Vector512.Create(b2[p]); c20 = Avx512F.FusedMultiplyAdd(s, v0, c20); c21 = Avx512F.FusedMultiplyAdd(s, v1, c21); c22 = Avx512F.FusedMultiplyAdd(s, v2, c22); c23 = Avx512F.FusedMultiplyAdd(s, v3, c23);
            s = Vector512.Create(b3[p]); c30 = Avx512F.FusedMultiplyAdd(s, v0, c30); c31 = Avx512F.FusedMultiplyAdd(s, v1, c31); c32 = Avx512F.FusedMultiplyAdd(s, v2, c32); c33 = Avx512F.FusedMultiplyAdd(s, v3, c33);
            s = Vector512.Create(b4[p]); c40 = Avx512F.FusedMultiplyAdd(s, v0, c40); c41 = Avx512F.FusedMultiplyAdd(s, v1, c41); c42 = Avx512F.FusedMultiplyAdd(s, v2, c42); c43 = Avx512F.FusedMultiplyAdd(s, v3, c43);
            s = Vector512.Create(b5[p]); c50 = Avx512F.FusedMultiplyAdd(s, v0, c50); c51 = Avx512F.FusedMultiplyAdd(s, v1, c51); c52 = Avx512F.FusedMultiplyAdd(s, v2, c52); c53 = Avx512F.FusedMultiplyAdd(s, v3, c53);
        }
        StoreTileRow(tile, c00, c01, c02, c03, load);
        StoreTileRow(tile + BroadcastWidth, c10, c11, c12, c13, load);
        StoreTileRow(tile + 2 * BroadcastWidth, c20, c21, c22, c23, load);
        StoreTileRow(tile + 3 * BroadcastWidth, c30, c31, c32, c33, load);
        StoreTileRow(tile + 4 * BroadcastWidth, c40, c41, c42, c43, load);
        StoreTileRow(tile + 5 * BroadcastWidth, c50, c51, c52, c53, load);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreTileRow(float* row, Vector512<float> x0, Vector512<float> x1, Vector512<float> x2, Vector512<float> x3, bool load)
    {
        if (load)
        {
            x0 += Vector512.Load(row); x1 += Vector512.Load(row + 16); x2 += Vector512.Load(row + 32); x3 += Vector512.Load(row + 48);
        }
        Vector512.Store(x0, row); Vector512.Store(x1, row + 16); Vector512.Store(x2, row + 32); Vector512.Store(x3, row + 48);
    }
}
