using System.Numerics.Tensors;

namespace Fovea.Kernels;

// Legend: N = batch, C = channels, HW = height*width of one plane (NCHW); output is N×C (one value per plane).

/// <summary>Global average and max pooling: one output per (n, c) plane.</summary>
public static class GlobalPool2d
{
    /// <summary>output[n, c] = mean of the plane. Caches nothing.</summary>
    public static void AverageForward(int n, int c, int hw, ReadOnlySpan<float> input, Span<float> output)
    {
        Check(n, c, hw, input.Length, "Input", output.Length, "Output", -1);
        if (hw == 0) { output.Clear(); return; }
        float inv = 1f / hw;
        for (int p = 0; p < output.Length; p++) output[p] = TensorPrimitives.Sum(input.Slice(p * hw, hw)) * inv;
    }

    /// <summary>gradInput[n, c, :] += gradOutput[n, c] / HW.</summary>
    public static void AverageBackward(int n, int c, int hw, ReadOnlySpan<float> gradOutput, Span<float> gradInput)
    {
        Check(n, c, hw, gradInput.Length, "Input gradient", gradOutput.Length, "Output gradient", -1);
        if (hw == 0) return;
        float inv = 1f / hw;
        for (int p = 0; p < gradOutput.Length; p++)
        {
            Span<float> plane = gradInput.Slice(p * hw, hw);
            TensorPrimitives.Add(plane, gradOutput[p] * inv, plane);
        }
    }

    /// <summary>
    /// output[n, c] = max of the plane; argmax (length N*C, required) receives the flat index into the input of the winner,
    /// for <see cref="MaxBackward"/>. Ties go to the first element; the first NaN wins; +0 beats -0. Requires HW &gt; 0.
    /// </summary>
    public static void MaxForward(int n, int c, int hw, ReadOnlySpan<float> input, Span<float> output, Span<int> argmax)
    {
        Check(n, c, hw, input.Length, "Input", output.Length, "Output", argmax.Length);
        if (hw == 0 && output.Length > 0) throw new ArgumentException($"Global max pooling needs non-empty planes. Received: HW={hw}.");
        for (int p = 0; p < output.Length; p++)
        {
            ReadOnlySpan<float> plane = input.Slice(p * hw, hw);
            int i = TensorPrimitives.IndexOfMax(plane);
            output[p] = plane[i];
            argmax[p] = p * hw + i;
        }
    }

    /// <summary>gradInput[argmax[p]] += gradOutput[p].</summary>
    public static void MaxBackward(int n, int c, int hw, ReadOnlySpan<float> gradOutput, ReadOnlySpan<int> argmax, Span<float> gradInput)
    {
        Check(n, c, hw, gradInput.Length, "Input gradient", gradOutput.Length, "Output gradient", argmax.Length);
        for (int p = 0; p < gradOutput.Length; p++)
        {
            int a = argmax[p];
            if ((uint)(a - p * hw) >= (uint)hw)
                throw new ArgumentException($"Argmax[{p}] = {a} lies outside its input plane [{p * hw}, {(p + 1) * hw}).");
            gradInput[a] += gradOutput[p];
        }
    }

    /// <summary>Naive twin of <see cref="AverageForward"/> (double accumulation).</summary>
    public static void AverageForwardReference(int n, int c, int hw, ReadOnlySpan<float> input, Span<float> output)
    {
        Check(n, c, hw, input.Length, "Input", output.Length, "Output", -1);
        for (int p = 0; p < output.Length; p++)
        {
            double sum = 0;
            for (int i = 0; i < hw; i++) sum += input[p * hw + i];
            output[p] = hw == 0 ? 0f : (float)(sum / hw);
        }
    }

    /// <summary>Naive twin of <see cref="AverageBackward"/>.</summary>
    public static void AverageBackwardReference(int n, int c, int hw, ReadOnlySpan<float> gradOutput, Span<float> gradInput)
    {
        Check(n, c, hw, gradInput.Length, "Input gradient", gradOutput.Length, "Output gradient", -1);
        for (int p = 0; p < gradOutput.Length; p++)
            for (int i = 0; i < hw; i++)
                gradInput[p * hw + i] += gradOutput[p] / hw;
    }

    /// <summary>Naive twin of <see cref="MaxForward"/>.</summary>
    public static void MaxForwardReference(int n, int c, int hw, ReadOnlySpan<float> input, Span<float> output, Span<int> argmax)
    {
        Check(n, c, hw, input.Length, "Input", output.Length, "Output", argmax.Length);
        if (hw == 0 && output.Length > 0) throw new ArgumentException($"Global max pooling needs non-empty planes. Received: HW={hw}.");
        for (int p = 0; p < output.Length; p++)
        {
            int best = p * hw;
            for (int i = p * hw + 1; i < (p + 1) * hw; i++)
            {
                float v = input[i], b = input[best];
                // As TensorPrimitives.IndexOfMax: +0 beats -0.
                if (v > b || (float.IsNaN(v) && !float.IsNaN(b)) || (v == 0 && b == 0 && float.IsNegative(b) && !float.IsNegative(v))) best = i;
            }
            output[p] = input[best];
            argmax[p] = best;
        }
    }

    /// <summary>Naive twin of <see cref="MaxBackward"/>.</summary>
    public static void MaxBackwardReference(int n, int c, int hw, ReadOnlySpan<float> gradOutput, ReadOnlySpan<int> argmax, Span<float> gradInput)
    {
        Check(n, c, hw, gradInput.Length, "Input gradient", gradOutput.Length, "Output gradient", argmax.Length);
        for (int p = 0; p < gradOutput.Length; p++) gradInput[argmax[p]] += gradOutput[p];
    }

    private static void Check(int n, int c, int hw, int inputLength, string inputName, int outputLength, string outputName, int argmaxLength)
    {
        KernelChecks.Dims(n, c, hw);
        long need = (long)n * c * hw;
        if (inputLength != need)
            throw new ArgumentException($"{inputName} span has {inputLength} elements but the shape needs {need} (N={n}, C={c}, HW={hw}).");
        if (outputLength != n * c)
            throw new ArgumentException($"{outputName} span has {outputLength} elements but the shape needs N*C = {n * c} (N={n}, C={c}, HW={hw}).");
        if (argmaxLength >= 0 && argmaxLength != n * c)
            throw new ArgumentException($"Argmax span has {argmaxLength} elements but the shape needs N*C = {n * c} (N={n}, C={c}, HW={hw}).");
    }
}
