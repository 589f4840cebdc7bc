using System.Numerics.Tensors;

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
    public static void Unfold(in Conv2dShape s, ReadOnlySpan<float> image, Span<float> cols)
    {
        int H = s.InHeight, W = s.InWidth, OH = s.OutHeight, OW = s.OutWidth, P = OH * OW;
        int Cg = s.InChannelsPerGroup, R = s.KernelHeight, S = s.KernelWidth;
        int sh = s.StrideHeight, sw = s.StrideWidth;
        int row = 0;
        for (int c = 0; c < Cg; c++)
        {
            ReadOnlySpan<float> plane = image.Slice(c * H * W, H * W);
            for (int r = 0; r < R; r++)
            {
                int dy = r * s.DilationHeight - s.PadTop;
                for (int x = 0; x < S; x++, row++)
                {
                    int dx = x * s.DilationWidth - s.PadLeft;
                    var (lo, hi) = ValidRange(dx, sw, W, OW);
                    Span<float> dst = cols.Slice(row * P, P);
                    for (int oh = 0; oh < OH; oh++)
                    {
                        Span<float> d = dst.Slice(oh * OW, OW);
                        int ih = oh * sh + dy;
                        if ((uint)ih >= (uint)H || lo == hi)
                        {
                            d.Clear();
                            continue;
                        }
                        d[..lo].Clear();
                        d[hi..].Clear();
                        ReadOnlySpan<float> src = plane.Slice(ih * W, W);
                        if (sw == 1)
                        {
                            src.Slice(lo + dx, hi - lo).CopyTo(d[lo..hi]);
                        }
                        else
                        {
                            for (int ow = lo; ow < hi; ow++) d[ow] = src[ow * sw + dx];
                        }
                    }
                }
            }
        }
    }

    /// <summary>Adds <paramref name="cols"/> [(Cg·R·S)×P] back into <paramref name="image"/> [Cg×H×W] (the adjoint of <see cref="Unfold"/>).</summary>
    public static void FoldAdd(in Conv2dShape s, ReadOnlySpan<float> cols, Span<float> image)
    {
        int H = s.InHeight, W = s.InWidth, OH = s.OutHeight, OW = s.OutWidth, P = OH * OW;
        int Cg = s.InChannelsPerGroup, R = s.KernelHeight, S = s.KernelWidth;
        int sh = s.StrideHeight, sw = s.StrideWidth;
        int row = 0;
        for (int c = 0; c < Cg; c++)
        {
            Span<float> plane = image.Slice(c * H * W, H * W);
            for (int r = 0; r < R; r++)
            {
                int dy = r * s.DilationHeight - s.PadTop;
                for (int x = 0; x < S; x++, row++)
                {
                    int dx = x * s.DilationWidth - s.PadLeft;
                    var (lo, hi) = ValidRange(dx, sw, W, OW);
                    if (lo == hi) continue;
                    ReadOnlySpan<float> srcRows = cols.Slice(row * P, P);
                    for (int oh = 0; oh < OH; oh++)
                    {
                        int ih = oh * sh + dy;
                        if ((uint)ih >= (uint)H) continue;
                        ReadOnlySpan<float> src = srcRows.Slice(oh * OW, OW);
                        Span<float> d = plane.Slice(ih * W, W);
                        if (sw == 1)
                        {
                            // Within one tap row the targets are distinct, so a vector add is safe.
                            Span<float> t = d.Slice(lo + dx, hi - lo);
                            TensorPrimitives.Add(t, src[lo..hi], t);
                        }
                        else
                        {
                            for (int ow = lo; ow < hi; ow++) d[ow * sw + dx] += src[ow];
                        }
                    }
                }
            }
        }
    }
}
