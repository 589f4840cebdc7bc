namespace Fovea.Kernels;

// Naive twins, written straight from the definition of convolution with double accumulation.
// They are slow on purpose: no im2col, no GEMM, no threads, so they share no code path with the fast kernels.
// Index maps: ih = oh*strideH - padTop + r*dilationH, iw = ow*strideW - padLeft + s*dilationW.

public static partial class Conv2d
{
    /// <summary>Naive twin of <see cref="Forward"/>: same contract (output [N×K×OH×OW] overwritten), nested loops, double sums.</summary>
    /// <param name="s">Geometry.</param>
    /// <param name="input">Input, N×C×H×W.</param>
    /// <param name="weight">Filters, K×(C/G)×R×S.</param>
    /// <param name="bias">Per-filter bias of length K, or empty for none.</param>
    /// <param name="output">Destination, N×K×OH×OW; overwritten.</param>
    /// <param name="relu">Apply max(0, x) to the result.</param>
    public static void ForwardReference(in Conv2dShape s, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, bool relu = false)
    {
        ValidateForward(s, input, weight, bias, output);
        int H = s.InHeight, W = s.InWidth, OH = s.OutHeight, OW = s.OutWidth;
        int Cg = s.InChannelsPerGroup, Kg = s.OutChannelsPerGroup, R = s.KernelHeight, S = s.KernelWidth;
        for (int n = 0; n < s.Batch; n++)
        for (int k = 0; k < s.OutChannels; k++)
        {
            int g = k / Kg;
            for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++)
            {
                double sum = bias.IsEmpty ? 0.0 : bias[k];
                for (int c = 0; c < Cg; c++)
                for (int r = 0; r < R; r++)
                {
                    int ih = oh * s.StrideHeight - s.PadTop + r * s.DilationHeight;
                    if (ih < 0 || ih >= H) continue;
                    for (int x = 0; x < S; x++)
                    {
                        int iw = ow * s.StrideWidth - s.PadLeft + x * s.DilationWidth;
                        if (iw < 0 || iw >= W) continue;
                        float v = input[((n * s.InChannels + g * Cg + c) * H + ih) * W + iw];
                        float w = weight[((k * Cg + c) * R + r) * S + x];
                        sum += (double)v * w;
                    }
                }
                float result = (float)sum;
                if (relu && result < 0f) result = 0f;
                output[((n * s.OutChannels + k) * OH + oh) * OW + ow] = result;
            }
        }
    }

    /// <summary>Naive twin of <see cref="BackwardInput"/>: gradInput [N×C×H×W] += Σ dY·W gathered per input element, double sums.</summary>
    /// <param name="s">Geometry.</param>
    /// <param name="gradOutput">Gradient with respect to the output, N×K×OH×OW.</param>
    /// <param name="weight">Filters, K×(C/G)×R×S.</param>
    /// <param name="gradInput">Accumulated gradient with respect to the input, N×C×H×W.</param>
    public static void BackwardInputReference(in Conv2dShape s, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> weight,
        Span<float> gradInput)
    {
        ValidateBackwardInput(s, gradOutput, weight, gradInput);
        int H = s.InHeight, W = s.InWidth, OH = s.OutHeight, OW = s.OutWidth;
        int Cg = s.InChannelsPerGroup, Kg = s.OutChannelsPerGroup, R = s.KernelHeight, S = s.KernelWidth;
        for (int n = 0; n < s.Batch; n++)
        for (int ci = 0; ci < s.InChannels; ci++)
        {
            int g = ci / Cg, c = ci % Cg;
            for (int ih = 0; ih < H; ih++)
            for (int iw = 0; iw < W; iw++)
            {
                // Every (k, r, x) whose window position lands exactly on (ih, iw) contributes dY[oh, ow]·W[k, c, r, x].
                double sum = 0;
                for (int kk = 0; kk < Kg; kk++)
                {
                    int k = g * Kg + kk;
                    for (int r = 0; r < R; r++)
                    {
                        int th = ih + s.PadTop - r * s.DilationHeight;
                        if (th < 0 || th % s.StrideHeight != 0) continue;
                        int oh = th / s.StrideHeight;
                        if (oh >= OH) continue;
                        for (int x = 0; x < S; x++)
                        {
                            int tw = iw + s.PadLeft - x * s.DilationWidth;
                            if (tw < 0 || tw % s.StrideWidth != 0) continue;
                            int ow = tw / s.StrideWidth;
                            if (ow >= OW) continue;
                            sum += (double)gradOutput[((n * s.OutChannels + k) * OH + oh) * OW + ow]
                                 * weight[((k * Cg + c) * R + r) * S + x];
                        }
                    }
                }
                gradInput[((n * s.InChannels + ci) * H + ih) * W + iw] += (float)sum;
            }
        }
    }

    /// <summary>Naive twin of <see cref="BackwardWeight"/>: gradWeight [K×Cg×R×S] += Σ dY·X and gradBias [K] += Σ dY, double sums.</summary>
    /// <param name="s">Geometry.</param>
    /// <param name="gradOutput">Gradient with respect to the output, N×K×OH×OW.</param>
    /// <param name="input">Forward input, N×C×H×W.</param>
    /// <param name="gradWeight">Accumulated weight gradient, K×(C/G)×R×S.</param>
    /// <param name="gradBias">Accumulated bias gradient of length K, or empty to skip it.</param>
    public static void BackwardWeightReference(in Conv2dShape s, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> input,
        Span<float> gradWeight, Span<float> gradBias)
    {
        ValidateBackwardWeight(s, gradOutput, input, gradWeight, gradBias);
        int H = s.InHeight, W = s.InWidth, OH = s.OutHeight, OW = s.OutWidth;
        int Cg = s.InChannelsPerGroup, Kg = s.OutChannelsPerGroup, R = s.KernelHeight, S = s.KernelWidth;
        for (int k = 0; k < s.OutChannels; k++)
        {
            int g = k / Kg;
            for (int c = 0; c < Cg; c++)
            for (int r = 0; r < R; r++)
            for (int x = 0; x < S; x++)
            {
                double sum = 0;
                for (int n = 0; n < s.Batch; n++)
                for (int oh = 0; oh < OH; oh++)
                {
                    int ih = oh * s.StrideHeight - s.PadTop + r * s.DilationHeight;
                    if (ih < 0 || ih >= H) continue;
                    for (int ow = 0; ow < OW; ow++)
                    {
                        int iw = ow * s.StrideWidth - s.PadLeft + x * s.DilationWidth;
                        if (iw < 0 || iw >= W) continue;
                        sum += (double)gradOutput[((n * s.OutChannels + k) * OH + oh) * OW + ow]
                             * input[((n * s.InChannels + g * Cg + c) * H + ih) * W + iw];
                    }
                }
                gradWeight[((k * Cg + c) * R + r) * S + x] += (float)sum;
            }
            if (!gradBias.IsEmpty)
            {
                double bsum = 0;
                for (int n = 0; n < s.Batch; n++)
                for (int p = 0; p < OH * OW; p++)
                    bsum += gradOutput[(n * s.OutChannels + k) * OH * OW + p];
                gradBias[k] += (float)bsum;
            }
        }
    }
}
