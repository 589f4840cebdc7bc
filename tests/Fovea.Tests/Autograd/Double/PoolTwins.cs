namespace Fovea.Tests.Autograd.Double;

/// <summary>Double-precision twins of the pooling ops over NCHW input, written from the PyTorch/ONNX definitions.</summary>
internal static class PoolTwins
{
    public sealed record PoolSpec(int KernelH, int KernelW, int StrideH, int StrideW, int PadTop = 0, int PadLeft = 0, int PadBottom = 0, int PadRight = 0,
        int DilationH = 1, int DilationW = 1, bool Ceil = false, bool CountIncludePad = false)
    {
        /// <summary>floor or ceil((in + pads − dilation·(k − 1) − 1) / stride) + 1; in ceil mode a window starting in the end padding is dropped.</summary>
        public int OutSize(int input, int before, int after, int kernel, int stride, int dilation)
        {
            double q = (input + before + after - dilation * (kernel - 1) - 1) / (double)stride;
            int size = (int)(Ceil ? Math.Ceiling(q) : Math.Floor(q)) + 1;
            if (Ceil && (size - 1) * stride >= input + before) size--;
            return size;
        }
    }

    /// <summary>Visits every window: (plane, output offset, list of input offsets inside the image, taps counted by the divisor).</summary>
    private static double[] Pool(double[] x, int[] shape, PoolSpec p, Func<List<double>, int, double> reduce)
    {
        int planes = shape[0] * shape[1], h = shape[2], w = shape[3];
        int oh = p.OutSize(h, p.PadTop, p.PadBottom, p.KernelH, p.StrideH, p.DilationH);
        int ow = p.OutSize(w, p.PadLeft, p.PadRight, p.KernelW, p.StrideW, p.DilationW);
        var y = new double[planes * oh * ow];
        var taps = new List<double>();
        for (int pl = 0; pl < planes; pl++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    taps.Clear();
                    int inPadded = 0;
                    for (int ky = 0; ky < p.KernelH; ky++)
                        for (int kx = 0; kx < p.KernelW; kx++)
                        {
                            int iy = oy * p.StrideH - p.PadTop + ky * p.DilationH, ix = ox * p.StrideW - p.PadLeft + kx * p.DilationW;
                            // Taps in the declared padding count for count_include_pad; taps beyond it (ceil mode) never do.
                            if (iy >= -p.PadTop && iy < h + p.PadBottom && ix >= -p.PadLeft && ix < w + p.PadRight) inPadded++;
                            if (iy >= 0 && iy < h && ix >= 0 && ix < w) taps.Add(x[(pl * h + iy) * w + ix]);
                        }
                    y[(pl * oh + oy) * ow + ox] = reduce(taps, inPadded);
                }
        return y;
    }

    public static double[] MaxPool2d(double[] x, int[] shape, PoolSpec p) => Pool(x, shape, p, (taps, _) => taps.Max());

    public static double[] AvgPool2d(double[] x, int[] shape, PoolSpec p) =>
        Pool(x, shape, p, (taps, inPadded) =>
        {
            int divisor = p.CountIncludePad ? inPadded : taps.Count;
            return divisor == 0 ? 0 : taps.Sum() / divisor;
        });

    /// <summary>Mean (or max) over each H x W plane: [N, C, H, W] → [N, C] values.</summary>
    public static double[] GlobalPool(double[] x, int[] shape, bool max)
    {
        int planes = shape[0] * shape[1], hw = shape[2] * shape[3];
        var y = new double[planes];
        for (int pl = 0; pl < planes; pl++)
        {
            var plane = x.AsSpan(pl * hw, hw).ToArray();
            y[pl] = max ? plane.Max() : plane.Average();
        }
        return y;
    }
}
