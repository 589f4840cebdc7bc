namespace Fovea.Tests.Autograd.Double;

/// <summary>Double-precision twins of the linear ops (convolution, dense, matrix product), written from the definitions.</summary>
internal static class LinearTwins
{
    /// <summary>Convolution geometry as the math states it (sizes are computed here, not taken from Fovea).</summary>
    public sealed record ConvSpec(int StrideH, int StrideW, int PadTop, int PadLeft, int PadBottom, int PadRight, int DilationH, int DilationW, int Groups)
    {
        public int OutSize(int input, int padBefore, int padAfter, int kernel, int stride, int dilation) =>
            (input + padBefore + padAfter - dilation * (kernel - 1) - 1) / stride + 1;
    }

    /// <summary>
    /// y[n, k, oy, ox] = b[k] + Σ_{c in k's group, ry, sx} x[n, c, oy·sh − pt + ry·dh, ox·sw − pl + sx·dw] · w[k, c − group start, ry, sx]
    /// (taps outside the input read 0); optionally followed by max(0, ·).
    /// </summary>
    public static double[] Conv2d(double[] x, int[] xShape, double[] w, int[] wShape, double[]? b, ConvSpec p, bool relu = false)
    {
        int n = xShape[0], c = xShape[1], h = xShape[2], wd = xShape[3];
        int k = wShape[0], cg = wShape[1], r = wShape[2], s = wShape[3];
        int oh = p.OutSize(h, p.PadTop, p.PadBottom, r, p.StrideH, p.DilationH);
        int ow = p.OutSize(wd, p.PadLeft, p.PadRight, s, p.StrideW, p.DilationW);
        int kPerGroup = k / p.Groups;
        var y = new double[n * k * oh * ow];
        for (int ni = 0; ni < n; ni++)
            for (int ki = 0; ki < k; ki++)
            {
                int c0 = ki / kPerGroup * cg;
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        double sum = b?[ki] ?? 0;
                        for (int ci = 0; ci < cg; ci++)
                            for (int ry = 0; ry < r; ry++)
                                for (int sx = 0; sx < s; sx++)
                                {
                                    int iy = oy * p.StrideH - p.PadTop + ry * p.DilationH;
                                    int ix = ox * p.StrideW - p.PadLeft + sx * p.DilationW;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                    sum += x[((ni * c + c0 + ci) * h + iy) * wd + ix] * w[((ki * cg + ci) * r + ry) * s + sx];
                                }
                        y[((ni * k + ki) * oh + oy) * ow + ox] = relu ? Math.Max(0, sum) : sum;
                    }
            }
        return y;
    }

    /// <summary>TensorFlow/Keras "same" padding for one axis: output ceil(in / stride), the extra row/column at the end.</summary>
    public static (int Before, int After) SamePadding(int input, int kernel, int stride, int dilation)
    {
        int outSize = (int)Math.Ceiling(input / (double)stride);
        int needed = Math.Max(0, (outSize - 1) * stride + dilation * (kernel - 1) + 1 - input);
        return (needed / 2, needed - needed / 2);
    }

    /// <summary>y[i, o] = b[o] + Σ_f x[i, f]·w[o, f] (weight [out, in]).</summary>
    public static double[] Linear(double[] x, int rows, int inFeatures, double[] w, int outFeatures, double[]? b)
    {
        var y = new double[rows * outFeatures];
        for (int i = 0; i < rows; i++)
            for (int o = 0; o < outFeatures; o++)
            {
                double sum = b?[o] ?? 0;
                for (int f = 0; f < inFeatures; f++) sum += x[i * inFeatures + f] * w[o * inFeatures + f];
                y[i * outFeatures + o] = sum;
            }
        return y;
    }

    /// <summary>NumPy matmul: [..., M, K]·[..., K, N] with broadcast batch axes; a 1-D a is a row, a 1-D b a column (axis dropped).</summary>
    public static double[] MatMul(double[] a, int[] aShape, double[] b, int[] bShape, out int[] outShape)
    {
        int[] sa = aShape.Length == 1 ? [1, aShape[0]] : aShape, sb = bShape.Length == 1 ? [bShape[0], 1] : bShape;
        int m = sa[^2], k = sa[^1], n = sb[^1];
        int[] batchA = sa[..^2], batchB = sb[..^2];
        var batch = Nd.BroadcastShape(batchA, batchB);
        int count = Nd.Size(batch);
        var y = new double[count * m * n];
        for (int t = 0; t < count; t++)
        {
            var idx = Nd.Unravel(t, batch);
            int offA = Nd.BroadcastOffset(idx, batchA) * m * k, offB = Nd.BroadcastOffset(idx, batchB) * k * n;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (int q = 0; q < k; q++) sum += a[offA + i * k + q] * b[offB + q * n + j];
                    y[(t * m + i) * n + j] = sum;
                }
        }
        outShape = [.. batch, .. aShape.Length > 1 ? new[] { m } : [], .. bShape.Length > 1 ? new[] { n } : []];
        return y;
    }
}
