using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Fovea.Kernels;

// Winograd F(4x4, 3x3) (Lavin & Gray 2016, interpolation points 0, ±1, ±2, ∞) for the large maps of 3x3 stride-1
// layers. Each 4x4 block of outputs comes from a 6x6 block of padded input:
//   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A, with
//   Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1],
//   G  = [¼ 0 0; -⅙ -⅙ -⅙; -⅙ ⅙ -⅙; 1/24 1/12 ⅙; 1/24 -1/12 ⅙; 0 0 1],
//   Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
// 36 positions per tile of 16 outputs: 36·K·C multiply-adds where F(2x2, 3x3) needs 64·K·C for the same outputs, and
// the transformed input holds 2.25 values per output pixel instead of 4. The price: filters 4x their size once
// transformed (so the small-map, many-filter layers keep F(2x2, 3x3)) and larger transform constants (rounding
// errors about 10x those of F(2x2, 3x3), still ~1e-6 relative in float). Layouts as in F(2x2, 3x3): V [36][C][T],
// M [36][K][T]; transforms run 8 tiles per vector, gathering the tiles' columns (stride 4) by two deinterleaving rounds.

public sealed unsafe partial class PackedConv2d
{
    private const int Positions4 = 36;

    // Measured on ResNet-18 in one process, models built both ways and timed in alternating rounds: F(4x4) on the 56x56
    // maps (196 tiles) took batch 1 from 20.05 to 18.76 ms per image on 1 thread and 11.13 to 10.42 on 2, batch 32 from
    // 8.79 to 8.16 on 2; also taking the 28x28 maps (49 tiles, products too narrow for the register tiles) lost it all.
    private const int MinTiles4 = 96;

    private void PrepareWinograd4(ReadOnlySpan<float> weight)
    {
        int k = _shape.OutChannels, c = _shape.InChannels;
        int tilesH = (_shape.OutHeight + 3) / 4, tilesW = (_shape.OutWidth + 3) / 4;
        var plan = new WinogradPlan
        {
            Size = 4, TilesH = tilesH, TilesW = tilesW, Tiles = tilesH * tilesW,
            // Rows 4·ti + 0..5 of every tile row; columns up to 4·tj + 33 of the last group of 8 tiles.
            PaddedH = 4 * tilesH + 2,
            PaddedW = Math.Max(4 * tilesW + 2, 4 * TileVector + 2),
        };
        // U_ξ[k][c] = (G g Gᵀ)[ξ] in double, then one packed operand per ξ.
        var u = new float[Positions4 * k * c];
        Span<double> gg = stackalloc double[18];
        Span<double> row = stackalloc double[6];
        for (int f = 0; f < k; f++)
        {
            for (int ch = 0; ch < c; ch++)
            {
                ReadOnlySpan<float> g = weight.Slice((f * c + ch) * 9, 9);
                for (int col = 0; col < 3; col++) // G·g: 6 rows x 3 columns
                {
                    FilterTransform(g[col], g[3 + col], g[6 + col], row);
                    for (int i = 0; i < 6; i++) gg[i * 3 + col] = row[i];
                }
                int at = f * c + ch;
                for (int i = 0; i < 6; i++) // (G·g)·Gᵀ
                {
                    FilterTransform(gg[i * 3], gg[i * 3 + 1], gg[i * 3 + 2], row);
                    for (int j = 0; j < 6; j++) u[(i * 6 + j) * k * c + at] = (float)row[j];
                }
            }
        }
        plan.Filters = new PackedMatrix[Positions4];
        for (int xi = 0; xi < Positions4; xi++) plan.Filters[xi] = Gemm.PackLeft(false, k, c, u.AsSpan(xi * k * c, k * c), c);
        _winograd = plan;
    }

    /// <summary>G applied to one column (or row) g0, g1, g2.</summary>
    private static void FilterTransform(double g0, double g1, double g2, Span<double> o)
    {
        o[0] = g0 / 4;
        o[1] = -(g0 + g1 + g2) / 6;
        o[2] = -(g0 - g1 + g2) / 6;
        o[3] = g0 / 24 + g1 / 12 + g2 / 6;
        o[4] = g0 / 24 - g1 / 12 + g2 / 6;
        o[5] = g2;
    }

    /// <summary>Image n through the three F(4x4, 3x3) phases, each split over threads by its own unit.</summary>
    private void Winograd4Image(Buffers io, int n, int parts)
    {
        var plan = _winograd!;
        int c = _shape.InChannels, k = _shape.OutChannels, t = plan.Tiles;
        nint v = (nint)Scratch(ref t_transformed, Positions4 * c * t);
        nint m = (nint)Scratch(ref t_products, Positions4 * k * t);
        RunParts(parts, c, (first, end) => { for (int ch = first; ch < end; ch++) TransformInput4(io, n, ch, (float*)v); });
        RunParts(parts, Positions4, (first, end) =>
        {
            for (int xi = first; xi < end; xi++) MultiplyPosition(xi, (float*)v, (float*)m, 0, t, xi + 1 < end ? xi + 1 : -1);
        });
        RunParts(parts, k, (first, end) => { for (int f = first; f < end; f++) TransformOutput4(io, n, f, (float*)m); });
    }

    /// <summary>V_ξ[ch][tile] = (Bᵀ d B)[ξ] for every tile of channel ch.</summary>
    private void TransformInput4(Buffers io, int n, int ch, float* v)
    {
        var plan = _winograd!;
        int h = _shape.InHeight, w = _shape.InWidth, pw = plan.PaddedW, ph = plan.PaddedH, tilesW = plan.TilesW, t = plan.Tiles;
        float* padded = Scratch(ref t_paddedPlane, ph * pw);
        float* src = (float*)io.Input + ((long)n * _shape.InChannels + ch) * h * w;
        new Span<float>(padded, ph * pw).Clear();
        for (int i = 0; i < ph; i++)
        {
            int y = i - _shape.PadTop;
            if ((uint)y >= (uint)h) continue;
            new ReadOnlySpan<float>(src + (long)y * w, Math.Min(w, pw - _shape.PadLeft)).CopyTo(new Span<float>(padded + i * pw + _shape.PadLeft, pw - _shape.PadLeft));
        }
        long stride = (long)_shape.InChannels * t; // between positions ξ in V
        float* dst = v + (long)ch * t;
        // d·B of the six input rows (6 x 6 vectors of 8 tiles), then Bᵀ across them; a short group goes through rest.
        Vector256<float>* rows = stackalloc Vector256<float>[Positions4];
        Vector256<float>* column = stackalloc Vector256<float>[6];
        float* rest = stackalloc float[Positions4 * TileVector];
        for (int ti = 0; ti < plan.TilesH; ti++)
        {
            for (int tj = 0; tj < tilesW; tj += TileVector)
            {
                if (tj + TileVector > tilesW && tilesW >= TileVector) tj = tilesW - TileVector; // overlap, as in F(2x2)
                float* p = padded + 4 * ti * pw + 4 * tj;
                for (int r = 0; r < 6; r++, p += pw)
                {
                    LoadTileColumns(p, out var c0, out var c1, out var c2, out var c3, out var c4, out var c5);
                    Transform6(c0, c1, c2, c3, c4, c5, rows + 6 * r);
                }
                int count = Math.Min(TileVector, tilesW - tj);
                float* at = count == TileVector ? dst + ti * tilesW + tj : rest;
                long step = count == TileVector ? stride : TileVector;
                for (int j = 0; j < 6; j++)
                {
                    Transform6(rows[j], rows[6 + j], rows[12 + j], rows[18 + j], rows[24 + j], rows[30 + j], column);
                    for (int i = 0; i < 6; i++) column[i].Store(at + (i * 6 + j) * step);
                }
                if (count < TileVector)
                {
                    float* target = dst + ti * tilesW + tj;
                    for (int xi = 0; xi < Positions4; xi++)
                        for (int i = 0; i < count; i++) target[xi * stride + i] = rest[xi * TileVector + i];
                }
            }
        }
    }

    /// <summary>Columns 0..5 of the 8 tiles whose first column is p[0], p[4], …, p[28] (reads p[0 .. 34)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadTileColumns(float* p, out Vector256<float> c0, out Vector256<float> c1, out Vector256<float> c2,
        out Vector256<float> c3, out Vector256<float> c4, out Vector256<float> c5)
    {
        // Two rounds of even/odd splits turn 32 floats into their four residues mod 4: columns 0..3 of the tiles.
        Lanes.Deinterleave(Vector256.Load(p), Vector256.Load(p + 8), out var e01, out var o01);
        Lanes.Deinterleave(Vector256.Load(p + 16), Vector256.Load(p + 24), out var e23, out var o23);
        Lanes.Deinterleave(e01, e23, out c0, out c2);
        Lanes.Deinterleave(o01, o23, out c1, out c3);
        // Columns 4 and 5 of tile i are columns 0 and 1 of tile i + 1.
        var next = Vector256.Create(1, 2, 3, 4, 5, 6, 7, 7);
        c4 = Vector256.Shuffle(c0, next).WithElement(7, p[32]);
        c5 = Vector256.Shuffle(c1, next).WithElement(7, p[33]);
    }

    /// <summary>Bᵀ applied to x0..x5 (one row or column of a tile, 8 tiles per vector) into o[0..6).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transform6(Vector256<float> x0, Vector256<float> x1, Vector256<float> x2, Vector256<float> x3,
        Vector256<float> x4, Vector256<float> x5, Vector256<float>* o)
    {
        Vector256<float> four = Vector256.Create(4f), five = Vector256.Create(5f), two = Vector256.Create(2f);
        o[0] = four * x0 - five * x2 + x4;
        o[1] = (x3 + x4) - four * (x1 + x2);
        o[2] = (x4 - x3) + four * (x1 - x2);
        o[3] = (x4 - x2) + two * (x3 - x1);
        o[4] = (x4 - x2) - two * (x3 - x1);
        o[5] = four * x1 - five * x3 + x5;
    }

    /// <summary>Aᵀ applied to m0..m5 into y0..y3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InverseTransform6(Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3,
        Vector256<float> m4, Vector256<float> m5, Vector256<float>* y)
    {
        Vector256<float> s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
        y[0] = m0 + s12 + s34;
        y[1] = d12 + Vector256.Create(2f) * d34;
        y[2] = s12 + Vector256.Create(4f) * s34;
        y[3] = d12 + Vector256.Create(8f) * d34 + m5;
    }

    /// <summary>Filter f's outputs from M [36][K][T]: Aᵀ M A per tile, 8 tiles per vector, plus bias, residual, ReLU.</summary>
    private void TransformOutput4(Buffers io, int n, int f, float* m)
    {
        var plan = _winograd!;
        int oh = _shape.OutHeight, ow = _shape.OutWidth, tilesW = plan.TilesW, t = plan.Tiles, k = _shape.OutChannels;
        long stride = (long)k * t;
        float* src = m + (long)f * t;
        OutputPlane(io, n, f, out float* y, out float* r);
        var bias = Vector256.Create(_bias[f]);
        Vector256<float>* half = stackalloc Vector256<float>[24]; // Aᵀ across each row's 6 columns: [6 rows][4]
        Vector256<float>* outs = stackalloc Vector256<float>[16];  // [4 output columns][4 output rows]
        float* gathered = stackalloc float[Positions4 * TileVector];
        float* tile = stackalloc float[4 * 4 * TileVector];
        for (int ti = 0; ti < plan.TilesH; ti++)
        {
            for (int tj = 0; tj < tilesW; tj += TileVector)
            {
                if (tj + TileVector > tilesW && tilesW >= TileVector) tj = tilesW - TileVector;
                int count = Math.Min(TileVector, tilesW - tj);
                float* at = src + ti * tilesW + tj;
                long step = stride;
                if (count < TileVector)
                {
                    // A short group (fewer than 8 tiles in all): its lanes copied, zero-padded, so no read runs past M.
                    for (int xi = 0; xi < Positions4; xi++)
                        for (int i = 0; i < TileVector; i++) gathered[xi * TileVector + i] = i < count ? at[xi * stride + i] : 0f;
                    at = gathered; step = TileVector;
                }
                for (int i = 0; i < 6; i++)
                {
                    float* q = at + i * 6 * step;
                    InverseTransform6(Vector256.Load(q), Vector256.Load(q + step), Vector256.Load(q + 2 * step),
                        Vector256.Load(q + 3 * step), Vector256.Load(q + 4 * step), Vector256.Load(q + 5 * step), half + 4 * i);
                }
                for (int col = 0; col < 4; col++)
                    InverseTransform6(half[col], half[4 + col], half[8 + col], half[12 + col], half[16 + col], half[20 + col], outs + 4 * col);
                int row0 = 4 * ti, col0 = 4 * tj;
                bool whole = count == TileVector && col0 + 4 * TileVector <= ow;
                for (int dy = 0; dy < 4; dy++)
                {
                    // outs[4·col + dy]: output row dy, column col of the 8 tiles; interleaved back into 32 pixels.
                    Vector256<float> a = outs[dy] + bias, b = outs[4 + dy] + bias, c = outs[8 + dy] + bias, d = outs[12 + dy] + bias;
                    Lanes.Interleave(a, c, out var ac0, out var ac1);
                    Lanes.Interleave(b, d, out var bd0, out var bd1);
                    Lanes.Interleave(ac0, bd0, out var p0, out var p1);
                    Lanes.Interleave(ac1, bd1, out var p2, out var p3);
                    int row = row0 + dy;
                    if (row >= oh) break;
                    if (whole)
                    {
                        long o = (long)row * ow + col0;
                        StoreOutputs(y + o, r == null ? null : r + o, p0, p1, io.Relu);
                        StoreOutputs(y + o + 16, r == null ? null : r + o + 16, p2, p3, io.Relu);
                        continue;
                    }
                    p0.Store(tile); p1.Store(tile + 8); p2.Store(tile + 16); p3.Store(tile + 24);
                    for (int x = 0; x < 4 * count; x++) WriteOne(y, r, row, col0 + x, oh, ow, tile[x], io.Relu);
                }
            }
        }
    }
}
