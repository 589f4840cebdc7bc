using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fovea.Kernels;

// Legend: N = batch, C = channels, HW = height*width of one plane (NCHW); statistics are per channel over M = N*HW values.
// x̂ = (x − mean)·invStd, invStd = 1/sqrt(var + ε), y = γ·x̂ + β.

/// <summary>
/// 2-D batch normalisation (per channel over N, H, W). Statistics use two passes (mean, then squared deviations),
/// accumulated per plane in float vectors and across planes in double. Work is split over channels for big inputs.
/// </summary>
public static unsafe class BatchNorm2d
{
    /// <summary>PyTorch default momentum for the running statistics: running = (1 − momentum)·running + momentum·batch.</summary>
    public const float DefaultMomentum = 0.1f;
    /// <summary>PyTorch default ε added to the variance.</summary>
    public const float DefaultEpsilon = 1e-5f;

    /// <summary>
    /// Normalises with the batch statistics (biased variance) and updates the running statistics in place
    /// (running = (1 − momentum)·running + momentum·batch, the running variance using the UNBIASED batch variance, M/(M−1), as PyTorch;
    /// <see cref="DefaultMomentum"/> = 0.1). Caches the batch mean and invStd per channel in savedMean/savedInvStd: <see cref="Backward"/> needs them.
    /// Needs more than one value per channel (N·HW &gt; 1).
    /// </summary>
    public static void ForwardTraining(int n, int c, int hw, ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        float epsilon, float momentum, Span<float> runningMean, Span<float> runningVar, Span<float> output, Span<float> savedMean, Span<float> savedInvStd)
    {
        CheckTraining(n, c, hw, input.Length, gamma.Length, beta.Length, epsilon, momentum, runningMean.Length, runningVar.Length, output.Length, savedMean.Length, savedInvStd.Length);
        int parts = KernelSplit.Parts(c, 3L * n * c * hw);
        if (parts == 1)
        {
            for (int ch = 0; ch < c; ch++) TrainChannel(n, c, hw, ch, input, gamma, beta, epsilon, momentum, runningMean, runningVar, output, savedMean, savedInvStd);
            return;
        }
        fixed (float* pIn = input) fixed (float* pG = gamma) fixed (float* pB = beta) fixed (float* pRm = runningMean) fixed (float* pRv = runningVar)
        fixed (float* pOut = output) fixed (float* pSm = savedMean) fixed (float* pSi = savedInvStd)
        {
            nint aIn = (nint)pIn, aG = (nint)pG, aB = (nint)pB, aRm = (nint)pRm, aRv = (nint)pRv, aOut = (nint)pOut, aSm = (nint)pSm, aSi = (nint)pSi;
            int len = input.Length;
            Parallelism.For(parts, part =>
            {
                int end = KernelSplit.Start(part + 1, parts, c);
                for (int ch = KernelSplit.Start(part, parts, c); ch < end; ch++)
                    TrainChannel(n, c, hw, ch, new ReadOnlySpan<float>((void*)aIn, len), new ReadOnlySpan<float>((void*)aG, c), new ReadOnlySpan<float>((void*)aB, c),
                        epsilon, momentum, new Span<float>((void*)aRm, c), new Span<float>((void*)aRv, c), new Span<float>((void*)aOut, len),
                        new Span<float>((void*)aSm, c), new Span<float>((void*)aSi, c));
            });
        }
    }

    /// <summary>y = γ·(x − runningMean)/sqrt(runningVar + ε) + β. Caches nothing.</summary>
    public static void ForwardInference(int n, int c, int hw, ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, float epsilon, Span<float> output)
    {
        CheckInference(n, c, hw, input.Length, gamma.Length, beta.Length, runningMean.Length, runningVar.Length, epsilon, output.Length);
        for (int ch = 0; ch < c; ch++)
        {
            float scale = (float)(gamma[ch] / Math.Sqrt((double)runningVar[ch] + epsilon));
            float shift = beta[ch] - runningMean[ch] * scale;
            for (int b = 0; b < n; b++)
            {
                int o = (b * c + ch) * hw;
                ScaleShift(input.Slice(o, hw), scale, shift, output.Slice(o, hw));
            }
        }
    }

    /// <summary>
    /// Accumulates gradInput += γ·invStd·(dy − mean(dy) − x̂·mean(dy·x̂)), gradGamma += Σ dy·x̂, gradBeta += Σ dy,
    /// using the forward input and the savedMean/savedInvStd cached by <see cref="ForwardTraining"/>. With
    /// <paramref name="accumulateInput"/> false, gradInput is overwritten instead (its previous contents do not matter).
    /// </summary>
    public static void Backward(int n, int c, int hw, ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> savedMean, ReadOnlySpan<float> savedInvStd, Span<float> gradInput, Span<float> gradGamma, Span<float> gradBeta,
        bool accumulateInput = true)
    {
        CheckBackward(n, c, hw, input.Length, gradOutput.Length, gamma.Length, savedMean.Length, savedInvStd.Length, gradInput.Length, gradGamma.Length, gradBeta.Length);
        int parts = KernelSplit.Parts(c, 3L * n * c * hw);
        if (parts == 1)
        {
            for (int ch = 0; ch < c; ch++) BackwardChannel(n, c, hw, ch, input, gradOutput, gamma, savedMean, savedInvStd, gradInput, gradGamma, gradBeta, accumulateInput);
            return;
        }
        fixed (float* pIn = input) fixed (float* pGo = gradOutput) fixed (float* pG = gamma) fixed (float* pSm = savedMean) fixed (float* pSi = savedInvStd)
        fixed (float* pGi = gradInput) fixed (float* pGg = gradGamma) fixed (float* pGb = gradBeta)
        {
            nint aIn = (nint)pIn, aGo = (nint)pGo, aG = (nint)pG, aSm = (nint)pSm, aSi = (nint)pSi, aGi = (nint)pGi, aGg = (nint)pGg, aGb = (nint)pGb;
            int len = input.Length;
            Parallelism.For(parts, part =>
            {
                int end = KernelSplit.Start(part + 1, parts, c);
                for (int ch = KernelSplit.Start(part, parts, c); ch < end; ch++)
                    BackwardChannel(n, c, hw, ch, new ReadOnlySpan<float>((void*)aIn, len), new ReadOnlySpan<float>((void*)aGo, len),
                        new ReadOnlySpan<float>((void*)aG, c), new ReadOnlySpan<float>((void*)aSm, c), new ReadOnlySpan<float>((void*)aSi, c),
                        new Span<float>((void*)aGi, len), new Span<float>((void*)aGg, c), new Span<float>((void*)aGb, c), accumulateInput);
            });
        }
    }

    /// <summary>Naive twin of <see cref="ForwardTraining"/> (double precision, two passes).</summary>
    public static void ForwardTrainingReference(int n, int c, int hw, ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        float epsilon, float momentum, Span<float> runningMean, Span<float> runningVar, Span<float> output, Span<float> savedMean, Span<float> savedInvStd)
    {
        CheckTraining(n, c, hw, input.Length, gamma.Length, beta.Length, epsilon, momentum, runningMean.Length, runningVar.Length, output.Length, savedMean.Length, savedInvStd.Length);
        long m = (long)n * hw;
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0, sq = 0;
            for (int b = 0; b < n; b++) for (int i = 0; i < hw; i++) sum += input[(b * c + ch) * hw + i];
            double mean = sum / m;
            for (int b = 0; b < n; b++) for (int i = 0; i < hw; i++) { double d = input[(b * c + ch) * hw + i] - mean; sq += d * d; }
            double variance = sq / m;
            double invStd = 1.0 / Math.Sqrt(variance + epsilon);
            for (int b = 0; b < n; b++)
                for (int i = 0; i < hw; i++)
                {
                    int o = (b * c + ch) * hw + i;
                    output[o] = (float)(gamma[ch] * (input[o] - mean) * invStd + beta[ch]);
                }
            savedMean[ch] = (float)mean;
            savedInvStd[ch] = (float)invStd;
            runningMean[ch] = (float)((1.0 - momentum) * runningMean[ch] + momentum * mean);
            runningVar[ch] = (float)((1.0 - momentum) * runningVar[ch] + momentum * sq / (m - 1));
        }
    }

    /// <summary>Naive twin of <see cref="ForwardInference"/>.</summary>
    public static void ForwardInferenceReference(int n, int c, int hw, ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, float epsilon, Span<float> output)
    {
        CheckInference(n, c, hw, input.Length, gamma.Length, beta.Length, runningMean.Length, runningVar.Length, epsilon, output.Length);
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < hw; i++)
                {
                    int o = (b * c + ch) * hw + i;
                    output[o] = (float)(gamma[ch] * (input[o] - runningMean[ch]) / Math.Sqrt((double)runningVar[ch] + epsilon) + beta[ch]);
                }
    }

    /// <summary>Naive twin of <see cref="Backward"/> (double precision).</summary>
    public static void BackwardReference(int n, int c, int hw, ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> savedMean, ReadOnlySpan<float> savedInvStd, Span<float> gradInput, Span<float> gradGamma, Span<float> gradBeta)
    {
        CheckBackward(n, c, hw, input.Length, gradOutput.Length, gamma.Length, savedMean.Length, savedInvStd.Length, gradInput.Length, gradGamma.Length, gradBeta.Length);
        long m = (long)n * hw;
        for (int ch = 0; ch < c; ch++)
        {
            double sumDy = 0, sumDyXhat = 0;
            for (int b = 0; b < n; b++)
                for (int i = 0; i < hw; i++)
                {
                    int o = (b * c + ch) * hw + i;
                    sumDy += gradOutput[o];
                    sumDyXhat += (double)gradOutput[o] * (input[o] - savedMean[ch]) * savedInvStd[ch];
                }
            for (int b = 0; b < n; b++)
                for (int i = 0; i < hw; i++)
                {
                    int o = (b * c + ch) * hw + i;
                    double xhat = (input[o] - savedMean[ch]) * (double)savedInvStd[ch];
                    gradInput[o] += (float)(gamma[ch] * savedInvStd[ch] * (gradOutput[o] - sumDy / m - xhat * sumDyXhat / m));
                }
            gradGamma[ch] += (float)sumDyXhat;
            gradBeta[ch] += (float)sumDy;
        }
    }

    private static void TrainChannel(int n, int c, int hw, int ch, ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        float epsilon, float momentum, Span<float> runningMean, Span<float> runningVar, Span<float> output, Span<float> savedMean, Span<float> savedInvStd)
    {
        long m = (long)n * hw;
        double sum = 0;
        for (int b = 0; b < n; b++) sum += SumAsDouble(input.Slice((b * c + ch) * hw, hw));
        double mean = sum / m;
        double sq = 0;
        for (int b = 0; b < n; b++) sq += SumSquaredDeviation(input.Slice((b * c + ch) * hw, hw), (float)mean);
        double variance = sq / m;
        double invStd = 1.0 / Math.Sqrt(variance + epsilon);
        float scale = (float)(gamma[ch] * invStd);
        float shift = (float)(beta[ch] - mean * gamma[ch] * invStd);
        for (int b = 0; b < n; b++)
        {
            int o = (b * c + ch) * hw;
            ScaleShift(input.Slice(o, hw), scale, shift, output.Slice(o, hw));
        }
        savedMean[ch] = (float)mean;
        savedInvStd[ch] = (float)invStd;
        runningMean[ch] = (float)((1.0 - momentum) * runningMean[ch] + momentum * mean);
        runningVar[ch] = (float)((1.0 - momentum) * runningVar[ch] + momentum * sq / (m - 1));
    }

    private static void BackwardChannel(int n, int c, int hw, int ch, ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> savedMean, ReadOnlySpan<float> savedInvStd, Span<float> gradInput, Span<float> gradGamma, Span<float> gradBeta,
        bool accumulateInput)
    {
        long m = (long)n * hw;
        float mean = savedMean[ch], invStd = savedInvStd[ch];
        double sumDy = 0, sumDyXmu = 0;
        for (int b = 0; b < n; b++)
        {
            int o = (b * c + ch) * hw;
            sumDy += SumAsDouble(gradOutput.Slice(o, hw));
            sumDyXmu += DotCentred(gradOutput.Slice(o, hw), input.Slice(o, hw), mean);
        }
        // gx += a·dy + k·(x − mean) + d with a = γ·invStd, k = −a·invStd²·Σdy(x−mean)/M, d = −a·Σdy/M
        double a = (double)gamma[ch] * invStd;
        float fa = (float)a;
        float fk = (float)(-a * invStd * invStd * sumDyXmu / m);
        float fd = (float)(-a * sumDy / m);
        for (int b = 0; b < n; b++)
        {
            int o = (b * c + ch) * hw;
            AccumulateGradInput(gradOutput.Slice(o, hw), input.Slice(o, hw), gradInput.Slice(o, hw), mean, fa, fk, fd, accumulateInput);
        }
        gradGamma[ch] += (float)(sumDyXmu * invStd);
        gradBeta[ch] += (float)sumDy;
    }

    // The loops below use Vector<float>, as wide as the hardware allows (8 lanes with AVX, 4 on ARM64 AdvSimd).

    /// <summary>y = x·scale + shift.</summary>
    private static void ScaleShift(ReadOnlySpan<float> x, float scale, float shift, Span<float> y)
    {
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        int len = x.Length, i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> vs = new(scale), vb = new(shift);
            for (; i + Vector<float>.Count <= len; i += Vector<float>.Count)
                (Vector.LoadUnsafe(ref rx, (nuint)i) * vs + vb).StoreUnsafe(ref ry, (nuint)i);
        }
        for (; i < len; i++) Unsafe.Add(ref ry, i) = Unsafe.Add(ref rx, i) * scale + shift;
    }

    /// <summary>Σ (x − mean)² with float vector accumulators, returned as double.</summary>
    private static double SumSquaredDeviation(ReadOnlySpan<float> x, float mean)
    {
        ref float rx = ref MemoryMarshal.GetReference(x);
        int len = x.Length, i = 0, width = Vector<float>.Count;
        double total = 0;
        if (Vector.IsHardwareAccelerated)
        {
            // Two accumulators: consecutive additions need not wait for each other.
            Vector<float> acc0 = Vector<float>.Zero, acc1 = Vector<float>.Zero, vm = new(mean);
            for (; i + 2 * width <= len; i += 2 * width)
            {
                Vector<float> d0 = Vector.LoadUnsafe(ref rx, (nuint)i) - vm;
                Vector<float> d1 = Vector.LoadUnsafe(ref rx, (nuint)(i + width)) - vm;
                acc0 += d0 * d0;
                acc1 += d1 * d1;
            }
            total = Vector.Sum(acc0 + acc1);
        }
        for (; i < len; i++) { float d = Unsafe.Add(ref rx, i) - mean; total += d * d; }
        return total;
    }

    /// <summary>
    /// Σ x, in float over short runs and in double across them: one float sum over a whole plane of values with a
    /// large common offset (activations around 10⁴) loses the digits the variance is made of, the more so the fewer
    /// vector lanes split it (128-bit hardware).
    /// </summary>
    private static double SumAsDouble(ReadOnlySpan<float> x)
    {
        const int Run = 64;
        double total = 0;
        for (int i = 0; i < x.Length; i += Run) total += TensorPrimitives.Sum(x.Slice(i, Math.Min(Run, x.Length - i)));
        return total;
    }

    /// <summary>Σ dy·(x − mean) with float vector accumulators, returned as double.</summary>
    private static double DotCentred(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, float mean)
    {
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        ref float rx = ref MemoryMarshal.GetReference(x);
        int len = x.Length, i = 0;
        double total = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> acc = Vector<float>.Zero, vm = new(mean);
            for (; i + Vector<float>.Count <= len; i += Vector<float>.Count)
                acc += Vector.LoadUnsafe(ref rdy, (nuint)i) * (Vector.LoadUnsafe(ref rx, (nuint)i) - vm);
            total = Vector.Sum(acc);
        }
        for (; i < len; i++) total += Unsafe.Add(ref rdy, i) * (Unsafe.Add(ref rx, i) - mean);
        return total;
    }

    private static void AccumulateGradInput(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, Span<float> gx, float mean, float a, float k, float d,
        bool accumulate)
    {
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rg = ref MemoryMarshal.GetReference(gx);
        int len = x.Length, i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> vm = new(mean), va = new(a), vk = new(k), vd = new(d);
            for (; i + Vector<float>.Count <= len; i += Vector<float>.Count)
            {
                Vector<float> g = va * Vector.LoadUnsafe(ref rdy, (nuint)i) + vk * (Vector.LoadUnsafe(ref rx, (nuint)i) - vm) + vd;
                if (accumulate) g += Vector.LoadUnsafe(ref rg, (nuint)i);
                g.StoreUnsafe(ref rg, (nuint)i);
            }
        }
        for (; i < len; i++)
        {
            float g = a * Unsafe.Add(ref rdy, i) + k * (Unsafe.Add(ref rx, i) - mean) + d;
            Unsafe.Add(ref rg, i) = accumulate ? Unsafe.Add(ref rg, i) + g : g;
        }
    }

    private static void CheckTraining(int n, int c, int hw, int input, int gamma, int beta, float epsilon, float momentum,
        int runningMean, int runningVar, int output, int savedMean, int savedInvStd)
    {
        CheckCommon(n, c, hw, input, "Input", gamma, beta, epsilon);
        if ((long)n * hw <= 1 && c > 0)
            throw new ArgumentException($"Batch norm training needs more than one value per channel. Received: N={n}, HW={hw}.");
        if (!(momentum >= 0f && momentum <= 1f))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"Momentum must lie in [0, 1]. Received: {momentum}.");
        KernelChecks.PerChannel(n, c, hw, output, "Output", runningMean, "Running mean");
        KernelChecks.PerChannel(n, c, hw, output, "Output", runningVar, "Running variance");
        KernelChecks.PerChannel(n, c, hw, output, "Output", savedMean, "Saved mean");
        KernelChecks.PerChannel(n, c, hw, output, "Output", savedInvStd, "Saved inverse std");
    }

    private static void CheckInference(int n, int c, int hw, int input, int gamma, int beta, int runningMean, int runningVar, float epsilon, int output)
    {
        CheckCommon(n, c, hw, input, "Input", gamma, beta, epsilon);
        KernelChecks.PerChannel(n, c, hw, output, "Output", runningMean, "Running mean");
        KernelChecks.PerChannel(n, c, hw, output, "Output", runningVar, "Running variance");
    }

    private static void CheckBackward(int n, int c, int hw, int input, int gradOutput, int gamma, int savedMean, int savedInvStd, int gradInput, int gradGamma, int gradBeta)
    {
        KernelChecks.PerChannel(n, c, hw, input, "Input", gamma, "Gamma");
        KernelChecks.PerChannel(n, c, hw, gradOutput, "Output gradient", savedMean, "Saved mean");
        KernelChecks.PerChannel(n, c, hw, gradInput, "Input gradient", savedInvStd, "Saved inverse std");
        KernelChecks.PerChannel(n, c, hw, input, "Input", gradGamma, "Gamma gradient");
        KernelChecks.PerChannel(n, c, hw, input, "Input", gradBeta, "Beta gradient");
    }

    private static void CheckCommon(int n, int c, int hw, int input, string inputName, int gamma, int beta, float epsilon)
    {
        KernelChecks.PerChannel(n, c, hw, input, inputName, gamma, "Gamma");
        KernelChecks.PerChannel(n, c, hw, input, inputName, beta, "Beta");
        if (!(epsilon >= 0f))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, $"Epsilon must be non-negative. Received: {epsilon}.");
    }
}
