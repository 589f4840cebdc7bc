using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Fovea.Kernels;

// Winograd F(2x2, 3x3) for 3x3, stride-1 convolutions (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016). Each 2x2 block of outputs (a tile) comes from a 4x4 block of padded input:
//   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,  with (cross-correlation, as convolution layers compute)
//   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1],  Aᵀ = [1 1 1 0; 0 1 -1 -1].
// Summed over input channels, each of the 16 positions ξ of the 4x4 transform is one matrix product
//   M_ξ [K x T] = U_ξ [K x C] · V_ξ [C x T]     (T tiles),
// 16·K·C multiply-adds per tile of 4 outputs instead of 36·K·C: 2.25x fewer. The filters' U_ξ are transformed and
// packed once. Layouts: V [16][C][T] and, for few tiles, the transposed products M_ξᵀ [T x K] = V_ξᵀ · U_ξᵀ, stored
// [16][T][K]; otherwise M [16][K][T]. Transforms run 8 tiles (or 8 filters) per vector.

public sealed unsafe partial class PackedConv2d
{
    private const int Positions = 16, TileVector = 8;

    /// <summary>
    /// 3x3, stride 1, no dilation, one group, enough channels for the transforms to pay, and tiles that fill the
    /// products: at least two 48-wide register tiles of them, or few enough (with many filters) for the transposed
    /// products. Measured: the reference CNN's 32→64 layer on 14x14 (49 tiles, 64 filters) ran slower through Winograd.
    /// Also taken on 128-bit hardware (ARM64), where the 256-bit transforms run through .NET's software Vector256: with
    /// DOTNET_EnableAVX=0 on x64, ResNet-18 at batch 1 on 1 thread measured 127 ms through im2col + GEMM, 83 ms so.
    /// </summary>
    /// <remarks>Large maps take F(4x4, 3x3) (PackedConv2d.Winograd4.cs). Returns the output tile size, or 0 for no Winograd.</remarks>
    private static int WinogradTileSize(in Conv2dShape s)
    {
        if (!(s.Groups == 1 && s.KernelHeight == 3 && s.KernelWidth == 3 && s.StrideHeight == 1 && s.StrideWidth == 1 &&
              s.DilationHeight == 1 && s.DilationWidth == 1 && s.InChannels >= 16 && s.OutChannels >= 16))
            return 0;
        if ((s.OutHeight + 3) / 4 * ((s.OutWidth + 3) / 4) >= MinTiles4) return 4;
        int tiles = (s.OutHeight + 1) / 2 * ((s.OutWidth + 1) / 2);
        return tiles >= 96 || Conv2d.UseTransposedProduct(s.OutChannels, tiles) ? 2 : 0;
    }

    private sealed class WinogradPlan
    {
        public int Size = 2; // outputs per tile side: F(2x2, 3x3) or F(4x4, 3x3)
        public int TilesH, TilesW, Tiles, PaddedH, PaddedW;
        public bool Transposed;
        public PackedMatrix[] Filters = [];
    }

    private WinogradPlan? _winograd;

    private void PrepareWinograd(ReadOnlySpan<float> weight)
    {
        int k = _shape.OutChannels, c = _shape.InChannels;
        int tilesH = (_shape.OutHeight + 1) / 2, tilesW = (_shape.OutWidth + 1) / 2;
        var plan = new WinogradPlan
        {
            TilesH = tilesH, TilesW = tilesW, Tiles = tilesH * tilesW,
            PaddedH = 2 * tilesH + 2,
            // Room for the last vector group of 8 tiles: it reads columns up to 2·(start + 8) + 2.
            PaddedW = 16 * ((tilesW + TileVector - 1) / TileVector) + 2,
            Transposed = Conv2d.UseTransposedProduct(k, tilesH * tilesW),
        };
        // U_ξ[k][c] = (G g Gᵀ)[ξ] in double, then one packed operand per ξ.
        var u = new float[Positions * k * c];
        Span<double> gg = stackalloc double[12];
        for (int f = 0; f < k; f++)
        {
            for (int ch = 0; ch < c; ch++)
            {
                ReadOnlySpan<float> g = weight.Slice((f * c + ch) * 9, 9);
                for (int col = 0; col < 3; col++) // G·g: 4 rows x 3 columns
                {
                    double g0 = g[col], g1 = g[3 + col], g2 = g[6 + col];
                    gg[col] = g0; gg[3 + col] = 0.5 * (g0 + g1 + g2); gg[6 + col] = 0.5 * (g0 - g1 + g2); gg[9 + col] = g2;
                }
                for (int row = 0; row < 4; row++) // (G·g)·Gᵀ
                {
                    double a0 = gg[row * 3], a1 = gg[row * 3 + 1], a2 = gg[row * 3 + 2];
                    int at = f * c + ch;
                    u[(row * 4 + 0) * k * c + at] = (float)a0;
                    u[(row * 4 + 1) * k * c + at] = (float)(0.5 * (a0 + a1 + a2));
                    u[(row * 4 + 2) * k * c + at] = (float)(0.5 * (a0 - a1 + a2));
                    u[(row * 4 + 3) * k * c + at] = (float)a2;
                }
            }
        }
        plan.Filters = new PackedMatrix[Positions];
        for (int xi = 0; xi < Positions; xi++)
        {
            ReadOnlySpan<float> uXi = u.AsSpan(xi * k * c, k * c);
            plan.Filters[xi] = plan.Transposed ? Gemm.PackRight(true, c, k, uXi, c) : Gemm.PackLeft(false, k, c, uXi, c);
        }
        _winograd = plan;
    }

    [ThreadStatic] private static float[]? t_transformed, t_products, t_paddedPlane;

    /// <summary>Image n through the three Winograd phases, split over <paramref name="parts"/> threads.</summary>
    private void WinogradImage(Buffers io, int n, int parts)
    {
        var plan = _winograd!;
        if (plan.Size == 4) { Winograd4Image(io, n, parts); return; }
        int c = _shape.InChannels, k = _shape.OutChannels, t = plan.Tiles;
        nint v = (nint)Scratch(ref t_transformed, Positions * c * t);
        nint m = (nint)Scratch(ref t_products, Positions * k * t);
        // Each phase is split over threads by its own unit: the input transform by channel, the 16 products by
        // position (a thread then streams only its positions' filters, and every product keeps all tiles as its
        // width), the output transform by filter. Against bands of tile rows taken through all three phases without
        // barriers, this measured 11.38 -> 10.90 ms per ResNet-18 image at batch 1 on 2 threads.
        RunParts(parts, c, (first, end) => { for (int ch = first; ch < end; ch++) TransformInput(io, n, ch, (float*)v, 0, plan.TilesH); });
        RunParts(parts, Positions, (first, end) =>
        {
            for (int xi = first; xi < end; xi++) MultiplyPosition(xi, (float*)v, (float*)m, 0, t, xi + 1 < end ? xi + 1 : -1);
        });
        if (plan.Transposed)
            RunParts(parts, (k + TileVector - 1) / TileVector, (first, end) =>
                TransformOutputTransposed(io, n, (float*)m, first * TileVector, Math.Min(k, end * TileVector)));
        else
            RunParts(parts, k, (first, end) => { for (int f = first; f < end; f++) TransformOutput(io, n, f, (float*)m, 0, plan.TilesH); });
    }

    private static void RunParts(int parts, int items, Action<int, int> body)
    {
        parts = Math.Min(parts, items);
        if (parts <= 1) { body(0, items); return; }
        Parallelism.For(parts, part => body(items * part / parts, items * (part + 1) / parts));
    }

    /// <summary>V_ξ[ch][tile] = (Bᵀ d B)[ξ] for the tiles of tile rows [firstRow, endRow) of channel ch.</summary>
    private void TransformInput(Buffers io, int n, int ch, float* v, int firstRow, int endRow)
    {
        var plan = _winograd!;
        int h = _shape.InHeight, w = _shape.InWidth, pw = plan.PaddedW, tilesW = plan.TilesW, t = plan.Tiles;
        // The band of padded input those tiles read: padded rows [2·firstRow, 2·endRow + 2).
        int bandRows = 2 * (endRow - firstRow) + 2, top = 2 * firstRow;
        float* padded = Scratch(ref t_paddedPlane, bandRows * pw);
        float* src = (float*)io.Input + ((long)n * _shape.InChannels + ch) * h * w;
        new Span<float>(padded, bandRows * pw).Clear();
        for (int i = 0; i < bandRows; i++)
        {
            int y = top + i - _shape.PadTop;
            if ((uint)y >= (uint)h) continue;
            new ReadOnlySpan<float>(src + (long)y * w, Math.Min(w, pw - _shape.PadLeft)).CopyTo(new Span<float>(padded + i * pw + _shape.PadLeft, pw - _shape.PadLeft));
        }
        long stride = (long)_shape.InChannels * t; // between positions ξ in V
        float* dst = v + (long)ch * t;
        Span<float> rest = stackalloc float[Positions * TileVector];
        for (int ti = firstRow; ti < endRow; ti++)
        {
            float* rows = padded + 2 * (ti - firstRow) * pw;
            for (int tj = 0; tj < tilesW; tj += TileVector)
            {
                // A short last group overlaps the one before (rewriting equal values) rather than going scalar.
                if (tj + TileVector > tilesW && tilesW >= TileVector) tj = tilesW - TileVector;
                // Columns 2tj + {0,1} of 8 tiles come from deinterleaving 16 floats at 2tj, columns {2,3} from 2tj + 2.
                Vector256<float> d00, d01, d02, d03, d10, d11, d12, d13, d20, d21, d22, d23, d30, d31, d32, d33;
                LoadTileRow(rows + 2 * tj, out d00, out d01, out d02, out d03);
                LoadTileRow(rows + pw + 2 * tj, out d10, out d11, out d12, out d13);
                LoadTileRow(rows + 2 * pw + 2 * tj, out d20, out d21, out d22, out d23);
                LoadTileRow(rows + 3 * pw + 2 * tj, out d30, out d31, out d32, out d33);
                // Bᵀ d: combine rows; then · B: combine columns.
                Vector256<float> r00 = d00 - d20, r01 = d01 - d21, r02 = d02 - d22, r03 = d03 - d23;
                Vector256<float> r10 = d10 + d20, r11 = d11 + d21, r12 = d12 + d22, r13 = d13 + d23;
                Vector256<float> r20 = d20 - d10, r21 = d21 - d11, r22 = d22 - d12, r23 = d23 - d13;
                Vector256<float> r30 = d10 - d30, r31 = d11 - d31, r32 = d12 - d32, r33 = d13 - d33;
                int count = Math.Min(TileVector, tilesW - tj);
                float* at = dst + ti * tilesW + tj;
                if (count == TileVector)
                {
                    StoreTileRow(at, stride, 0, r00, r01, r02, r03);
                    StoreTileRow(at, stride, 4, r10, r11, r12, r13);
                    StoreTileRow(at, stride, 8, r20, r21, r22, r23);
                    StoreTileRow(at, stride, 12, r30, r31, r32, r33);
                }
                else
                {
                    // The row's last tiles: transform all 8 lanes aside, keep the valid ones.
                    fixed (float* tmp = rest)
                    {
                        StoreTileRow(tmp, TileVector, 0, r00, r01, r02, r03);
                        StoreTileRow(tmp, TileVector, 4, r10, r11, r12, r13);
                        StoreTileRow(tmp, TileVector, 8, r20, r21, r22, r23);
                        StoreTileRow(tmp, TileVector, 12, r30, r31, r32, r33);
                        for (int xi = 0; xi < Positions; xi++)
                            for (int i = 0; i < count; i++) at[xi * stride + i] = tmp[xi * TileVector + i];
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadTileRow(float* p, out Vector256<float> c0, out Vector256<float> c1, out Vector256<float> c2, out Vector256<float> c3)
    {
        Lanes.Deinterleave(Vector256.Load(p), Vector256.Load(p + 8), out c0, out c1);
        Lanes.Deinterleave(Vector256.Load(p + 2), Vector256.Load(p + 10), out c2, out c3);
    }

    /// <summary>Row a of (Bᵀ d) times B: positions ξ = first .. first + 3 get t0 − t2, t1 + t2, t2 − t1, t1 − t3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTileRow(float* at, long stride, int first, Vector256<float> t0, Vector256<float> t1, Vector256<float> t2, Vector256<float> t3)
    {
        (t0 - t2).Store(at + first * stride);
        (t1 + t2).Store(at + (first + 1) * stride);
        (t2 - t1).Store(at + (first + 2) * stride);
        (t1 - t3).Store(at + (first + 3) * stride);
    }

    /// <summary>Product ξ for tiles [firstTile, firstTile + tiles); <paramref name="nextXi"/>: the position this thread
    /// multiplies next (its filters are prefetched at the end of this one), or -1.</summary>
    private void MultiplyPosition(int xi, float* v, float* m, int firstTile, int tiles, int nextXi = -1)
    {
        var plan = _winograd!;
        int c = _shape.InChannels, k = _shape.OutChannels, t = plan.Tiles;
        if (tiles <= 0) return;
        if (plan.Transposed)
        {
            var vXi = new ReadOnlySpan<float>(v + (long)xi * c * t, c * t);
            Gemm.MultiplySerial(true, t, vXi, t, plan.Filters[xi], 0, k, new Span<float>(m + (long)xi * k * t, k * t), k,
                next: nextXi >= 0 ? plan.Filters[nextXi] : null);
            return;
        }
        // Columns firstTile.. of V_ξ [C x T] and M_ξ [K x T] (row strides T).
        var b = new ReadOnlySpan<float>(v + (long)xi * c * t + firstTile, (c - 1) * t + tiles);
        var y = new Span<float>(m + (long)xi * k * t + firstTile, (k - 1) * t + tiles);
        Gemm.MultiplySerial(plan.Filters[xi], 0, k, tiles, b, t, y, t);
    }

    /// <summary>Filter f's outputs of tile rows [firstRow, endRow) from M [16][K][T]: Aᵀ M A per tile, 8 tiles per vector, plus bias, residual, ReLU.</summary>
    private void TransformOutput(Buffers io, int n, int f, float* m, int firstRow, int endRow)
    {
        var plan = _winograd!;
        int oh = _shape.OutHeight, ow = _shape.OutWidth, tilesW = plan.TilesW, t = plan.Tiles, k = _shape.OutChannels;
        long stride = (long)k * t;
        float* src = m + (long)f * t;
        OutputPlane(io, n, f, out float* y, out float* r);
        var bias = Vector256.Create(_bias[f]);
        Span<float> tile = stackalloc float[4 * TileVector];
        Span<float> gathered = stackalloc float[Positions * TileVector];
        for (int ti = firstRow; ti < endRow; ti++)
        {
            for (int tj = 0; tj < tilesW; tj += TileVector)
            {
                if (tj + TileVector > tilesW && tilesW >= TileVector) tj = tilesW - TileVector; // overlap, as in TransformInput
                float* at = src + ti * tilesW + tj;
                int count = Math.Min(TileVector, tilesW - tj);
                InverseTransform(at, stride, count, gathered, out var y00, out var y01, out var y10, out var y11);
                y00 += bias; y01 += bias; y10 += bias; y11 += bias;
                int row = 2 * ti, col = 2 * tj;
                if (count == TileVector && row + 1 < oh && col + 16 <= ow)
                {
                    Lanes.Interleave(y00, y01, out var top0, out var top1);
                    Lanes.Interleave(y10, y11, out var bottom0, out var bottom1);
                    StoreOutputs(y + row * ow + col, r == null ? null : r + row * ow + col, top0, top1, io.Relu);
                    StoreOutputs(y + (row + 1) * ow + col, r == null ? null : r + (row + 1) * ow + col, bottom0, bottom1, io.Relu);
                    continue;
                }
                fixed (float* tp = tile)
                {
                    y00.Store(tp); y01.Store(tp + 8); y10.Store(tp + 16); y11.Store(tp + 24);
                    for (int i = 0; i < count; i++)
                        for (int dy = 0; dy < 2; dy++)
                            for (int dx = 0; dx < 2; dx++)
                                WriteOne(y, r, row + dy, col + 2 * i + dx, oh, ow, tp[(dy * 2 + dx) * TileVector + i], io.Relu);
                }
            }
        }
    }

    /// <summary>Filters [first, end) from M [16][T][K] (few tiles, many filters): 8 filters per vector, scattered per tile.</summary>
    private void TransformOutputTransposed(Buffers io, int n, float* m, int first, int end)
    {
        var plan = _winograd!;
        int oh = _shape.OutHeight, ow = _shape.OutWidth, k = _shape.OutChannels, t = plan.Tiles;
        long stride = (long)t * k;
        Span<float> gathered = stackalloc float[Positions * TileVector];
        Span<float> tile = stackalloc float[4 * TileVector];
        for (int f0 = first; f0 < end; f0 += TileVector)
        {
            int count = Math.Min(TileVector, end - f0);
            for (int tileIndex = 0; tileIndex < t; tileIndex++)
            {
                float* at = m + (long)tileIndex * k + f0;
                InverseTransform(at, stride, count, gathered, out var y00, out var y01, out var y10, out var y11);
                int row = 2 * (tileIndex / plan.TilesW), col = 2 * (tileIndex % plan.TilesW);
                fixed (float* tp = tile)
                {
                    y00.Store(tp); y01.Store(tp + 8); y10.Store(tp + 16); y11.Store(tp + 24);
                    for (int i = 0; i < count; i++)
                    {
                        OutputPlane(io, n, f0 + i, out float* y, out float* r);
                        float b = _bias[f0 + i];
                        for (int dy = 0; dy < 2; dy++)
                            for (int dx = 0; dx < 2; dx++)
                                WriteOne(y, r, row + dy, col + dx, oh, ow, tp[(dy * 2 + dx) * TileVector + i] + b, io.Relu);
                    }
                }
            }
        }
    }

    /// <summary>
    /// <see cref="InverseTransform(float*, long, out Vector256{float}, out Vector256{float}, out Vector256{float}, out Vector256{float})"/>
    /// for <paramref name="count"/> &lt;= 8 lanes: a short group is first copied, zero-padded, into <paramref name="gathered"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InverseTransform(float* at, long stride, int count, Span<float> gathered,
        out Vector256<float> y00, out Vector256<float> y01, out Vector256<float> y10, out Vector256<float> y11)
    {
        if (count == TileVector) { InverseTransform(at, stride, out y00, out y01, out y10, out y11); return; }
        for (int xi = 0; xi < Positions; xi++)
            for (int i = 0; i < TileVector; i++) gathered[xi * TileVector + i] = i < count ? at[xi * stride + i] : 0f;
        fixed (float* g = gathered) InverseTransform(g, TileVector, out y00, out y01, out y10, out y11);
    }

    /// <summary>Aᵀ M A for 8 tiles (or filters): rows r0 = M0 + M1 + M2, r1 = M1 − M2 − M3, then the same across columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InverseTransform(float* at, long stride, out Vector256<float> y00, out Vector256<float> y01, out Vector256<float> y10, out Vector256<float> y11)
    {
        Vector256<float> m0 = Vector256.Load(at), m1 = Vector256.Load(at + stride), m2 = Vector256.Load(at + 2 * stride), m3 = Vector256.Load(at + 3 * stride);
        Vector256<float> m4 = Vector256.Load(at + 4 * stride), m5 = Vector256.Load(at + 5 * stride), m6 = Vector256.Load(at + 6 * stride), m7 = Vector256.Load(at + 7 * stride);
        Vector256<float> m8 = Vector256.Load(at + 8 * stride), m9 = Vector256.Load(at + 9 * stride), m10 = Vector256.Load(at + 10 * stride), m11 = Vector256.Load(at + 11 * stride);
        Vector256<float> m12 = Vector256.Load(at + 12 * stride), m13 = Vector256.Load(at + 13 * stride), m14 = Vector256.Load(at + 14 * stride), m15 = Vector256.Load(at + 15 * stride);
        Vector256<float> s00 = m0 + m4 + m8, s01 = m1 + m5 + m9, s02 = m2 + m6 + m10, s03 = m3 + m7 + m11;
        Vector256<float> s10 = m4 - m8 - m12, s11 = m5 - m9 - m13, s12 = m6 - m10 - m14, s13 = m7 - m11 - m15;
        y00 = s00 + s01 + s02; y01 = s01 - s02 - s03;
        y10 = s10 + s11 + s12; y11 = s11 - s12 - s13;
    }

    /// <summary>The output plane of filter f of image n, and the residual plane added to it (null without one).</summary>
    private void OutputPlane(Buffers io, int n, int f, out float* y, out float* r)
    {
        long plane = ((long)n * _shape.OutChannels + f) * _shape.OutHeight * _shape.OutWidth;
        y = (float*)io.Output + plane;
        r = io.Residual != 0 ? (float*)io.Residual + plane : null;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreOutputs(float* y, float* r, Vector256<float> a, Vector256<float> b, bool relu)
    {
        if (r != null) { a += Vector256.Load(r); b += Vector256.Load(r + 8); }
        if (relu) { a = Vector256.Max(a, Vector256<float>.Zero); b = Vector256.Max(b, Vector256<float>.Zero); }
        a.Store(y); b.Store(y + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteOne(float* y, float* r, int row, int col, int oh, int ow, float value, bool relu)
    {
        if (row >= oh || col >= ow) return;
        int at = row * ow + col;
        if (r != null) value += r[at];
        y[at] = relu ? MathF.Max(value, 0f) : value; // branch-free: the sign is data, a branch on it mispredicts
    }
}
