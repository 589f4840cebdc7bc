using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

// Legend as in Conv2d: Cg input channels of one group, R S kernel, OH OW output, P = OH*OW.
// cols is (Cg·R·S) × P, row (c, r, x) holding, for every output pixel, the input value that kernel tap sees
// (zero where the tap falls in the padding). Rows are filled/drained one output row (OW values) at a time,
// with the valid ow range computed once per tap so the inner loop has no bounds tests.

/// <summary>Unfolds image patches into a column matrix (im2col) and scatter-adds it back (col2im).</summary>
internal static class Im2Col
{
    /// <summary>Range [lo, hi) of output columns whose tap at offset <paramref name="dx"/> lands inside [0, width).</summary>
    private static (int Lo, int Hi) ValidRange(int dx, int stride, int width, int outWidth)
    {
        int lo = dx >= 0 ? 0 : (-dx + stride - 1) / stride;
        int last = width - 1 - dx;
        int hi = last < 0 ? 0 : Math.Min(outWidth, last / stride + 1);
        lo = Math.Min(lo, hi);
        return (lo, hi);
    }

    /// <summary>Fills <paramref name="cols"/> [(Cg·R·S)×P] from <paramref name="image"/> [Cg×H×W] (one image, one group).</summary>
    public static void Unfold(in Conv2dShape s, ReadOnlySpan<float> image, Span<float> cols) =>
        Unfold(s, image, cols, 0, s.OutHeight * s.OutWidth);

    /// <summary>
    /// The columns of output pixels [<paramref name="firstPixel"/>, <paramref name="endPixel"/>) only (row-major pixel
    /// order): <paramref name="cols"/> [(Cg·R·S) × (endPixel − firstPixel)], so a thread can unfold just the slice of
    /// the output it computes, in blocks sized to the GEMM's register tiles.
    /// </summary>
    public static unsafe void Unfold(in Conv2dShape s, ReadOnlySpan<float> image, Span<float> cols, int firstPixel, int endPixel)
    {
        int H = s.InHeight, W = s.InWidth, OW = s.OutWidth;
        int Cg = s.InChannelsPerGroup, R = s.KernelHeight, S = s.KernelWidth;
        int sh = s.StrideHeight, sw = s.StrideWidth;
        if ((uint)firstPixel > (uint)endPixel || endPixel > s.OutHeight * OW)
            throw new ArgumentOutOfRangeException(nameof(firstPixel), $"Output pixels [{firstPixel}, {endPixel}) must lie in [0, {s.OutHeight * OW}].");
        int P = endPixel - firstPixel;
        if (image.Length < Cg * H * W || cols.Length < Cg * R * S * P)
            throw new ArgumentException($"Im2Col spans too short: image {image.Length} (need {Cg * H * W}), cols {cols.Length} (need {Cg * R * S * P}).");
        if (P == 0) return;
        if (firstPixel == 0 && endPixel == s.OutHeight * OW && UnfoldNarrow(s, image, cols)) return;
        int firstRow = firstPixel / OW, lastRow = (endPixel - 1) / OW;
        // Output rows are short (often 7-28 values), so span slicing per row would cost more than the copy:
        // raw pointers, with every index range established once per tap by ValidRange.
        fixed (float* pImage = image, pCols = cols)
        {
            float* dst = pCols;
            for (int c = 0; c < Cg; c++)
            {
                float* plane = pImage + (long)c * H * W;
                for (int r = 0; r < R; r++)
                {
                    int dy = r * s.DilationHeight - s.PadTop;
                    for (int x = 0; x < S; x++, dst += P)
                    {
                        int dx = x * s.DilationWidth - s.PadLeft;
                        var (lo, hi) = ValidRange(dx, sw, W, OW);
                        for (int oh = firstRow; oh <= lastRow; oh++)
                        {
                            // This row's share of the pixel range: [from, to) of its OW columns.
                            int from = oh == firstRow ? firstPixel - oh * OW : 0;
                            int to = oh == lastRow ? endPixel - oh * OW : OW;
                            float* d = dst + (oh * OW - firstPixel);
                            int ih = oh * sh + dy;
                            int a = Math.Max(lo, from), b = Math.Min(hi, to);
                            if ((uint)ih >= (uint)H || a >= b)
                            {
                                new Span<float>(d + from, to - from).Clear();
                                continue;
                            }
                            for (int ow = from; ow < a; ow++) d[ow] = 0f;
                            for (int ow = b; ow < to; ow++) d[ow] = 0f;
                            float* src = plane + ih * W + dx;
                            if (sw == 1) CopyShort(src + a, d + a, b - a);
                            else if (sw == 2) CopyEveryOther(src + 2 * a, d + a, b - a);
                            else for (int ow = a; ow < b; ow++) d[ow] = src[ow * sw];
                        }
                    }
                }
            }
        }
    }

    // Narrow maps (OW ≤ 16: the 14x14 and 7x7 maps of small CNNs and ResNet's later stages). A tap's output row is then
    // at most two 8-float vectors, so instead of clearing the padded ends and copying the rest, each row is one pair of
    // masked loads (lanes outside the tap's valid columns read as zero and never touch memory) and one pair of plain
    // stores. The stores run up to 16 - OW values into the next row, which is written after it; only the very end of
    // cols, where nothing follows, takes masked stores (slow on some CPUs, hence not used everywhere).
    private static bool NarrowApplies(in Conv2dShape s) => Avx.IsSupported && s.StrideWidth == 1 && s.OutWidth <= 16;

    private static unsafe bool UnfoldNarrow(in Conv2dShape s, ReadOnlySpan<float> image, Span<float> cols)
    {
        if (!NarrowApplies(s)) return false;
        int H = s.InHeight, W = s.InWidth, OH = s.OutHeight, OW = s.OutWidth, P = OH * OW;
        int Cg = s.InChannelsPerGroup, R = s.KernelHeight, S = s.KernelWidth, sh = s.StrideHeight;
        var lanes0 = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var lanes8 = lanes0 + Vector256.Create(8);
        var (tail0, tail1) = LaneMasks(lanes0, lanes8, 0, OW);
        fixed (float* pImage = image, pCols = cols)
        {
            float* dst = pCols, colsEnd = pCols + (long)Cg * R * S * P;
            for (int c = 0; c < Cg; c++)
            {
                float* plane = pImage + (long)c * H * W;
                for (int r = 0; r < R; r++)
                {
                    int dy = r * s.DilationHeight - s.PadTop;
                    for (int x = 0; x < S; x++, dst += P)
                    {
                        int dx = x * s.DilationWidth - s.PadLeft;
                        var (lo, hi) = ValidRange(dx, 1, W, OW);
                        var (m0, m1) = LaneMasks(lanes0, lanes8, lo, hi);
                        for (int oh = 0; oh < OH; oh++)
                        {
                            float* d = dst + oh * OW;
                            int ih = oh * sh + dy;
                            Vector256<float> v0 = default, v1 = default;
                            if ((uint)ih < (uint)H && lo < hi)
                            {
                                float* src = plane + ih * W + dx;
                                v0 = Avx.MaskLoad(src, m0);
                                v1 = Avx.MaskLoad(src + 8, m1);
                            }
                            if (d + 16 <= colsEnd)
                            {
                                v0.Store(d);
                                v1.Store(d + 8);
                            }
                            else
                            {
                                Avx.MaskStore(d, tail0, v0);
                                Avx.MaskStore(d + 8, tail1, v1);
                            }
                        }
                    }
                }
            }
        }
        return true;
    }

    /// <summary>Lane masks (all bits set = active) of lanes [lo, hi) across two 8-float vectors.</summary>
    private static (Vector256<float>, Vector256<float>) LaneMasks(Vector256<int> lanes0, Vector256<int> lanes8, int lo, int hi)
    {
        Vector256<int> l = Vector256.Create(lo), h = Vector256.Create(hi);
        var m0 = Vector256.GreaterThanOrEqual(lanes0, l) & Vector256.LessThan(lanes0, h);
        var m1 = Vector256.GreaterThanOrEqual(lanes8, l) & Vector256.LessThan(lanes8, h);
        return (m0.AsSingle(), m1.AsSingle());
    }

    /// <summary>dst[i] = src[2i] for i &lt; count (stride-2 taps, e.g. a ResNet stem), eight at a time by deinterleaving.</summary>
    internal static unsafe void CopyEveryOther(float* src, float* dst, int count)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            // Reads src[2i .. 2i + 15]; stopping one output early keeps every read at or before src[2(count - 1)].
            for (; i + 9 <= count; i += 8)
            {
                Lanes.Deinterleave(Vector256.Load(src + 2 * i), Vector256.Load(src + 2 * i + 8), out var even, out _);
                even.Store(dst + i);
            }
        }
        for (; i < count; i++) dst[i] = src[2 * i];
    }

    private static unsafe void CopyShort(float* src, float* dst, int count)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i <= count - 8; i += 8) Vector256.Store(Vector256.Load(src + i), dst + i);
        for (; i <= count - 4; i += 4) Vector128.Store(Vector128.Load(src + i), dst + i);
        for (; i < count; i++) dst[i] = src[i];
    }

    /// <summary>Adds <paramref name="cols"/> [(Cg·R·S)×P] back into <paramref name="image"/> [Cg×H×W] (the adjoint of <see cref="Unfold(in Conv2dShape, ReadOnlySpan{float}, Span{float})"/>).</summary>
    public static unsafe void FoldAdd(in Conv2dShape s, ReadOnlySpan<float> cols, Span<float> image)
    {
        int H = s.InHeight, W = s.InWidth, OH = s.OutHeight, OW = s.OutWidth, P = OH * OW;
        int Cg = s.InChannelsPerGroup, R = s.KernelHeight, S = s.KernelWidth;
        int sh = s.StrideHeight, sw = s.StrideWidth;
        if (image.Length < Cg * H * W || cols.Length < Cg * R * S * P)
            throw new ArgumentException($"Col2Im spans too short: image {image.Length} (need {Cg * H * W}), cols {cols.Length} (need {Cg * R * S * P}).");
        if (FoldAddNarrow(s, cols, image)) return;
        fixed (float* pImage = image, pCols = cols)
        {
            float* srcRows = pCols;
            for (int c = 0; c < Cg; c++)
            {
                float* plane = pImage + (long)c * H * W;
                for (int r = 0; r < R; r++)
                {
                    int dy = r * s.DilationHeight - s.PadTop;
                    for (int x = 0; x < S; x++, srcRows += P)
                    {
                        int dx = x * s.DilationWidth - s.PadLeft;
                        var (lo, hi) = ValidRange(dx, sw, W, OW);
                        if (lo == hi) continue;
                        for (int oh = 0; oh < OH; oh++)
                        {
                            int ih = oh * sh + dy;
                            if ((uint)ih >= (uint)H) continue;
                            float* src = srcRows + oh * OW;
                            float* d = plane + ih * W + dx;
                            // Within one tap row the targets are distinct, so a vector add is safe.
                            if (sw == 1) AddShort(src + lo, d + lo, hi - lo);
                            else for (int ow = lo; ow < hi; ow++) d[ow * sw] += src[ow];
                        }
                    }
                }
            }
        }
    }

    // The adjoint of UnfoldNarrow, gathered per image row instead of scattered per tap (scattering would store rows that
    // the next tap's shifted loads partly overlap, stalling store-to-load forwarding). With W ≤ 16 an image row is two
    // vectors: load it once, add every tap's contribution from a masked load of its cols row shifted by the tap's column
    // offset (lanes outside the tap's valid columns read as zero), and store it once through the row mask.
    private static unsafe bool FoldAddNarrow(in Conv2dShape s, ReadOnlySpan<float> cols, Span<float> image)
    {
        if (!NarrowApplies(s) || s.InWidth > 16) return false;
        int H = s.InHeight, W = s.InWidth, OH = s.OutHeight, OW = s.OutWidth, P = OH * OW;
        int Cg = s.InChannelsPerGroup, R = s.KernelHeight, S = s.KernelWidth, sh = s.StrideHeight;
        var lanes0 = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var lanes8 = lanes0 + Vector256.Create(8);
        var (row0, row1) = LaneMasks(lanes0, lanes8, 0, W);
        // Per kernel column x: the image lanes its valid output columns land on, [lo + dx, hi + dx).
        Span<Vector256<float>> tapMasks = stackalloc Vector256<float>[2 * S];
        Span<int> offsets = stackalloc int[S];
        for (int x = 0; x < S; x++)
        {
            int dx = x * s.DilationWidth - s.PadLeft;
            var (lo, hi) = ValidRange(dx, 1, W, OW);
            (tapMasks[2 * x], tapMasks[2 * x + 1]) = LaneMasks(lanes0, lanes8, lo + dx, hi + dx);
            offsets[x] = dx;
        }
        fixed (float* pImage = image, pCols = cols)
        {
            for (int c = 0; c < Cg; c++)
            {
                float* plane = pImage + (long)c * H * W;
                float* channelCols = pCols + (long)c * R * S * P;
                for (int ih = 0; ih < H; ih++)
                {
                    float* d = plane + ih * W;
                    Vector256<float> acc0 = Avx.MaskLoad(d, row0), acc1 = Avx.MaskLoad(d + 8, row1);
                    for (int r = 0; r < R; r++)
                    {
                        // Output row oh reads image row ih through kernel row r when oh·sh + dy = ih.
                        int t = ih - (r * s.DilationHeight - s.PadTop);
                        if (t < 0 || t % sh != 0 || t / sh >= OH) continue;
                        float* tapRow = channelCols + (long)r * S * P + (t / sh) * OW;
                        for (int x = 0; x < S; x++, tapRow += P)
                        {
                            // Lane j of the image row takes cols[ow = j - dx]: load from tapRow - dx.
                            float* src = tapRow - offsets[x];
                            acc0 += Avx.MaskLoad(src, tapMasks[2 * x]);
                            acc1 += Avx.MaskLoad(src + 8, tapMasks[2 * x + 1]);
                        }
                    }
                    Avx.MaskStore(d, row0, acc0);
                    Avx.MaskStore(d + 8, row1, acc1);
                }
            }
        }
        return true;
    }

    private static unsafe void AddShort(float* src, float* dst, int count)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i <= count - 8; i += 8) Vector256.Store(Vector256.Load(dst + i) + Vector256.Load(src + i), dst + i);
        for (; i <= count - 4; i += 4) Vector128.Store(Vector128.Load(dst + i) + Vector128.Load(src + i), dst + i);
        for (; i < count; i++) dst[i] += src[i];
    }
}
