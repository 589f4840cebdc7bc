namespace Fovea.Kernels;

// Legend: N C H W = batch, input channels, input height/width; K = filters (OutChannels), R S = kernel height/width;
// OH OW = output height/width, P = OH*OW; G = groups, Cg = C/G, Kg = K/G.
// Layouts (row-major): input N×C×H×W, weight K×Cg×R×S (OIHW), bias K, output N×K×OH×OW.
// Per image and group the convolution is the matrix product W_g [Kg × Cg·R·S] · cols [Cg·R·S × P],
// where cols is the im2col unfolding of the image's Cg channels.

/// <summary>
/// 2-D convolution kernels on spans (forward, gradient with respect to the input, gradient with respect to the
/// weights and bias), each with a naive reference twin used as the exactness oracle in tests.
/// </summary>
public static partial class Conv2d
{
    /// <summary>
    /// Convolution forward pass. <paramref name="output"/> [N×K×OH×OW] is overwritten with
    /// conv(<paramref name="input"/> [N×C×H×W], <paramref name="weight"/> [K×Cg×R×S]) + <paramref name="bias"/> [K],
    /// then ReLU when <paramref name="relu"/> (fused activation for inference).
    /// </summary>
    /// <param name="s">Geometry.</param>
    /// <param name="input">Input, N×C×H×W.</param>
    /// <param name="weight">Filters, K×(C/G)×R×S.</param>
    /// <param name="bias">Per-filter bias of length K, or empty for none.</param>
    /// <param name="output">Destination, N×K×OH×OW; overwritten.</param>
    /// <param name="relu">Apply max(0, x) to the result.</param>
    public static void Forward(in Conv2dShape s, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, bool relu = false)
    {
        ValidateForward(s, input, weight, bias, output);
        if (s.Batch == 0) return;
        ForwardFast(s, input, weight, bias, output, relu);
    }

    /// <summary>
    /// Gradient with respect to the input: <paramref name="gradInput"/> [N×C×H×W] += conv^T(<paramref name="gradOutput"/>
    /// [N×K×OH×OW], <paramref name="weight"/> [K×Cg×R×S]). Accumulates, or overwrites when <paramref name="accumulate"/> is
    /// false (then gradInput's previous contents do not matter).
    /// </summary>
    /// <param name="s">Geometry.</param>
    /// <param name="gradOutput">Gradient of the loss with respect to the output, N×K×OH×OW.</param>
    /// <param name="weight">Filters, K×(C/G)×R×S.</param>
    /// <param name="gradInput">Accumulated gradient with respect to the input, N×C×H×W.</param>
    /// <param name="accumulate">Add into gradInput (default) or overwrite it.</param>
    /// <param name="reluOutput">
    /// Empty (default), or the output N×K×OH×OW of a forward pass run with the fused ReLU: gradOutput is then the
    /// gradient after the ReLU, and is taken as zero wherever reluOutput is not positive.
    /// </param>
    public static void BackwardInput(in Conv2dShape s, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> weight,
        Span<float> gradInput, bool accumulate = true, ReadOnlySpan<float> reluOutput = default)
    {
        ValidateBackwardInput(s, gradOutput, weight, gradInput);
        CheckReluOutput(s, reluOutput);
        if (s.Batch == 0) return;
        BackwardInputFast(s, gradOutput, reluOutput, weight, gradInput, accumulate);
    }

    /// <summary>
    /// Gradient with respect to the weights and bias: <paramref name="gradWeight"/> [K×Cg×R×S] += Σ_images dY·colsᵀ and
    /// <paramref name="gradBias"/> [K] += Σ over images and pixels of dY. Accumulates; zeroing is the caller's job.
    /// </summary>
    /// <param name="s">Geometry.</param>
    /// <param name="gradOutput">Gradient of the loss with respect to the output, N×K×OH×OW.</param>
    /// <param name="input">Forward input, N×C×H×W.</param>
    /// <param name="gradWeight">Accumulated weight gradient, K×(C/G)×R×S.</param>
    /// <param name="gradBias">Accumulated bias gradient of length K, or empty to skip it.</param>
    /// <param name="reluOutput">Empty (default), or the output of a forward pass with the fused ReLU (see <see cref="BackwardInput"/>).</param>
    public static void BackwardWeight(in Conv2dShape s, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> input,
        Span<float> gradWeight, Span<float> gradBias, ReadOnlySpan<float> reluOutput = default)
    {
        ValidateBackwardWeight(s, gradOutput, input, gradWeight, gradBias);
        CheckReluOutput(s, reluOutput);
        if (s.Batch == 0) return;
        BackwardWeightFast(s, gradOutput, reluOutput, input, gradWeight, gradBias);
    }

    // ---- validation (shared with the reference twins, so both reject exactly the same calls) ----

    private static void ValidateForward(in Conv2dShape s, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, ReadOnlySpan<float> output)
    {
        s.Validate();
        CheckInput(s, input.Length, "Input", nameof(input));
        CheckWeight(s, weight.Length, "Weight", nameof(weight));
        CheckBias(s, bias.Length, "Bias", nameof(bias));
        CheckOutput(s, output.Length, "Output", nameof(output));
    }

    private static void ValidateBackwardInput(in Conv2dShape s, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> gradInput)
    {
        s.Validate();
        CheckOutput(s, gradOutput.Length, "GradOutput", nameof(gradOutput));
        CheckWeight(s, weight.Length, "Weight", nameof(weight));
        CheckInput(s, gradInput.Length, "GradInput", nameof(gradInput));
    }

    private static void ValidateBackwardWeight(in Conv2dShape s, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> input,
        ReadOnlySpan<float> gradWeight, ReadOnlySpan<float> gradBias)
    {
        s.Validate();
        CheckOutput(s, gradOutput.Length, "GradOutput", nameof(gradOutput));
        CheckInput(s, input.Length, "Input", nameof(input));
        CheckWeight(s, gradWeight.Length, "GradWeight", nameof(gradWeight));
        CheckBias(s, gradBias.Length, "GradBias", nameof(gradBias));
    }

    private static void CheckInput(in Conv2dShape s, int length, string what, string param)
    {
        if (length != s.InputLength)
            throw new ArgumentException($"{what} span has {length} elements but the shape (N={s.Batch}, C={s.InChannels}, H={s.InHeight}, W={s.InWidth}) needs {s.InputLength}.", param);
    }

    private static void CheckWeight(in Conv2dShape s, int length, string what, string param)
    {
        if (length != s.WeightLength)
            throw new ArgumentException($"{what} span has {length} elements but the shape (K={s.OutChannels}, C/groups={s.InChannelsPerGroup}, R={s.KernelHeight}, S={s.KernelWidth}) needs {s.WeightLength}.", param);
    }

    private static void CheckBias(in Conv2dShape s, int length, string what, string param)
    {
        if (length != 0 && length != s.OutChannels)
            throw new ArgumentException($"{what} span has {length} elements but must be empty or have K={s.OutChannels}.", param);
    }

    private static void CheckReluOutput(in Conv2dShape s, ReadOnlySpan<float> reluOutput)
    {
        if (!reluOutput.IsEmpty) CheckOutput(s, reluOutput.Length, "ReluOutput", nameof(reluOutput));
    }

    private static void CheckOutput(in Conv2dShape s, int length, string what, string param)
    {
        if (length != s.OutputLength)
            throw new ArgumentException($"{what} span has {length} elements but the shape (N={s.Batch}, K={s.OutChannels}, OH={s.OutHeight}, OW={s.OutWidth}) needs {s.OutputLength}.", param);
    }
}
