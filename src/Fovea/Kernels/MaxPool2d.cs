using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Fovea.Kernels;

// Legend: N = batch, C = channels, H/W = input height/width, OH/OW = output height/width,
// KH/KW = window, SH/SW = stride, DH/DW = dilation; a "plane" is one (n, c) slice of H*W (or OH*OW) floats, NCHW.

/// <summary>
/// 2-D max pooling over NCHW. Padding never wins: padded positions are skipped, not treated as -inf candidates.
/// Ties go to the first element in row-major window order; a NaN wins over any number (the first NaN is kept).
/// A window that covers no input element (possible only with dilation and padding) outputs -inf and argmax -1.
/// </summary>
public static unsafe partial class MaxPool2d
{
    /// <summary>
    /// output = max over each window. When <paramref name="argmax"/> is non-empty (training) it receives, per output,
    /// the flat index into <paramref name="input"/> of the winning element: that is what <see cref="Backward"/> needs.
    /// Pass an empty argmax for inference.
    /// </summary>
    public static void Forward(in Pool2dShape s, ReadOnlySpan<float> input, Span<float> output, Span<int> argmax)
    {
        PoolCommon.Check(s, input.Length, "Input", output.Length, "Output", argmax.Length, allowEmptyArgmax: true);
        int planes = s.Batch * s.Channels;
        int parts = KernelSplit.Parts(planes, (long)s.OutputLength * s.KernelHeight * s.KernelWidth);
        if (parts == 1)
        {
            ForwardPlanes(s, input, output, argmax, 0, planes);
            return;
        }
        var shape = s;
        fixed (float* pIn = input) fixed (float* pOut = output) fixed (int* pArg = argmax)
        {
            nint aIn = (nint)pIn, aOut = (nint)pOut, aArg = (nint)pArg;
            int inLen = input.Length, outLen = output.Length, argLen = argmax.Length;
            Parallelism.For(parts, part =>
            {
                var inp = new ReadOnlySpan<float>((void*)aIn, inLen);
                var outp = new Span<float>((void*)aOut, outLen);
                var arg = new Span<int>((void*)aArg, argLen);
                ForwardPlanes(shape, inp, outp, arg, KernelSplit.Start(part, parts, planes), KernelSplit.Start(part + 1, parts, planes));
            });
        }
    }

    /// <summary>
    /// gradInput[argmax[i]] += gradOutput[i] for every output i (argmax from <see cref="Forward"/>; -1 entries are skipped).
    /// With <paramref name="accumulate"/> false, gradInput is overwritten instead (zero where no window's maximum was).
    /// </summary>
    public static void Backward(in Pool2dShape s, ReadOnlySpan<float> gradOutput, ReadOnlySpan<int> argmax, Span<float> gradInput, bool accumulate = true)
    {
        PoolCommon.Check(s, gradInput.Length, "Input gradient", gradOutput.Length, "Output gradient", argmax.Length, allowEmptyArgmax: false);
        int planes = s.Batch * s.Channels;
        int parts = KernelSplit.Parts(planes, s.OutputLength);
        if (parts == 1)
        {
            BackwardPlanes(s, gradOutput, argmax, gradInput, 0, planes, accumulate);
            return;
        }
        var shape = s;
        fixed (float* pGo = gradOutput) fixed (int* pArg = argmax) fixed (float* pGi = gradInput)
        {
            nint aGo = (nint)pGo, aArg = (nint)pArg, aGi = (nint)pGi;
            int goLen = gradOutput.Length, argLen = argmax.Length, giLen = gradInput.Length;
            Parallelism.For(parts, part =>
            {
                var go = new ReadOnlySpan<float>((void*)aGo, goLen);
                var arg = new ReadOnlySpan<int>((void*)aArg, argLen);
                var gi = new Span<float>((void*)aGi, giLen);
                BackwardPlanes(shape, go, arg, gi, KernelSplit.Start(part, parts, planes), KernelSplit.Start(part + 1, parts, planes), accumulate);
            });
        }
    }

    /// <summary>Naive twin of <see cref="Forward"/>: every window position tested against the input bounds.</summary>
    public static void ForwardReference(in Pool2dShape s, ReadOnlySpan<float> input, Span<float> output, Span<int> argmax)
    {
        PoolCommon.Check(s, input.Length, "Input", output.Length, "Output", argmax.Length, allowEmptyArgmax: true);
        int oh = s.OutHeight, ow = s.OutWidth, h = s.InHeight, w = s.InWidth;
        for (int p = 0; p < s.Batch * s.Channels; p++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++)
                {
                    float best = float.NegativeInfinity;
                    int bestIndex = -1;
                    for (int ky = 0; ky < s.KernelHeight; ky++)
                        for (int kx = 0; kx < s.KernelWidth; kx++)
                        {
                            int iy = y * s.StrideHeight - s.PadTop + ky * s.DilationHeight;
                            int ix = x * s.StrideWidth - s.PadLeft + kx * s.DilationWidth;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            int index = (p * h + iy) * w + ix;
                            float v = input[index];
                            if (bestIndex < 0 || v > best || (float.IsNaN(v) && !float.IsNaN(best))) { best = v; bestIndex = index; }
                        }
                    int o = (p * oh + y) * ow + x;
                    output[o] = best;
                    if (!argmax.IsEmpty) argmax[o] = bestIndex;
                }
    }

    /// <summary>Naive twin of <see cref="Backward"/>.</summary>
    public static void BackwardReference(in Pool2dShape s, ReadOnlySpan<float> gradOutput, ReadOnlySpan<int> argmax, Span<float> gradInput)
    {
        PoolCommon.Check(s, gradInput.Length, "Input gradient", gradOutput.Length, "Output gradient", argmax.Length, allowEmptyArgmax: false);
        for (int i = 0; i < gradOutput.Length; i++)
            if (argmax[i] >= 0) gradInput[argmax[i]] += gradOutput[i];
    }

    private static void ForwardPlanes(in Pool2dShape s, ReadOnlySpan<float> input, Span<float> output, Span<int> argmax, int planeStart, int planeEnd)
    {
        int h = s.InHeight, w = s.InWidth, oh = s.OutHeight, ow = s.OutWidth;
        int inPlane = h * w, outPlane = oh * ow;
        bool withArg = !argmax.IsEmpty;
        bool fast2x2 = s.KernelHeight == 2 && s.KernelWidth == 2 && s.StrideHeight == 2 && s.StrideWidth == 2
            && s.PadTop == 0 && s.PadLeft == 0 && s.DilationHeight == 1 && s.DilationWidth == 1
            && 2 * oh <= h && 2 * ow <= w;
        PoolAxis rows = fast2x2 ? default : new PoolAxis(h, oh, s.KernelHeight, s.StrideHeight, s.PadTop, s.PadBottom, s.DilationHeight);
        PoolAxis cols = fast2x2 ? default : new PoolAxis(w, ow, s.KernelWidth, s.StrideWidth, s.PadLeft, s.PadRight, s.DilationWidth);
        for (int p = planeStart; p < planeEnd; p++)
        {
            ReadOnlySpan<float> inp = input.Slice(p * inPlane, inPlane);
            Span<float> outp = output.Slice(p * outPlane, outPlane);
            Span<int> arg = withArg ? argmax.Slice(p * outPlane, outPlane) : default;
            if (fast2x2) Plane2x2(inp, w, outp, oh, ow, arg, p * inPlane);
            // The separable path splits a row into `stride` phases: for a stride wider than the row each phase holds one
            // value at most, and its buffer size (row + stride − 1) overflowed for a stride near int.MaxValue.
            else if (!withArg && s.StrideWidth <= w) PlaneSeparable(s, rows, cols, inp, outp);
            else PlaneGeneral(s, rows, cols, inp, outp, arg, p * inPlane);
        }
    }

    private static void PlaneGeneral(in Pool2dShape s, PoolAxis rows, PoolAxis cols, ReadOnlySpan<float> inp, Span<float> outp, Span<int> arg, int planeBase)
    {
        int w = s.InWidth, ow = s.OutWidth, dh = s.DilationHeight, dw = s.DilationWidth;
        bool withArg = !arg.IsEmpty;
        for (int y = 0; y < rows.OutSize; y++)
        {
            int y0 = rows.Start[y], kyBegin = rows.Begin[y], kyEnd = rows.End[y];
            for (int x = 0; x < ow; x++)
            {
                int x0 = cols.Start[x], kxBegin = cols.Begin[x], kxEnd = cols.End[x];
                float best = float.NegativeInfinity;
                int bestIndex = -1;
                for (int ky = kyBegin; ky < kyEnd; ky++)
                {
                    int rowBase = (y0 + ky * dh) * w + x0;
                    for (int kx = kxBegin; kx < kxEnd; kx++)
                    {
                        int index = rowBase + kx * dw;
                        float v = inp[index];
                        if (bestIndex < 0 || v > best || (float.IsNaN(v) && !float.IsNaN(best))) { best = v; bestIndex = index; }
                    }
                }
                outp[y * ow + x] = best;
                if (withArg) arg[y * ow + x] = bestIndex < 0 ? -1 : planeBase + bestIndex;
            }
        }
    }

    private static void BackwardPlanes(in Pool2dShape s, ReadOnlySpan<float> gradOutput, ReadOnlySpan<int> argmax, Span<float> gradInput,
        int planeStart, int planeEnd, bool accumulate)
    {
        int inPlane = s.InHeight * s.InWidth, outPlane = s.OutHeight * s.OutWidth;
        for (int p = planeStart; p < planeEnd; p++)
        {
            int lo = p * inPlane;
            // Overwrite mode clears one plane just before scattering into it, while it is in cache.
            if (!accumulate) gradInput.Slice(lo, inPlane).Clear();
            for (int i = p * outPlane, end = i + outPlane; i < end; i++)
            {
                int a = argmax[i];
                if (a < 0) continue;
                if ((uint)(a - lo) >= (uint)inPlane)
                    throw new ArgumentException($"Argmax[{i}] = {a} lies outside its input plane [{lo}, {lo + inPlane}); pass the argmax that Forward produced for this shape.");
                gradInput[a] += gradOutput[i];
            }
        }
    }
}
