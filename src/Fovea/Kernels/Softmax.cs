using System.Numerics.Tensors;

namespace Fovea.Kernels;

// Legend: rows = independent vectors (e.g. batch), cols = classes; row-major rows×cols matrices; softmax runs along cols.

/// <summary>
/// Row-wise softmax and log-softmax, numerically stable (the row maximum is subtracted before exp).
/// Forward overwrites output (output may alias input); forward's output is what backward needs. Backward accumulates.
/// </summary>
public static class Softmax
{
    /// <summary>output[r, :] = exp(x - max) / sum(exp(x - max)).</summary>
    public static void Forward(int rows, int cols, ReadOnlySpan<float> input, Span<float> output)
    {
        Check(rows, cols, input.Length, output.Length);
        if (cols == 0) return;
        for (int r = 0; r < rows; r++) Row(input.Slice(r * cols, cols), output.Slice(r * cols, cols));
    }

    /// <summary>output[r, :] = x - max - log(sum(exp(x - max))).</summary>
    public static void LogForward(int rows, int cols, ReadOnlySpan<float> input, Span<float> output)
    {
        Check(rows, cols, input.Length, output.Length);
        if (cols == 0) return;
        for (int r = 0; r < rows; r++) LogRow(input.Slice(r * cols, cols), output.Slice(r * cols, cols));
    }

    /// <summary>gradInput += y ⊙ (gradY - dot(gradY, y)) per row, from the softmax OUTPUT y.</summary>
    public static void Backward(int rows, int cols, ReadOnlySpan<float> output, ReadOnlySpan<float> gradOutput, Span<float> gradInput)
    {
        CheckBackward(rows, cols, output.Length, gradOutput.Length, gradInput.Length);
        if (cols == 0) return;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> y = output.Slice(r * cols, cols), gy = gradOutput.Slice(r * cols, cols);
            Span<float> gx = gradInput.Slice(r * cols, cols);
            float dot = TensorPrimitives.Dot(gy, y);
            // gx += y * (gy - dot) == gx + y*gy - dot*y
            TensorPrimitives.FusedMultiplyAdd(y, gy, gx, gx);
            TensorPrimitives.MultiplyAdd(y, -dot, gx, gx);
        }
    }

    /// <summary>gradInput += gradY - exp(y) · sum(gradY) per row, from the log-softmax OUTPUT y.</summary>
    public static void LogBackward(int rows, int cols, ReadOnlySpan<float> output, ReadOnlySpan<float> gradOutput, Span<float> gradInput)
    {
        CheckBackward(rows, cols, output.Length, gradOutput.Length, gradInput.Length);
        if (cols == 0) return;
        Span<float> p = cols <= 1024 ? stackalloc float[cols] : new float[cols];
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> y = output.Slice(r * cols, cols), gy = gradOutput.Slice(r * cols, cols);
            Span<float> gx = gradInput.Slice(r * cols, cols);
            float sum = TensorPrimitives.Sum(gy);
            TensorPrimitives.Exp(y, p);
            TensorPrimitives.Add(gx, gy, gx);
            TensorPrimitives.MultiplyAdd(p, -sum, gx, gx);
        }
    }

    /// <summary>Naive twin of <see cref="Forward"/> (double precision).</summary>
    public static void ForwardReference(int rows, int cols, ReadOnlySpan<float> input, Span<float> output)
    {
        Check(rows, cols, input.Length, output.Length);
        for (int r = 0; r < rows; r++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int j = 0; j < cols; j++) max = Math.Max(max, input[r * cols + j]);
            for (int j = 0; j < cols; j++) sum += Math.Exp(input[r * cols + j] - max);
            for (int j = 0; j < cols; j++) output[r * cols + j] = (float)(Math.Exp(input[r * cols + j] - max) / sum);
        }
    }

    /// <summary>Naive twin of <see cref="LogForward"/> (double precision).</summary>
    public static void LogForwardReference(int rows, int cols, ReadOnlySpan<float> input, Span<float> output)
    {
        Check(rows, cols, input.Length, output.Length);
        for (int r = 0; r < rows; r++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int j = 0; j < cols; j++) max = Math.Max(max, input[r * cols + j]);
            for (int j = 0; j < cols; j++) sum += Math.Exp(input[r * cols + j] - max);
            double logSum = Math.Log(sum);
            for (int j = 0; j < cols; j++) output[r * cols + j] = (float)(input[r * cols + j] - max - logSum);
        }
    }

    /// <summary>Naive twin of <see cref="Backward"/>.</summary>
    public static void BackwardReference(int rows, int cols, ReadOnlySpan<float> output, ReadOnlySpan<float> gradOutput, Span<float> gradInput)
    {
        CheckBackward(rows, cols, output.Length, gradOutput.Length, gradInput.Length);
        for (int r = 0; r < rows; r++)
        {
            double dot = 0;
            for (int j = 0; j < cols; j++) dot += (double)gradOutput[r * cols + j] * output[r * cols + j];
            for (int j = 0; j < cols; j++) gradInput[r * cols + j] += (float)(output[r * cols + j] * (gradOutput[r * cols + j] - dot));
        }
    }

    /// <summary>Naive twin of <see cref="LogBackward"/>.</summary>
    public static void LogBackwardReference(int rows, int cols, ReadOnlySpan<float> output, ReadOnlySpan<float> gradOutput, Span<float> gradInput)
    {
        CheckBackward(rows, cols, output.Length, gradOutput.Length, gradInput.Length);
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            for (int j = 0; j < cols; j++) sum += gradOutput[r * cols + j];
            for (int j = 0; j < cols; j++) gradInput[r * cols + j] += (float)(gradOutput[r * cols + j] - Math.Exp(output[r * cols + j]) * sum);
        }
    }

    /// <summary>Softmax of one row (cols &gt; 0); y may alias x.</summary>
    internal static void Row(ReadOnlySpan<float> x, Span<float> y)
    {
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Exp(y, y);
        float sum = TensorPrimitives.Sum(y);
        TensorPrimitives.Multiply(y, 1f / sum, y);
    }

    /// <summary>Log-softmax of one row (cols &gt; 0); y may alias x. Returns log(sum(exp(x - max))) + max, the row's log-partition.</summary>
    internal static float LogRow(ReadOnlySpan<float> x, Span<float> y)
    {
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        // sum(exp(y)) without a scratch buffer: exp in place, sum, then log back would lose precision; recompute instead.
        float sum = 0;
        Span<float> chunk = stackalloc float[256];
        for (int i = 0; i < y.Length; i += chunk.Length)
        {
            int len = Math.Min(chunk.Length, y.Length - i);
            TensorPrimitives.Exp(y.Slice(i, len), chunk[..len]);
            sum += TensorPrimitives.Sum(chunk[..len]);
        }
        float logSum = MathF.Log(sum);
        TensorPrimitives.Subtract(y, logSum, y);
        return max + logSum;
    }

    private static void Check(int rows, int cols, int inputLength, int outputLength)
    {
        KernelChecks.Matrix(rows, cols, inputLength, "Input");
        KernelChecks.Matrix(rows, cols, outputLength, "Output");
    }

    private static void CheckBackward(int rows, int cols, int outputLength, int gradOutputLength, int gradInputLength)
    {
        KernelChecks.Matrix(rows, cols, outputLength, "Output");
        KernelChecks.Matrix(rows, cols, gradOutputLength, "Output gradient");
        KernelChecks.Matrix(rows, cols, gradInputLength, "Input gradient");
    }
}
