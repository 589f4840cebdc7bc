using System.Numerics.Tensors;

namespace Fovea.Kernels;

// Legend: N = batch, C = channels, HW = height*width of one plane (NCHW layout: a plane is HW contiguous floats).
// Flat element-wise helpers use plain lengths; every span pair must have equal length.

/// <summary>
/// Element-wise helpers: residual add, per-channel bias add and its gradient, axpy.
/// Forward functions overwrite their output (or update in place where the name says so); gradient functions accumulate (+=).
/// </summary>
public static class Elementwise
{
    /// <summary>y = a + b (the residual connection). Backward is the identity: add gradY into both inputs' gradients (see <see cref="Axpy"/>).</summary>
    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        KernelChecks.SameLength(a.Length, b.Length, "Second input", "first input");
        KernelChecks.SameLength(y.Length, a.Length, "Output", "input");
        TensorPrimitives.Add(a, b, y);
    }

    /// <summary>Naive twin of <see cref="Add"/>.</summary>
    public static void AddReference(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        KernelChecks.SameLength(a.Length, b.Length, "Second input", "first input");
        KernelChecks.SameLength(y.Length, a.Length, "Output", "input");
        for (int i = 0; i < a.Length; i++) y[i] = a[i] + b[i];
    }

    /// <summary>y += alpha * x.</summary>
    public static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y)
    {
        KernelChecks.SameLength(y.Length, x.Length, "Destination", "source");
        TensorPrimitives.MultiplyAdd(x, alpha, y, y);
    }

    /// <summary>Naive twin of <see cref="Axpy"/>.</summary>
    public static void AxpyReference(float alpha, ReadOnlySpan<float> x, Span<float> y)
    {
        KernelChecks.SameLength(y.Length, x.Length, "Destination", "source");
        for (int i = 0; i < x.Length; i++) y[i] += alpha * x[i];
    }

    /// <summary>In place: data[n, c, :] += bias[c] for an N×C×HW tensor.</summary>
    public static void AddBiasPerChannel(int n, int c, int hw, Span<float> data, ReadOnlySpan<float> bias)
    {
        KernelChecks.PerChannel(n, c, hw, data.Length, "Data", bias.Length, "Bias");
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
            {
                Span<float> plane = data.Slice((b * c + ch) * hw, hw);
                TensorPrimitives.Add(plane, bias[ch], plane);
            }
    }

    /// <summary>Naive twin of <see cref="AddBiasPerChannel"/>.</summary>
    public static void AddBiasPerChannelReference(int n, int c, int hw, Span<float> data, ReadOnlySpan<float> bias)
    {
        KernelChecks.PerChannel(n, c, hw, data.Length, "Data", bias.Length, "Bias");
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < hw; i++)
                    data[(b * c + ch) * hw + i] += bias[ch];
    }

    /// <summary>gradBias[c] += sum over n and hw of grad[n, c, :] (the gradient of <see cref="AddBiasPerChannel"/>). Accumulates in double per channel.</summary>
    public static void SumPerChannel(int n, int c, int hw, ReadOnlySpan<float> grad, Span<float> gradBias)
    {
        KernelChecks.PerChannel(n, c, hw, grad.Length, "Gradient", gradBias.Length, "Bias gradient");
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0;
            for (int b = 0; b < n; b++) sum += TensorPrimitives.Sum(grad.Slice((b * c + ch) * hw, hw));
            gradBias[ch] += (float)sum;
        }
    }

    /// <summary>Naive twin of <see cref="SumPerChannel"/>.</summary>
    public static void SumPerChannelReference(int n, int c, int hw, ReadOnlySpan<float> grad, Span<float> gradBias)
    {
        KernelChecks.PerChannel(n, c, hw, grad.Length, "Gradient", gradBias.Length, "Bias gradient");
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0;
            for (int b = 0; b < n; b++)
                for (int i = 0; i < hw; i++)
                    sum += grad[(b * c + ch) * hw + i];
            gradBias[ch] += (float)sum;
        }
    }
}

/// <summary>Argument checks shared by the numeric kernels; messages repeat the received values.</summary>
internal static class KernelChecks
{
    public static void SameLength(int actual, int expected, string what, string reference)
    {
        if (actual != expected)
            throw new ArgumentException($"{what} span has {actual} elements but the {reference} has {expected}.");
    }

    public static void Length(int actual, int expected, string what, string needs)
    {
        if (actual != expected)
            throw new ArgumentException($"{what} span has {actual} elements but {needs} needs {expected}.");
    }

    /// <summary>Checks an N×C×HW tensor span and a per-channel span of length C.</summary>
    public static void PerChannel(int n, int c, int hw, int dataLength, string dataName, int channelLength, string channelName)
    {
        Dims(n, c, hw);
        long need = (long)n * c * hw;
        if (dataLength != need)
            throw new ArgumentException($"{dataName} span has {dataLength} elements but the shape needs {need} (N={n}, C={c}, HW={hw}).");
        if (channelLength != c)
            throw new ArgumentException($"{channelName} span has {channelLength} elements but the shape needs one per channel: {c} (N={n}, C={c}, HW={hw}).");
    }

    public static void Dims(int n, int c, int hw)
    {
        if (n < 0 || c < 0 || hw < 0)
            throw new ArgumentException($"Sizes must be non-negative. Received: N={n}, C={c}, HW={hw}.");
        if ((long)n * c * hw > int.MaxValue)
            throw new ArgumentException($"Tensor too large for a span: N={n}, C={c}, HW={hw}.");
    }

    public static void Matrix(int rows, int cols, int length, string what)
    {
        if (rows < 0 || cols < 0)
            throw new ArgumentException($"Rows and columns must be non-negative. Received: rows={rows}, cols={cols}.");
        long need = (long)rows * cols;
        if (length != need)
            throw new ArgumentException($"{what} span has {length} elements but the shape needs {need} (rows={rows}, cols={cols}).");
    }
}

/// <summary>How many parallel parts a kernel should use: bounded by items, by <see cref="Parallelism.Degree"/>, and by total work.</summary>
internal static class KernelSplit
{
    /// <summary>Below about this many scalar operations per part, threads cost more than they save.</summary>
    public const long MinWorkPerPart = 1 << 15;

    public static int Parts(int items, long totalWork)
    {
        if (items <= 1 || Parallelism.Degree == 1 || Parallelism.InsideParallelRegion) return 1;
        long byWork = totalWork / MinWorkPerPart;
        long parts = Math.Min(Math.Min(byWork, items), Parallelism.Degree);
        return (int)Math.Max(1, parts);
    }

    /// <summary>Start (inclusive) of part <paramref name="part"/> of <paramref name="items"/> split into <paramref name="parts"/>.</summary>
    public static int Start(int part, int parts, int items) => (int)((long)items * part / parts);
}
