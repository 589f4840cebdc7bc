using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

// Legend as in PackedConv2d.cs; Hp Wp the padded input, sh sw strides, dh dw dilations.
// Strided convolutions with many input channels (ResNet's 3x3 stride-2 and 1x1 stride-2 layers). im2col + GEMM copies
// the input into columns and the GEMM copies those again into its panels; at ~2 inputs per output both copies cost a
// quarter of the product. Here the product reads the image itself: a register tile is 8 output pixels x 48 filters, and
// for each tap t = (c, r, x) the 8 pixels' inputs, at padded offsets pixel(q) + tap(t), are broadcast against one row
// of the filters, packed once as [tap][48]. The strides only change the offset tables, so a stride-2 layer runs as fast
// as a stride-1 one. The tile comes out pixel-major and is transposed 8x8 at a time into the NCHW output, with bias,
// residual and ReLU. Padding is materialised once per image (a copy of the input with zero borders); a layer without
// padding reads its input in place.
// With 256-bit vectors (AVX2 + FMA, 16 registers) the tile is 6 pixels x 16 filters: 12 accumulators, 2 filter vectors
// and one broadcast, the GEMM micro-kernel's shape (Gemm.Avx2.cs). Same plan, offset tables and driver; the epilogue
// still transposes 8 rows, a tile of 6 lending its 2 junk rows to the next tile's first pixels (see ImplicitStore).
// Measured with AVX-512 disabled, ResNet-18 at batch 1 layer by layer (resnet-profile), 3x3 stride-2 layers against
// im2col + GEMM: 1 thread 1.07 / 1.08 / 1.28 ms -> 0.94 / 0.93-0.97 / 1.10-1.15; 2 threads 0.55 / 0.64-0.67 / 0.73-0.75
// -> 0.51 / 0.49-0.51 / 0.58-0.61. Its 1x1 stride-2 layers were 11-15% slower on 1 thread (0.155 -> 0.175, 0.133 ->
// 0.149, 0.167 -> 0.192 ms; level on 2): C taps a tile instead of 9C leave the tile's fixed costs (setup, the spilled
// 8-wide epilogue) less to amortise over, so 1x1 kernels keep im2col + GEMM there. 4 pixels x 24 filters (alone, 1 thread)
// was 3-4% faster on the 7x7 output (49 pixels fill 6-pixel tiles worst: 0.97 against 1.00 ms), level on 14x14, 6-9%
// slower on 28x28 (1.01-1.04 against 0.95); 5 x 16 was slower everywhere but on 7x7 (level). One tile, one kernel.
// Against Winograd on 7x7 maps (below) it lost with 256-bit vectors: ResNet-18's 512 -> 512 layers at batch 1 took
// 2.10-2.29 ms against Winograd's 2.02-2.06 on 1 thread, 1.08-1.15 against 1.03-1.08 on 2; there Winograd stays.
// With AVX-512, small maps with many channels (ResNet's 7x7 layers, 512 filters of 512x3x3) take it instead of Winograd:
// at one image Winograd's filters (16/9 of the plain ones: 16.8 MB a layer) come from memory on every call and cannot be
// amortised, while the plain filters are read once and used by every pixel. ResNet-18, 1 thread, batch 1: these layers
// 1.16-1.22 ms against Winograd's 1.27-1.31; at batches of 8 and 32 the whole network took the same time either way
// (15.4-15.6 ms per image at 32 on 1 thread, 8.05-8.29 against 8.37-8.50 on 2), so Winograd's plan is not kept beside it.
// A 7x7 map is tiled by 7 pixels, not 8, so no lane is wasted; long filters (4,608 taps) are read in chunks that stay in
// L2 across the tiles.
// While the tiles of one chunk run, each tile's loop also asks for a share of the next chunk's filters (one cache line
// per tap, into L2), so the next chunk streams in from memory under the multiply-adds instead of stalling its first
// tile: at one image a layer's filters are bigger than L2 and come from L3 or memory on every call. Measured on the
// Intel Xeon VM (8.5 GB/s from memory on one core), 512 -> 512 on 7x7, batch 1: 1 thread 1.82 -> 1.50 ms (2.58 -> 1.88
// with the caches flushed between calls), 2 threads 1.05 -> 0.82; batch 8: 15.7 -> 12.4 ms; 3x3 stride 2, 256 -> 512:
// 1.34 -> 1.01 ms flushed; the AVX2 tile 2.29 -> 1.96. The prefetches issued as one burst per tile gained a third of
// that: a burst waits on the memory it asks for, under nothing.

public sealed unsafe partial class PackedConv2d
{
    /// <summary>Floats of one panel's filters read per pass over the tiles: 1,024 taps of 48 filters, 192 KB, stays in L2.</summary>
    private const int ImplicitChunkFloats = 1024 * 48;
    /// <summary>Row stride of a tile in its buffer, whatever the panel width: the widest panel's 48 filters.</summary>
    private const int TileRow = 48;

    private sealed class ImplicitPlan
    {
        public int PaddedHeight, PaddedWidth, PaddedLength, Taps, PixelTiles, Panels;
        /// <summary>Pixels per tile: 8, or 7 when that tiles the map exactly and 8 would not (7x7, 14x14); 6 with 256-bit vectors.</summary>
        public int TilePixels;
        /// <summary>Filters per panel (48, or 16 with 256-bit vectors) and floats per vector (16 or 8).</summary>
        public int Panel, Lanes;
        /// <summary>Taps per pass over the tiles: all of them, or balanced chunks of at most 1,024 (48 filters) or 3,072 (16).</summary>
        public int TapChunk;
        public bool NeedsPadding;
        /// <summary>Padded-image offset of tap t = (c·R + r)·S + x, the order of a filter's weights.</summary>
        public int[] TapOffsets = [];
        /// <summary>Padded-image offset of output pixel q's window corner; 0 for the junk pixels that fill the last tile.</summary>
        public int[] PixelOffsets = [];
        /// <summary>Panel j holds filters [Panel·j, Panel·j + width): [tap][width], width = Panel or, in the last panel, the filters left rounded up to whole vectors.</summary>
        public float[] Weights = [];
    }

    private ImplicitPlan? _implicit;

    [ThreadStatic] private static float[]? t_padded, t_implicitTile;

    /// <summary>
    /// Strided convolutions with more than 4 input channels and one group: on hardware with 512-bit vectors, all of them,
    /// and the Winograd F(2x2) layers with at most 64 output pixels and 64 or more channels in (in Winograd's place); with
    /// AVX2 and FMA only, the strided ones with more than one tap per channel (not 1x1 kernels).
    /// </summary>
    internal static bool UseImplicitGemm(in Conv2dShape s)
    {
        if (s.Groups != 1 || s.InChannels <= 4) return false;
        // The offset tables are 32-bit: the padded image must be addressable by them.
        if ((long)s.InChannels * (s.InHeight + s.PadTop + s.PadBottom) * (s.InWidth + s.PadLeft + s.PadRight) >= int.MaxValue) return false;
        bool strided = s.StrideHeight > 1 || s.StrideWidth > 1;
        if (Avx512F.IsSupported)
            return strided || (WinogradTileSize(s) == 2 && s.OutHeight * s.OutWidth <= 64 && s.InChannels >= 64);
        return Avx2.IsSupported && Fma.IsSupported && strided && s.KernelHeight * s.KernelWidth > 1;
    }

    private void PrepareImplicitGemm(ReadOnlySpan<float> weight)
    {
        var s = _shape;
        int hp = s.InHeight + s.PadTop + s.PadBottom, wp = s.InWidth + s.PadLeft + s.PadRight, taps = _rows;
        var (tilePixels, panelFilters, lanes) = ImplicitTileGeometry(_pixels);
        int tiles = (_pixels + tilePixels - 1) / tilePixels, filters = s.OutChannels, maxChunk = ImplicitChunkFloats / panelFilters;
        int chunks = (taps + maxChunk - 1) / maxChunk;
        var plan = new ImplicitPlan
        {
            PaddedHeight = hp, PaddedWidth = wp, PaddedLength = s.InChannels * hp * wp, Taps = taps, PixelTiles = tiles,
            TilePixels = tilePixels, Panel = panelFilters, Lanes = lanes, TapChunk = (taps + chunks - 1) / chunks,
            Panels = (filters + panelFilters - 1) / panelFilters,
            NeedsPadding = s.PadTop + s.PadBottom + s.PadLeft + s.PadRight > 0,
            TapOffsets = new int[taps], PixelOffsets = new int[tiles * tilePixels],
        };
        for (int c = 0, t = 0; c < s.InChannels; c++)
            for (int r = 0; r < s.KernelHeight; r++)
                for (int x = 0; x < s.KernelWidth; x++, t++)
                    plan.TapOffsets[t] = (c * hp + r * s.DilationHeight) * wp + x * s.DilationWidth;
        for (int q = 0; q < _pixels; q++)
            plan.PixelOffsets[q] = q / s.OutWidth * s.StrideHeight * wp + q % s.OutWidth * s.StrideWidth;
        plan.Weights = new float[(long)taps * plan.Panels * panelFilters];
        _implicit = plan;
        for (int j = 0; j < plan.Panels; j++)
        {
            int first = j * panelFilters, width = ImplicitPanelWidth(j);
            long start = (long)first * taps;
            for (int t = 0; t < taps; t++)
                for (int f = 0; f < width && first + f < filters; f++)
                    plan.Weights[start + (long)t * width + f] = weight[(first + f) * taps + t];
        }
    }

    /// <summary>
    /// The register tile for this hardware: (pixels, filters per panel, floats per vector). 512-bit: 8 pixels x 48
    /// filters, or 7 pixels where 7 tiles the map exactly and 8 does not. 256-bit: 6 pixels x 16 filters.
    /// </summary>
    private static (int Pixels, int Panel, int Lanes) ImplicitTileGeometry(int pixels) =>
        Avx512F.IsSupported ? (pixels % 8 != 0 && pixels % 7 == 0 ? 7 : 8, 48, 16) : (6, 16, 8);

    /// <summary>Floats per tap of panel j: the panel's filters, or the last panel's filters rounded up to whole vectors.</summary>
    private int ImplicitPanelWidth(int panel)
    {
        var plan = _implicit!;
        return Math.Min(plan.Panel, (_shape.OutChannels - panel * plan.Panel + plan.Lanes - 1) / plan.Lanes * plan.Lanes);
    }

    /// <summary>
    /// Image n through the implicit GEMM on <paramref name="parts"/> threads: each takes a share of the pixel tiles, or, on
    /// small maps (fewer than 32 pixels a thread: ResNet's 7x7 outputs), a share of the filter panels. With 256-bit tiles
    /// a 7x7 map is 9 tiles, 4 and 5 a thread: the panel split measured 0.65 ms against 0.73 (3x3 stride 2, 256 -> 512).
    /// </summary>
    private void ImplicitGemmImage(Buffers io, int n, int parts)
    {
        var plan = _implicit!;
        int tiles = plan.PixelTiles, panels = plan.Panels;
        if (parts <= 1) { ImplicitGemmPart(io, n, 1, 0, panels, 0, tiles); return; }
        if (_pixels < 32 * parts && panels >= parts)
            Parallelism.For(parts, part => ImplicitGemmPart(io, n, 1, panels * part / parts, panels * (part + 1) / parts, 0, tiles));
        else
        {
            parts = Math.Min(parts, tiles);
            Parallelism.For(parts, part => ImplicitGemmPart(io, n, 1, 0, panels, tiles * part / parts, tiles * (part + 1) / parts));
        }
    }

    /// <summary>Most images one pass over the filters serves, and the most floats their padded copies may take (4 MB).</summary>
    private const int ImplicitImageGroup = 8, ImplicitGroupFloats = 1 << 20;

    /// <summary>
    /// Whole images [first, end) on the calling thread, a group of up to <see cref="ImplicitImageGroup"/> per pass over
    /// the filters: at one image per pass, a layer whose filters outgrow L2 reads them from memory once per image, and
    /// two threads doing so saturate this kind of VM's memory bandwidth (ResNet-18 at batch 32 on 2 threads).
    /// </summary>
    private void ImplicitGemmImages(Buffers io, int first, int end)
    {
        var plan = _implicit!;
        int group = Math.Clamp(ImplicitGroupFloats / plan.PaddedLength, 1, ImplicitImageGroup);
        for (int n = first; n < end; n += group)
            ImplicitGemmPart(io, n, Math.Min(group, end - n), 0, plan.Panels, 0, plan.PixelTiles);
    }

    /// <summary>
    /// Filter panels [firstPanel, endPanel) x pixel tiles [firstTile, endTile) of images [n, n + images). With padding,
    /// the thread pads the input rows these tiles read into its own buffer: a shared padded copy would put half of what
    /// each core reads in the other core's cache.
    /// </summary>
    private void ImplicitGemmPart(Buffers io, int n, int images, int firstPanel, int endPanel, int firstTile, int endTile)
    {
        var plan = _implicit!;
        float* source = (float*)io.Input + (long)n * ImageLength;
        long imageStride = ImageLength;
        if (plan.NeedsPadding)
        {
            var s = _shape;
            int lastPixel = Math.Min(_pixels, endTile * plan.TilePixels) - 1;
            int firstRow = firstTile * plan.TilePixels / s.OutWidth * s.StrideHeight;
            int endRow = lastPixel / s.OutWidth * s.StrideHeight + (s.KernelHeight - 1) * s.DilationHeight + 1;
            float* padded = Scratch(ref t_padded, images * plan.PaddedLength);
            for (int i = 0; i < images; i++)
                PadRows(source + i * imageStride, padded + (long)i * plan.PaddedLength, firstRow, endRow);
            source = padded;
            imageStride = plan.PaddedLength;
        }
        ImplicitGemmTiles(io, n, images, source, imageStride, firstPanel, endPanel, firstTile, endTile);
    }

    /// <summary>Padded rows [firstRow, endRow) of every channel of one image into the layout [C×Hp×Wp], zero borders.</summary>
    private void PadRows(float* image, float* padded, int firstRow, int endRow)
    {
        var s = _shape;
        var plan = _implicit!;
        int H = s.InHeight, W = s.InWidth, wp = plan.PaddedWidth, hp = plan.PaddedHeight;
        for (int c = 0; c < s.InChannels; c++)
            for (int py = firstRow; py < endRow; py++)
            {
                float* row = padded + ((long)c * hp + py) * wp;
                int y = py - s.PadTop;
                if ((uint)y >= (uint)H) { new Span<float>(row, wp).Clear(); continue; }
                new Span<float>(row, s.PadLeft).Clear();
                new ReadOnlySpan<float>(image + ((long)c * H + y) * W, W).CopyTo(new Span<float>(row + s.PadLeft, W));
                new Span<float>(row + s.PadLeft + W, s.PadRight).Clear();
            }
    }

    /// <summary>
    /// Panels [firstPanel, endPanel) x tiles [firstTile, endTile) of images [n, n + images), image i's (padded) input at
    /// source + i·imageStride. A panel's filters are read a chunk of taps at a time, each chunk once for all the tiles
    /// of all the images (partial sums kept in a tile buffer per pixel tile between chunks).
    /// </summary>
    private void ImplicitGemmTiles(Buffers io, int n, int images, float* source, long imageStride, int firstPanel, int endPanel, int firstTile, int endTile)
    {
        var plan = _implicit!;
        // Tiles are stored with 8 rows whatever their pixel count: the epilogue transposes 8 rows at a time.
        int tilePixels = plan.TilePixels, tileFloats = 8 * TileRow, tilesPerImage = endTile - firstTile;
        bool chunked = plan.TapChunk < plan.Taps;
        int buffered = chunked ? images * tilesPerImage : 1;
        float* tiles = Scratch(ref t_implicitTile, buffered * tileFloats);
        // The rows past a tile's pixels go through the epilogue's transpose unused: zeros, not whatever the buffer held
        // (denormals there would slow the epilogue's adds).
        for (int k = 0; k < buffered && tilePixels < 8; k++)
            new Span<float>(tiles + (long)k * tileFloats + tilePixels * TileRow, (8 - tilePixels) * TileRow).Clear();
        fixed (float* weights = plan.Weights)
        fixed (int* taps = plan.TapOffsets, pixels = plan.PixelOffsets)
        {
            for (int j = firstPanel; j < endPanel; j++)
            {
                int width = ImplicitPanelWidth(j);
                float* panel = weights + (long)j * plan.Panel * plan.Taps;
                for (int t0 = 0; t0 < plan.Taps; t0 += plan.TapChunk)
                {
                    int count = Math.Min(plan.TapChunk, plan.Taps - t0);
                    bool last = t0 + count == plan.Taps;
                    // The filters this thread reads next: the panel's next chunk, else the next panel's first.
                    float* next = null;
                    long nextFloats = 0;
                    if (!last) { next = panel + (long)(t0 + count) * width; nextFloats = (long)Math.Min(plan.TapChunk, plan.Taps - t0 - count) * width; }
                    else if (j + 1 < endPanel) { next = weights + (long)(j + 1) * plan.Panel * plan.Taps; nextFloats = (long)Math.Min(plan.TapChunk, plan.Taps) * ImplicitPanelWidth(j + 1); }
                    var nextChunk = Gemm.Lookahead.Contiguous(next, nextFloats);
                    long passTiles = (long)images * tilesPerImage;
                    for (int pass = 0; pass < passTiles; pass++)
                    {
                        int i = pass / tilesPerImage, q = firstTile + pass % tilesPerImage;
                        float* ahead = nextChunk.Share(pass, passTiles, count, 1, out int aheadLines, out _);
                        float* tile = chunked ? tiles + (long)pass * tileFloats : tiles;
                        ImplicitTile(plan, width, source + i * imageStride, pixels + q * tilePixels, taps + t0, count, panel + (long)t0 * width, tile, t0 > 0, ahead, aheadLines);
                        if (last) ImplicitStore(io, n + i, tile, q * tilePixels, j * plan.Panel, Math.Min(_pixels, endTile * tilePixels));
                    }
                }
            }
        }
    }

    /// <summary>One tile's sums over a chunk of taps: the kernel for the plan's vector width and pixel count and this panel's width.</summary>
    private static void ImplicitTile(ImplicitPlan plan, int width, float* image, int* pixels, int* taps, int count, float* w, float* tile, bool accumulate, float* ahead, int aheadLines)
    {
        if (plan.Lanes == 8)
        {
            if (width == 16) ImplicitTile256<TwoVectors>(image, pixels, taps, count, w, tile, accumulate, ahead, aheadLines);
            else ImplicitTile256<OneVector>(image, pixels, taps, count, w, tile, accumulate, ahead, aheadLines);
        }
        else if (plan.TilePixels == 8)
        {
            switch (width)
            {
                case 48: ImplicitTile512<ThreeVectors, EightPixels>(image, pixels, taps, count, w, tile, accumulate, ahead, aheadLines); break;
                case 32: ImplicitTile512<TwoVectors, EightPixels>(image, pixels, taps, count, w, tile, accumulate, ahead, aheadLines); break;
                default: ImplicitTile512<OneVector, EightPixels>(image, pixels, taps, count, w, tile, accumulate, ahead, aheadLines); break;
            }
        }
        else
        {
            switch (width)
            {
                case 48: ImplicitTile512<ThreeVectors, SevenPixels>(image, pixels, taps, count, w, tile, accumulate, ahead, aheadLines); break;
                case 32: ImplicitTile512<TwoVectors, SevenPixels>(image, pixels, taps, count, w, tile, accumulate, ahead, aheadLines); break;
                default: ImplicitTile512<OneVector, SevenPixels>(image, pixels, taps, count, w, tile, accumulate, ahead, aheadLines); break;
            }
        }
    }

    private interface IPanelVectors { static abstract int Count { get; } }
    private readonly struct OneVector : IPanelVectors { public static int Count => 1; }
    private readonly struct TwoVectors : IPanelVectors { public static int Count => 2; }
    private readonly struct ThreeVectors : IPanelVectors { public static int Count => 3; }
    private readonly struct SevenPixels : IPanelVectors { public static int Count => 7; }
    private readonly struct EightPixels : IPanelVectors { public static int Count => 8; }

    /// <summary>
    /// tile[i·48 + f] (+)= Σ_t image[pixels[i] + taps[t]] · w[t·width + f] for P pixels i (7 or 8) and width = 16·V
    /// filters f, added to the tile's sums when <paramref name="accumulate"/>. The JIT compiles one body per (V, P) with
    /// the unused accumulators gone.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ImplicitTile512<TV, TP>(float* image, int* pixels, int* taps, int tapCount, float* w, float* tile, bool accumulate, float* ahead, int aheadLines)
        where TV : struct, IPanelVectors where TP : struct, IPanelVectors
    {
        int v = TV.Count, stride = 16 * v, pixelCount = TP.Count;
        int o0 = pixels[0], o1 = pixels[1], o2 = pixels[2], o3 = pixels[3], o4 = pixels[4], o5 = pixels[5], o6 = pixels[6];
        int o7 = pixelCount > 7 ? pixels[7] : 0;
        var zero = Vector512<float>.Zero;
        Vector512<float> c00 = zero, c01 = zero, c02 = zero, c10 = zero, c11 = zero, c12 = zero;
        Vector512<float> c20 = zero, c21 = zero, c22 = zero, c30 = zero, c31 = zero, c32 = zero;
        Vector512<float> c40 = zero, c41 = zero, c42 = zero, c50 = zero, c51 = zero, c52 = zero;
        Vector512<float> c60 = zero, c61 = zero, c62 = zero, c70 = zero, c71 = zero, c72 = zero;
        if (accumulate)
        {
            LoadTileRow(tile + 0 * TileRow, v, ref c00, ref c01, ref c02); LoadTileRow(tile + 1 * TileRow, v, ref c10, ref c11, ref c12);
            LoadTileRow(tile + 2 * TileRow, v, ref c20, ref c21, ref c22); LoadTileRow(tile + 3 * TileRow, v, ref c30, ref c31, ref c32);
            LoadTileRow(tile + 4 * TileRow, v, ref c40, ref c41, ref c42); LoadTileRow(tile + 5 * TileRow, v, ref c50, ref c51, ref c52);
            LoadTileRow(tile + 6 * TileRow, v, ref c60, ref c61, ref c62);
            if (pixelCount > 7) LoadTileRow(tile + 7 * TileRow, v, ref c70, ref c71, ref c72);
        }
        for (int t = 0; t < tapCount; t++, w += stride)
        {
            if (t < aheadLines) Sse.Prefetch1(ahead + 16 * t);
            float* x = image + taps[t];
            var b0 = Vector512.Load(w);
            var b1 = v > 1 ? Vector512.Load(w + 16) : zero;
            var b2 = v > 2 ? Vector512.Load(w + 32) : zero;
            var a = Vector512.Create(x[o0]);
            c00 = Avx512F.FusedMultiplyAdd(a, b0, c00); if (v > 1) c01 = Avx512F.FusedMultiplyAdd(a, b1, c01); if (v > 2) c02 = Avx512F.FusedMultiplyAdd(a, b2, c02);
            a = Vector512.Create(x[o1]);
            c10 = Avx512F.FusedMultiplyAdd(a, b0, c10); if (v > 1) c11 = Avx512F.FusedMultiplyAdd(a, b1, c11); if (v > 2) c12 = Avx512F.FusedMultiplyAdd(a, b2, c12);
            a = Vector512.Create(x[o2]);
            c20 = Avx512F.FusedMultiplyAdd(a, b0, c20); if (v > 1) c21 = Avx512F.FusedMultiplyAdd(a, b1, c21); if (v > 2) c22 = Avx512F.FusedMultiplyAdd(a, b2, c22);
            a = Vector512.Create(x[o3]);
            c30 = Avx512F.FusedMultiplyAdd(a, b0, c30); if (v > 1) c31 = Avx512F.FusedMultiplyAdd(a, b1, c31); if (v > 2) c32 = Avx512F.FusedMultiplyAdd(a, b2, c32);
            a = Vector512.Create(x[o4]);
            c40 = Avx512F.FusedMultiplyAdd(a, b0, c40); if (v > 1) c41 = Avx512F.FusedMultiplyAdd(a, b1, c41); if (v > 2) c42 = Avx512F.FusedMultiplyAdd(a, b2, c42);
            a = Vector512.Create(x[o5]);
            c50 = Avx512F.FusedMultiplyAdd(a, b0, c50); if (v > 1) c51 = Avx512F.FusedMultiplyAdd(a, b1, c51); if (v > 2) c52 = Avx512F.FusedMultiplyAdd(a, b2, c52);
            a = Vector512.Create(x[o6]);
            c60 = Avx512F.FusedMultiplyAdd(a, b0, c60); if (v > 1) c61 = Avx512F.FusedMultiplyAdd(a, b1, c61); if (v > 2) c62 = Avx512F.FusedMultiplyAdd(a, b2, c62);
            if (pixelCount > 7)
            {
                a = Vector512.Create(x[o7]);
                c70 = Avx512F.FusedMultiplyAdd(a, b0, c70); if (v > 1) c71 = Avx512F.FusedMultiplyAdd(a, b1, c71); if (v > 2) c72 = Avx512F.FusedMultiplyAdd(a, b2, c72);
            }
        }
        StoreTileRow(tile + 0 * TileRow, v, c00, c01, c02); StoreTileRow(tile + 1 * TileRow, v, c10, c11, c12);
        StoreTileRow(tile + 2 * TileRow, v, c20, c21, c22); StoreTileRow(tile + 3 * TileRow, v, c30, c31, c32);
        StoreTileRow(tile + 4 * TileRow, v, c40, c41, c42); StoreTileRow(tile + 5 * TileRow, v, c50, c51, c52);
        StoreTileRow(tile + 6 * TileRow, v, c60, c61, c62);
        if (pixelCount > 7) StoreTileRow(tile + 7 * TileRow, v, c70, c71, c72);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadTileRow(float* row, int vectors, ref Vector512<float> x0, ref Vector512<float> x1, ref Vector512<float> x2)
    {
        x0 = Vector512.Load(row);
        if (vectors > 1) x1 = Vector512.Load(row + 16);
        if (vectors > 2) x2 = Vector512.Load(row + 32);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTileRow(float* row, int vectors, Vector512<float> x0, Vector512<float> x1, Vector512<float> x2)
    {
        x0.Store(row);
        if (vectors > 1) x1.Store(row + 16);
        if (vectors > 2) x2.Store(row + 32);
    }

    /// <summary>
    /// The 256-bit tile (AVX2 + FMA, 16 registers): tile[i·48 + f] (+)= Σ_t image[pixels[i] + taps[t]] ·
    /// w[t·width + f] for 6 pixels i and width = 8·V filters f (V = 1 or 2): 12 accumulators, 2 filter vectors and one
    /// broadcast.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ImplicitTile256<TV>(float* image, int* pixels, int* taps, int tapCount, float* w, float* tile, bool accumulate, float* ahead, int aheadLines)
        where TV : struct, IPanelVectors
    {
        int v = TV.Count, stride = 8 * v;
        // Native-sized offsets: no sign extension before each broadcast in the loop.
        nint o0 = pixels[0], o1 = pixels[1], o2 = pixels[2], o3 = pixels[3], o4 = pixels[4], o5 = pixels[5];
        var zero = Vector256<float>.Zero;
        Vector256<float> c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero;
        Vector256<float> c30 = zero, c31 = zero, c40 = zero, c41 = zero, c50 = zero, c51 = zero;
        if (accumulate)
        {
            LoadTileRow(tile, v, ref c00, ref c01); LoadTileRow(tile + TileRow, v, ref c10, ref c11);
            LoadTileRow(tile + 2 * TileRow, v, ref c20, ref c21); LoadTileRow(tile + 3 * TileRow, v, ref c30, ref c31);
            LoadTileRow(tile + 4 * TileRow, v, ref c40, ref c41); LoadTileRow(tile + 5 * TileRow, v, ref c50, ref c51);
        }
        for (int t = 0; t < tapCount; t++, w += stride)
        {
            if (t < aheadLines) Sse.Prefetch1(ahead + 16 * t);
            float* x = image + taps[t];
            var b0 = Vector256.Load(w);
            var b1 = v > 1 ? Vector256.Load(w + 8) : zero;
            var a = Vector256.Create(x[o0]);
            c00 = Fma.MultiplyAdd(a, b0, c00); if (v > 1) c01 = Fma.MultiplyAdd(a, b1, c01);
            a = Vector256.Create(x[o1]);
            c10 = Fma.MultiplyAdd(a, b0, c10); if (v > 1) c11 = Fma.MultiplyAdd(a, b1, c11);
            a = Vector256.Create(x[o2]);
            c20 = Fma.MultiplyAdd(a, b0, c20); if (v > 1) c21 = Fma.MultiplyAdd(a, b1, c21);
            a = Vector256.Create(x[o3]);
            c30 = Fma.MultiplyAdd(a, b0, c30); if (v > 1) c31 = Fma.MultiplyAdd(a, b1, c31);
            a = Vector256.Create(x[o4]);
            c40 = Fma.MultiplyAdd(a, b0, c40); if (v > 1) c41 = Fma.MultiplyAdd(a, b1, c41);
            a = Vector256.Create(x[o5]);
            c50 = Fma.MultiplyAdd(a, b0, c50); if (v > 1) c51 = Fma.MultiplyAdd(a, b1, c51);
        }
        StoreTileRow(tile, v, c00, c01); StoreTileRow(tile + TileRow, v, c10, c11);
        StoreTileRow(tile + 2 * TileRow, v, c20, c21); StoreTileRow(tile + 3 * TileRow, v, c30, c31);
        StoreTileRow(tile + 4 * TileRow, v, c40, c41); StoreTileRow(tile + 5 * TileRow, v, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadTileRow(float* row, int vectors, ref Vector256<float> x0, ref Vector256<float> x1)
    {
        x0 = Vector256.Load(row);
        if (vectors > 1) x1 = Vector256.Load(row + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTileRow(float* row, int vectors, Vector256<float> x0, Vector256<float> x1)
    {
        x0.Store(row);
        if (vectors > 1) x1.Store(row + 8);
    }

    /// <summary>
    /// The valid part of a tile (pixels [pixel0, pixel0 + TilePixels), filters [filter0, filter0 + Panel)) into image n's
    /// output: y = relu?(tile + bias + residual), 8 filters x 8 pixels at a time through an in-register transpose of the
    /// tile's 8 rows. Where the part's pixels reach pixel0 + 8 (<paramref name="limit"/>), a tile of fewer than 8 pixels
    /// is stored as 8: the values past it land on the next tiles' pixels, which those tiles (later in the same thread)
    /// overwrite; whole-vector stores instead of one value at a time. Otherwise, and for the ragged filters, one by one.
    /// </summary>
    private void ImplicitStore(Buffers io, int n, float* tile, int pixel0, int filter0, int limit)
    {
        var plan = _implicit!;
        int p = _pixels, pixels = Math.Min(plan.TilePixels, p - pixel0), filters = Math.Min(plan.Panel, _shape.OutChannels - filter0);
        long plane0 = ((long)n * _shape.OutChannels + filter0) * p + pixel0;
        float* y = (float*)io.Output + plane0;
        float* r = io.Residual != 0 ? (float*)io.Residual + plane0 : null;
        float* block = stackalloc float[64];
        int f = 0;
        if (pixel0 + 8 <= limit)
        {
            for (; f + 8 <= filters; f += 8)
            {
                float* t = tile + f;
                Gemm.Transpose8x8(Vector256.Load(t), Vector256.Load(t + TileRow), Vector256.Load(t + 2 * TileRow),
                    Vector256.Load(t + 3 * TileRow), Vector256.Load(t + 4 * TileRow), Vector256.Load(t + 5 * TileRow),
                    Vector256.Load(t + 6 * TileRow), Vector256.Load(t + 7 * TileRow), block, 8);
                var floor = io.Relu ? Vector256<float>.Zero : Vector256.Create(float.NegativeInfinity);
                for (int k = 0; k < 8; k++)
                {
                    long at = (long)(f + k) * p;
                    var value = Vector256.Load(block + 8 * k) + Vector256.Create(_bias[filter0 + f + k]);
                    if (r != null) value += Vector256.Load(r + at);
                    Vector256.Max(value, floor).Store(y + at);
                }
            }
        }
        for (; f < filters; f++)
        {
            float bias = _bias[filter0 + f];
            long at = (long)f * p;
            for (int i = 0; i < pixels; i++)
            {
                float value = tile[i * TileRow + f] + bias;
                if (r != null) value += r[at + i];
                y[at + i] = io.Relu ? MathF.Max(value, 0f) : value;
            }
        }
    }
}
