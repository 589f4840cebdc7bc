namespace Fovea.Kernels;

// Legend: N = batch, C = channels, H/W = input height/width, OH/OW = output height/width,
// KH/KW = window, SH/SW = stride, DH/DW = dilation; a "plane" is one (n, c) slice of H*W (or OH*OW) floats, NCHW.

/// <summary>
/// 2-D average pooling over NCHW. Padded positions contribute zero to the sum. The divisor is
/// the number of window taps inside the input (<see cref="Pool2dShape.CountIncludePad"/> = false), or the number of taps
/// inside input plus padding (true); in ceil mode, taps beyond the right/bottom padding are never counted (as ONNX/PyTorch).
/// Dilation spaces the taps. A window with a zero divisor (no input tap, count_include_pad=false) outputs 0.
/// Forward caches nothing: backward needs only the shape.
/// </summary>
public static unsafe class AvgPool2d
{
    /// <summary>output = mean over each window (see the class remarks for the divisor).</summary>
    public static void Forward(in Pool2dShape s, ReadOnlySpan<float> input, Span<float> output)
    {
        PoolCommon.Check(s, input.Length, "Input", output.Length, "Output", 0, allowEmptyArgmax: true);
        int planes = s.Batch * s.Channels;
        int parts = KernelSplit.Parts(planes, (long)s.OutputLength * s.KernelHeight * s.KernelWidth);
        var rows = new PoolAxis(s.InHeight, s.OutHeight, s.KernelHeight, s.StrideHeight, s.PadTop, s.PadBottom, s.DilationHeight);
        var cols = new PoolAxis(s.InWidth, s.OutWidth, s.KernelWidth, s.StrideWidth, s.PadLeft, s.PadRight, s.DilationWidth);
        if (parts == 1)
        {
            ForwardPlanes(s, rows, cols, input, output, 0, planes);
            return;
        }
        var shape = s;
        fixed (float* pIn = input) fixed (float* pOut = output)
        {
            nint aIn = (nint)pIn, aOut = (nint)pOut;
            int inLen = input.Length, outLen = output.Length;
            Parallelism.For(parts, part => ForwardPlanes(shape, rows, cols,
                new ReadOnlySpan<float>((void*)aIn, inLen), new Span<float>((void*)aOut, outLen),
                KernelSplit.Start(part, parts, planes), KernelSplit.Start(part + 1, parts, planes)));
        }
    }

    /// <summary>gradInput += gradOutput / divisor spread over each window's input taps.</summary>
    public static void Backward(in Pool2dShape s, ReadOnlySpan<float> gradOutput, Span<float> gradInput)
    {
        PoolCommon.Check(s, gradInput.Length, "Input gradient", gradOutput.Length, "Output gradient", 0, allowEmptyArgmax: true);
        int planes = s.Batch * s.Channels;
        int parts = KernelSplit.Parts(planes, (long)s.OutputLength * s.KernelHeight * s.KernelWidth);
        var rows = new PoolAxis(s.InHeight, s.OutHeight, s.KernelHeight, s.StrideHeight, s.PadTop, s.PadBottom, s.DilationHeight);
        var cols = new PoolAxis(s.InWidth, s.OutWidth, s.KernelWidth, s.StrideWidth, s.PadLeft, s.PadRight, s.DilationWidth);
        if (parts == 1)
        {
            BackwardPlanes(s, rows, cols, gradOutput, gradInput, 0, planes);
            return;
        }
        var shape = s;
        fixed (float* pGo = gradOutput) fixed (float* pGi = gradInput)
        {
            nint aGo = (nint)pGo, aGi = (nint)pGi;
            int goLen = gradOutput.Length, giLen = gradInput.Length;
            Parallelism.For(parts, part => BackwardPlanes(shape, rows, cols,
                new ReadOnlySpan<float>((void*)aGo, goLen), new Span<float>((void*)aGi, giLen),
                KernelSplit.Start(part, parts, planes), KernelSplit.Start(part + 1, parts, planes)));
        }
    }

    /// <summary>Naive twin of <see cref="Forward"/>: every tap tested against the input and padded bounds.</summary>
    public static void ForwardReference(in Pool2dShape s, ReadOnlySpan<float> input, Span<float> output)
    {
        PoolCommon.Check(s, input.Length, "Input", output.Length, "Output", 0, allowEmptyArgmax: true);
        int oh = s.OutHeight, ow = s.OutWidth, h = s.InHeight, w = s.InWidth;
        for (int p = 0; p < s.Batch * s.Channels; p++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++)
                {
                    float sum = 0;
                    int divisor = ReferenceDivisor(s, y, x);
                    for (int ky = 0; ky < s.KernelHeight; ky++)
                        for (int kx = 0; kx < s.KernelWidth; kx++)
                        {
                            int iy = y * s.StrideHeight - s.PadTop + ky * s.DilationHeight;
                            int ix = x * s.StrideWidth - s.PadLeft + kx * s.DilationWidth;
                            if (iy >= 0 && iy < h && ix >= 0 && ix < w) sum += input[(p * h + iy) * w + ix];
                        }
                    output[(p * oh + y) * ow + x] = divisor == 0 ? 0f : sum / divisor;
                }
    }

    /// <summary>Naive twin of <see cref="Backward"/>.</summary>
    public static void BackwardReference(in Pool2dShape s, ReadOnlySpan<float> gradOutput, Span<float> gradInput)
    {
        PoolCommon.Check(s, gradInput.Length, "Input gradient", gradOutput.Length, "Output gradient", 0, allowEmptyArgmax: true);
        int oh = s.OutHeight, ow = s.OutWidth, h = s.InHeight, w = s.InWidth;
        for (int p = 0; p < s.Batch * s.Channels; p++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++)
                {
                    int divisor = ReferenceDivisor(s, y, x);
                    if (divisor == 0) continue;
                    float g = gradOutput[(p * oh + y) * ow + x] / divisor;
                    for (int ky = 0; ky < s.KernelHeight; ky++)
                        for (int kx = 0; kx < s.KernelWidth; kx++)
                        {
                            int iy = y * s.StrideHeight - s.PadTop + ky * s.DilationHeight;
                            int ix = x * s.StrideWidth - s.PadLeft + kx * s.DilationWidth;
                            if (iy >= 0 && iy < h && ix >= 0 && ix < w) gradInput[(p * h + iy) * w + ix] += g;
                        }
                }
    }

    private static int ReferenceDivisor(in Pool2dShape s, int y, int x)
    {
        int count = 0;
        for (int ky = 0; ky < s.KernelHeight; ky++)
            for (int kx = 0; kx < s.KernelWidth; kx++)
            {
                int iy = y * s.StrideHeight - s.PadTop + ky * s.DilationHeight;
                int ix = x * s.StrideWidth - s.PadLeft + kx * s.DilationWidth;
                bool counted = s.CountIncludePad
                    ? iy >= -s.PadTop && iy < s.InHeight + s.PadBottom && ix >= -s.PadLeft && ix < s.InWidth + s.PadRight
                    : iy >= 0 && iy < s.InHeight && ix >= 0 && ix < s.InWidth;
                if (counted) count++;
            }
        return count;
    }

    private static void ForwardPlanes(in Pool2dShape s, PoolAxis rows, PoolAxis cols, ReadOnlySpan<float> input, Span<float> output, int planeStart, int planeEnd)
    {
        int w = s.InWidth, ow = s.OutWidth, oh = s.OutHeight, dh = s.DilationHeight, dw = s.DilationWidth;
        int inPlane = s.InHeight * w, outPlane = oh * ow;
        bool includePad = s.CountIncludePad;
        for (int p = planeStart; p < planeEnd; p++)
        {
            ReadOnlySpan<float> inp = input.Slice(p * inPlane, inPlane);
            Span<float> outp = output.Slice(p * outPlane, outPlane);
            for (int y = 0; y < oh; y++)
            {
                int y0 = rows.Start[y], kyBegin = rows.Begin[y], kyEnd = rows.End[y];
                for (int x = 0; x < ow; x++)
                {
                    int x0 = cols.Start[x], kxBegin = cols.Begin[x], kxEnd = cols.End[x];
                    int divisor = includePad ? rows.PaddedCount[y] * cols.PaddedCount[x] : (kyEnd - kyBegin) * (kxEnd - kxBegin);
                    float sum = 0;
                    for (int ky = kyBegin; ky < kyEnd; ky++)
                    {
                        int rowBase = (y0 + ky * dh) * w + x0;
                        for (int kx = kxBegin; kx < kxEnd; kx++) sum += inp[rowBase + kx * dw];
                    }
                    outp[y * ow + x] = divisor == 0 ? 0f : sum / divisor;
                }
            }
        }
    }

    private static void BackwardPlanes(in Pool2dShape s, PoolAxis rows, PoolAxis cols, ReadOnlySpan<float> gradOutput, Span<float> gradInput, int planeStart, int planeEnd)
    {
        int w = s.InWidth, ow = s.OutWidth, oh = s.OutHeight, dh = s.DilationHeight, dw = s.DilationWidth;
        int inPlane = s.InHeight * w, outPlane = oh * ow;
        bool includePad = s.CountIncludePad;
        for (int p = planeStart; p < planeEnd; p++)
        {
            Span<float> gi = gradInput.Slice(p * inPlane, inPlane);
            ReadOnlySpan<float> go = gradOutput.Slice(p * outPlane, outPlane);
            for (int y = 0; y < oh; y++)
            {
                int y0 = rows.Start[y], kyBegin = rows.Begin[y], kyEnd = rows.End[y];
                for (int x = 0; x < ow; x++)
                {
                    int x0 = cols.Start[x], kxBegin = cols.Begin[x], kxEnd = cols.End[x];
                    int divisor = includePad ? rows.PaddedCount[y] * cols.PaddedCount[x] : (kyEnd - kyBegin) * (kxEnd - kxBegin);
                    if (divisor == 0) continue;
                    float g = go[y * ow + x] / divisor;
                    for (int ky = kyBegin; ky < kyEnd; ky++)
                    {
                        int rowBase = (y0 + ky * dh) * w + x0;
                        for (int kx = kxBegin; kx < kxEnd; kx++) gi[rowBase + kx * dw] += g;
                    }
                }
            }
        }
    }
}
