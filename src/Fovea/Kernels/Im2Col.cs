using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

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

    /// <summary>dst[i] = src[2i] for i &lt; count (stride-2 taps, e.g. a ResNet stem), eight at a time by deinterleaving.</summary>
    private static unsafe void CopyEveryOther(float* src, float* dst, int count)
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

    private static unsafe void AddShort(float* src, float* dst, int count)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i <= count - 8; i += 8) Vector256.Store(Vector256.Load(dst + i) + Vector256.Load(src + i), dst + i);
        for (; i <= count - 4; i += 4) Vector128.Store(Vector128.Load(dst + i) + Vector128.Load(src + i), dst + i);
        for (; i < count; i++) dst[i] += src[i];
    }
}
