using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fovea.Kernels;

// Legend: rows = samples (batch), classes = K, logits/probabilities are row-major rows×K; labels hold one class index per row.
// Element-wise losses (BCE, MSE) use flat spans of "count" elements; every loss is the MEAN (over rows, or over all elements).

/// <summary>
/// Losses. Forward returns the mean loss (0 for an empty batch) and, for the fused softmax cross-entropy, caches the
/// probabilities backward needs. Backward ACCUMULATES gradLoss · dLoss/dInput into the gradient span.
/// </summary>
public static class CrossEntropy
{
    /// <summary>Probabilities are clamped to [ε, 1 − ε] with this ε before taking logs in <see cref="BinaryCrossEntropyForward"/>.</summary>
    public const float ProbabilityEpsilon = 1e-7f;

    // ---------------- fused softmax + cross-entropy ----------------

    /// <summary>
    /// Mean over rows of −Σ_k target_k · log softmax(logits)_k with target = (1 − ε)·onehot(label) + ε/K (label smoothing ε in [0, 1]).
    /// Writes softmax(logits) into <paramref name="probabilities"/>: that is what <see cref="SoftmaxCrossEntropyBackward"/> needs.
    /// </summary>
    /// <remarks>
    /// With <paramref name="classWeights"/> (one per class; empty: all 1) each row's loss is multiplied by its label's weight,
    /// then averaged over the rows (not over the weights, so a batch of a rare class counts for more).
    /// </remarks>
    public static float SoftmaxCrossEntropyForward(int rows, int classes, ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, float labelSmoothing, Span<float> probabilities,
        ReadOnlySpan<float> classWeights = default)
    {
        CheckSoftmaxCe(rows, classes, logits.Length, "Logits", labels, labelSmoothing, probabilities.Length, classWeights: classWeights);
        if (rows == 0) return 0f;
        double total = 0;
        float smooth = labelSmoothing / classes;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> x = logits.Slice(r * classes, classes);
            Span<float> p = probabilities.Slice(r * classes, classes);
            float max = TensorPrimitives.Max(x);
            TensorPrimitives.Subtract(x, max, p);
            double centredSum = TensorPrimitives.Sum(p); // Σ (x_k − max), before exp overwrites p
            TensorPrimitives.Exp(p, p);
            float sum = TensorPrimitives.Sum(p);
            TensorPrimitives.Multiply(p, 1f / sum, p);
            // −log p_k = log(sum) − (x_k − max)
            double logSum = Math.Log(sum);
            double weight = classWeights.IsEmpty ? 1.0 : classWeights[labels[r]];
            total += weight * (logSum - (1.0 - labelSmoothing) * (x[labels[r]] - max) - smooth * centredSum);
        }
        return (float)(total / rows);
    }

    /// <summary>gradLogits += gradLoss · weight[label] · (probabilities − target) / rows, from the probabilities cached by the forward (weights as in the forward).</summary>
    public static void SoftmaxCrossEntropyBackward(int rows, int classes, ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels, float labelSmoothing, float gradLoss, Span<float> gradLogits,
        ReadOnlySpan<float> classWeights = default)
    {
        CheckSoftmaxCe(rows, classes, probabilities.Length, "Probabilities", labels, labelSmoothing, gradLogits.Length, "Logits gradient", classWeights);
        if (rows == 0) return;
        for (int r = 0; r < rows; r++)
        {
            float scale = gradLoss / rows * (classWeights.IsEmpty ? 1f : classWeights[labels[r]]);
            float offset = -scale * labelSmoothing / classes;
            float hit = scale * (1f - labelSmoothing);
            Span<float> g = gradLogits.Slice(r * classes, classes);
            TensorPrimitives.MultiplyAdd(probabilities.Slice(r * classes, classes), scale, g, g);
            TensorPrimitives.Add(g, offset, g);
            g[labels[r]] -= hit;
        }
    }

    /// <summary>Naive twin of <see cref="SoftmaxCrossEntropyForward"/> (double precision).</summary>
    public static float SoftmaxCrossEntropyForwardReference(int rows, int classes, ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, float labelSmoothing, Span<float> probabilities,
        ReadOnlySpan<float> classWeights = default)
    {
        CheckSoftmaxCe(rows, classes, logits.Length, "Logits", labels, labelSmoothing, probabilities.Length, classWeights: classWeights);
        if (rows == 0) return 0f;
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int k = 0; k < classes; k++) max = Math.Max(max, logits[r * classes + k]);
            for (int k = 0; k < classes; k++) sum += Math.Exp(logits[r * classes + k] - max);
            for (int k = 0; k < classes; k++)
            {
                double logP = logits[r * classes + k] - max - Math.Log(sum);
                probabilities[r * classes + k] = (float)Math.Exp(logP);
                double target = (k == labels[r] ? 1.0 - labelSmoothing : 0.0) + (double)labelSmoothing / classes;
                total -= (classWeights.IsEmpty ? 1.0 : classWeights[labels[r]]) * target * logP;
            }
        }
        return (float)(total / rows);
    }

    /// <summary>Naive twin of <see cref="SoftmaxCrossEntropyBackward"/>.</summary>
    public static void SoftmaxCrossEntropyBackwardReference(int rows, int classes, ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels, float labelSmoothing, float gradLoss, Span<float> gradLogits,
        ReadOnlySpan<float> classWeights = default)
    {
        CheckSoftmaxCe(rows, classes, probabilities.Length, "Probabilities", labels, labelSmoothing, gradLogits.Length, "Logits gradient", classWeights);
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < classes; k++)
            {
                double target = (k == labels[r] ? 1.0 - labelSmoothing : 0.0) + (double)labelSmoothing / classes;
                double weight = classWeights.IsEmpty ? 1.0 : classWeights[labels[r]];
                gradLogits[r * classes + k] += (float)(gradLoss * weight * (probabilities[r * classes + k] - target) / rows);
            }
    }

    // ---------------- binary cross-entropy on probabilities ----------------

    /// <summary>
    /// Mean of −[t·log p + (1 − t)·log(1 − p)] with p clamped to [<see cref="ProbabilityEpsilon"/>, 1 − ε] (so the loss stays finite).
    /// Targets may be soft (any value in [0, 1]).
    /// </summary>
    public static float BinaryCrossEntropyForward(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> targets)
    {
        KernelChecks.SameLength(targets.Length, probabilities.Length, "Targets", "probabilities");
        int n = probabilities.Length, i = 0;
        if (n == 0) return 0f;
        ref float rp = ref MemoryMarshal.GetReference(probabilities);
        ref float rt = ref MemoryMarshal.GetReference(targets);
        Vector<double> acc = Vector<double>.Zero;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> lo = new(ProbabilityEpsilon), hi = new(1f - ProbabilityEpsilon);
            for (; i + Vector<float>.Count <= n; i += Vector<float>.Count)
            {
                Vector<float> p = Vector.Min(Vector.Max(Vector.LoadUnsafe(ref rp, (nuint)i), lo), hi);
                Vector<float> t = Vector.LoadUnsafe(ref rt, (nuint)i);
                Vector<float> term = t * Vector.Log(p) + (Vector<float>.One - t) * Vector.Log(Vector<float>.One - p);
                Vector.Widen(term, out Vector<double> low, out Vector<double> high);
                acc += low + high;
            }
        }
        double total = Vector.Sum(acc);
        for (; i < n; i++)
        {
            float p = Math.Clamp(Unsafe.Add(ref rp, i), ProbabilityEpsilon, 1f - ProbabilityEpsilon), t = Unsafe.Add(ref rt, i);
            total += t * MathF.Log(p) + (1f - t) * MathF.Log(1f - p);
        }
        return (float)(-total / n);
    }

    /// <summary>
    /// gradProbabilities += gradLoss · (p − t) / (p·(1 − p)) / count with p clamped as in the forward
    /// (outside the clamp the gradient is that at the clamp edge, not zero).
    /// </summary>
    public static void BinaryCrossEntropyBackward(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> targets, float gradLoss, Span<float> gradProbabilities)
    {
        KernelChecks.SameLength(targets.Length, probabilities.Length, "Targets", "probabilities");
        KernelChecks.SameLength(gradProbabilities.Length, probabilities.Length, "Probabilities gradient", "probabilities");
        int n = probabilities.Length, i = 0;
        if (n == 0) return;
        float scale = gradLoss / n;
        ref float rp = ref MemoryMarshal.GetReference(probabilities);
        ref float rt = ref MemoryMarshal.GetReference(targets);
        ref float rg = ref MemoryMarshal.GetReference(gradProbabilities);
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> lo = new(ProbabilityEpsilon), hi = new(1f - ProbabilityEpsilon);
            for (; i + Vector<float>.Count <= n; i += Vector<float>.Count)
            {
                Vector<float> p = Vector.Min(Vector.Max(Vector.LoadUnsafe(ref rp, (nuint)i), lo), hi);
                Vector<float> t = Vector.LoadUnsafe(ref rt, (nuint)i);
                Vector<float> g = (p - t) / (p * (Vector<float>.One - p)) * scale;
                (Vector.LoadUnsafe(ref rg, (nuint)i) + g).StoreUnsafe(ref rg, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float p = Math.Clamp(Unsafe.Add(ref rp, i), ProbabilityEpsilon, 1f - ProbabilityEpsilon), t = Unsafe.Add(ref rt, i);
            Unsafe.Add(ref rg, i) += (p - t) / (p * (1f - p)) * scale;
        }
    }

    /// <summary>Naive twin of <see cref="BinaryCrossEntropyForward"/> (double precision after the same float clamp).</summary>
    public static float BinaryCrossEntropyForwardReference(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> targets)
    {
        KernelChecks.SameLength(targets.Length, probabilities.Length, "Targets", "probabilities");
        if (probabilities.Length == 0) return 0f;
        double total = 0;
        for (int i = 0; i < probabilities.Length; i++)
        {
            double p = Math.Clamp(probabilities[i], ProbabilityEpsilon, 1f - ProbabilityEpsilon), t = targets[i];
            total -= t * Math.Log(p) + (1 - t) * Math.Log(1 - p);
        }
        return (float)(total / probabilities.Length);
    }

    /// <summary>Naive twin of <see cref="BinaryCrossEntropyBackward"/>.</summary>
    public static void BinaryCrossEntropyBackwardReference(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> targets, float gradLoss, Span<float> gradProbabilities)
    {
        KernelChecks.SameLength(targets.Length, probabilities.Length, "Targets", "probabilities");
        KernelChecks.SameLength(gradProbabilities.Length, probabilities.Length, "Probabilities gradient", "probabilities");
        for (int i = 0; i < probabilities.Length; i++)
        {
            double p = Math.Clamp(probabilities[i], ProbabilityEpsilon, 1f - ProbabilityEpsilon);
            gradProbabilities[i] += (float)(gradLoss * (p - targets[i]) / (p * (1 - p)) / probabilities.Length);
        }
    }

    // ---------------- binary cross-entropy with logits ----------------

    /// <summary>Mean of max(x, 0) − x·t + log(1 + exp(−|x|)): BCE of sigmoid(x), stable for any logit.</summary>
    public static float BinaryCrossEntropyWithLogitsForward(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets)
    {
        KernelChecks.SameLength(targets.Length, logits.Length, "Targets", "logits");
        int n = logits.Length, i = 0;
        if (n == 0) return 0f;
        ref float rx = ref MemoryMarshal.GetReference(logits);
        ref float rt = ref MemoryMarshal.GetReference(targets);
        Vector<double> acc = Vector<double>.Zero;
        if (Vector.IsHardwareAccelerated)
            for (; i + Vector<float>.Count <= n; i += Vector<float>.Count)
            {
                Vector<float> x = Vector.LoadUnsafe(ref rx, (nuint)i);
                Vector<float> t = Vector.LoadUnsafe(ref rt, (nuint)i);
                Vector<float> term = Vector.Max(x, Vector<float>.Zero) - x * t
                    + Vector.Log(Vector<float>.One + Lanes.Exp(-Vector.Abs(x)));
                Vector.Widen(term, out Vector<double> low, out Vector<double> high);
                acc += low + high;
            }
        double total = Vector.Sum(acc);
        for (; i < n; i++)
        {
            float x = Unsafe.Add(ref rx, i), t = Unsafe.Add(ref rt, i);
            total += MathF.Max(x, 0f) - x * t + MathF.Log(1f + MathF.Exp(-MathF.Abs(x)));
        }
        return (float)(total / n);
    }

    /// <summary>gradLogits += gradLoss · (sigmoid(x) − t) / count.</summary>
    public static void BinaryCrossEntropyWithLogitsBackward(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, float gradLoss, Span<float> gradLogits)
    {
        KernelChecks.SameLength(targets.Length, logits.Length, "Targets", "logits");
        KernelChecks.SameLength(gradLogits.Length, logits.Length, "Logits gradient", "logits");
        int n = logits.Length;
        if (n == 0) return;
        float scale = gradLoss / n;
        Span<float> s = stackalloc float[256];
        for (int i = 0; i < n; i += s.Length)
        {
            int len = Math.Min(s.Length, n - i);
            Span<float> chunk = s[..len];
            Span<float> g = gradLogits.Slice(i, len);
            TensorPrimitives.Sigmoid(logits.Slice(i, len), chunk);
            TensorPrimitives.Subtract(chunk, targets.Slice(i, len), chunk);
            TensorPrimitives.MultiplyAdd(chunk, scale, g, g);
        }
    }

    /// <summary>Naive twin of <see cref="BinaryCrossEntropyWithLogitsForward"/> (double precision).</summary>
    public static float BinaryCrossEntropyWithLogitsForwardReference(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets)
    {
        KernelChecks.SameLength(targets.Length, logits.Length, "Targets", "logits");
        if (logits.Length == 0) return 0f;
        double total = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            double x = logits[i], t = targets[i];
            total += Math.Max(x, 0) - x * t + Math.Log(1 + Math.Exp(-Math.Abs(x)));
        }
        return (float)(total / logits.Length);
    }

    /// <summary>Naive twin of <see cref="BinaryCrossEntropyWithLogitsBackward"/>.</summary>
    public static void BinaryCrossEntropyWithLogitsBackwardReference(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, float gradLoss, Span<float> gradLogits)
    {
        KernelChecks.SameLength(targets.Length, logits.Length, "Targets", "logits");
        KernelChecks.SameLength(gradLogits.Length, logits.Length, "Logits gradient", "logits");
        for (int i = 0; i < logits.Length; i++)
            gradLogits[i] += (float)(gradLoss * (1.0 / (1.0 + Math.Exp(-logits[i])) - targets[i]) / logits.Length);
    }

    // ---------------- mean squared error ----------------

    /// <summary>Mean over all elements of (prediction − target)².</summary>
    public static float MeanSquaredErrorForward(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target)
    {
        KernelChecks.SameLength(target.Length, prediction.Length, "Target", "prediction");
        int n = prediction.Length, i = 0;
        if (n == 0) return 0f;
        ref float rp = ref MemoryMarshal.GetReference(prediction);
        ref float rt = ref MemoryMarshal.GetReference(target);
        Vector<double> acc = Vector<double>.Zero;
        if (Vector.IsHardwareAccelerated)
            for (; i + Vector<float>.Count <= n; i += Vector<float>.Count)
            {
                Vector<float> d = Vector.LoadUnsafe(ref rp, (nuint)i) - Vector.LoadUnsafe(ref rt, (nuint)i);
                Vector.Widen(d * d, out Vector<double> low, out Vector<double> high);
                acc += low + high;
            }
        double total = Vector.Sum(acc);
        for (; i < n; i++)
        {
            float d = Unsafe.Add(ref rp, i) - Unsafe.Add(ref rt, i);
            total += d * d;
        }
        return (float)(total / n);
    }

    /// <summary>gradPrediction += gradLoss · 2 · (prediction − target) / count.</summary>
    public static void MeanSquaredErrorBackward(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, float gradLoss, Span<float> gradPrediction)
    {
        KernelChecks.SameLength(target.Length, prediction.Length, "Target", "prediction");
        KernelChecks.SameLength(gradPrediction.Length, prediction.Length, "Prediction gradient", "prediction");
        int n = prediction.Length, i = 0;
        if (n == 0) return;
        float scale = 2f * gradLoss / n;
        ref float rp = ref MemoryMarshal.GetReference(prediction);
        ref float rt = ref MemoryMarshal.GetReference(target);
        ref float rg = ref MemoryMarshal.GetReference(gradPrediction);
        if (Vector.IsHardwareAccelerated)
            for (; i + Vector<float>.Count <= n; i += Vector<float>.Count)
            {
                Vector<float> d = Vector.LoadUnsafe(ref rp, (nuint)i) - Vector.LoadUnsafe(ref rt, (nuint)i);
                (Vector.LoadUnsafe(ref rg, (nuint)i) + d * scale).StoreUnsafe(ref rg, (nuint)i);
            }
        for (; i < n; i++) Unsafe.Add(ref rg, i) += (Unsafe.Add(ref rp, i) - Unsafe.Add(ref rt, i)) * scale;
    }

    /// <summary>Naive twin of <see cref="MeanSquaredErrorForward"/> (double precision).</summary>
    public static float MeanSquaredErrorForwardReference(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target)
    {
        KernelChecks.SameLength(target.Length, prediction.Length, "Target", "prediction");
        if (prediction.Length == 0) return 0f;
        double total = 0;
        for (int i = 0; i < prediction.Length; i++)
        {
            double d = (double)prediction[i] - target[i];
            total += d * d;
        }
        return (float)(total / prediction.Length);
    }

    /// <summary>Naive twin of <see cref="MeanSquaredErrorBackward"/>.</summary>
    public static void MeanSquaredErrorBackwardReference(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, float gradLoss, Span<float> gradPrediction)
    {
        KernelChecks.SameLength(target.Length, prediction.Length, "Target", "prediction");
        KernelChecks.SameLength(gradPrediction.Length, prediction.Length, "Prediction gradient", "prediction");
        for (int i = 0; i < prediction.Length; i++)
            gradPrediction[i] += (float)(2.0 * gradLoss * ((double)prediction[i] - target[i]) / prediction.Length);
    }

    private static void CheckSoftmaxCe(int rows, int classes, int inputLength, string inputName, ReadOnlySpan<int> labels, float labelSmoothing, int outputLength, string outputName = "Probabilities",
        ReadOnlySpan<float> classWeights = default)
    {
        if (!classWeights.IsEmpty && classWeights.Length != classes)
            throw new ArgumentException($"{classWeights.Length} class weights for {classes} classes; give one weight per class.");
        if (rows < 0 || classes <= 0)
            throw new ArgumentException($"Cross-entropy needs rows >= 0 and classes > 0. Received: rows={rows}, classes={classes}.");
        KernelChecks.Matrix(rows, classes, inputLength, inputName);
        KernelChecks.Matrix(rows, classes, outputLength, outputName);
        if (labels.Length != rows)
            throw new ArgumentException($"Labels span has {labels.Length} elements but there are {rows} rows.");
        if (!(labelSmoothing >= 0f && labelSmoothing <= 1f))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, $"Label smoothing must lie in [0, 1]. Received: {labelSmoothing}.");
        for (int r = 0; r < rows; r++)
            if ((uint)labels[r] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[r], $"Label {labels[r]} at row {r} is outside [0, {classes}).");
    }
}
