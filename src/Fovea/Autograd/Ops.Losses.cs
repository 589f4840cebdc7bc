using Fovea.Kernels;
using Fovea.Tensors;

namespace Fovea.Autograd;

public static partial class Ops
{
    /// <summary>
    /// Mean softmax cross-entropy of logits [N, classes] against integer labels [N], with optional label smoothing
    /// (target = (1 - s)·onehot + s/classes). Returns a scalar tensor; <paramref name="probabilities"/> receives the softmax.
    /// </summary>
    public static Tensor SoftmaxCrossEntropy(Tensor logits, ReadOnlySpan<int> labels, float labelSmoothing, out Tensor probabilities)
    {
        if (logits.Rank != 2) throw new ArgumentException($"Cross-entropy expects logits [N, classes]; received shape {Tensor.ShapeToString(logits.Shape)}.");
        int rows = logits.Dim(0), classes = logits.Dim(1);
        if (labels.Length != rows) throw new ArgumentException($"Got {labels.Length} labels for a batch of {rows} rows.");
        var probs = new Tensor(rows, classes);
        float value = CrossEntropy.SoftmaxCrossEntropyForward(rows, classes, logits.Span, labels, labelSmoothing, probs.Span);
        var loss = Tensor.FromArray([value]);
        probabilities = probs;
        if (Tape.ShouldRecord(logits))
        {
            loss.RequiresGrad = true;
            var labelCopy = labels.ToArray();
            Tape.Current!.Add(() =>
            {
                if (loss.Grad is null) return;
                CrossEntropy.SoftmaxCrossEntropyBackward(rows, classes, probs.Span, labelCopy, labelSmoothing, loss.Grad.Span[0], logits.GradOrCreate().Span);
            });
        }
        return loss;
    }

    /// <summary>Mean squared error over all elements of prediction and target (same shape). Returns a scalar tensor.</summary>
    public static Tensor MeanSquaredError(Tensor prediction, Tensor target)
    {
        RequireSameShape(prediction, target, "Mean squared error");
        int count = prediction.Length;
        double sum = 0;
        var p = prediction.Span; var t = target.Span;
        for (int i = 0; i < count; i++) { double d = p[i] - t[i]; sum += d * d; }
        var loss = Tensor.FromArray([(float)(sum / Math.Max(1, count))]);
        if (Tape.ShouldRecord(prediction))
        {
            loss.RequiresGrad = true;
            Tape.Current!.Add(() =>
            {
                if (loss.Grad is null) return;
                float scale = 2f * loss.Grad.Span[0] / Math.Max(1, count);
                var g = prediction.GradOrCreate().Span;
                for (int i = 0; i < count; i++) g[i] += scale * (prediction.Span[i] - target.Span[i]);
            });
        }
        return loss;
    }

    /// <summary>Probabilities are clamped to [eps, 1 - eps] with this eps so log never sees 0.</summary>
    public const float BinaryCrossEntropyEpsilon = 1e-7f;

    /// <summary>
    /// Mean binary cross-entropy of probabilities (in (0, 1), e.g. after Sigmoid) against targets in [0, 1], same shape.
    /// -[t·log p + (1 - t)·log(1 - p)], probabilities clamped to [1e-7, 1 - 1e-7]. Returns a scalar tensor.
    /// </summary>
    public static Tensor BinaryCrossEntropy(Tensor probabilities, Tensor target)
    {
        RequireSameShape(probabilities, target, "Binary cross-entropy");
        int count = probabilities.Length;
        const float eps = BinaryCrossEntropyEpsilon;
        double sum = 0;
        var p = probabilities.Span; var t = target.Span;
        for (int i = 0; i < count; i++)
        {
            double pi = Math.Clamp(p[i], eps, 1 - eps);
            sum -= t[i] * Math.Log(pi) + (1 - t[i]) * Math.Log(1 - pi);
        }
        var loss = Tensor.FromArray([(float)(sum / Math.Max(1, count))]);
        if (Tape.ShouldRecord(probabilities))
        {
            loss.RequiresGrad = true;
            Tape.Current!.Add(() =>
            {
                if (loss.Grad is null) return;
                float scale = loss.Grad.Span[0] / Math.Max(1, count);
                var g = probabilities.GradOrCreate().Span;
                for (int i = 0; i < count; i++)
                {
                    float pi = probabilities.Span[i];
                    if (pi <= eps || pi >= 1 - eps) continue; // clamped: flat
                    g[i] += scale * (pi - target.Span[i]) / (pi * (1 - pi));
                }
            });
        }
        return loss;
    }

    private static void RequireSameShape(Tensor a, Tensor b, string what)
    {
        if (!a.Shape.AsSpan().SequenceEqual(b.Shape))
            throw new ArgumentException($"{what} needs prediction and target of the same shape. Received {Tensor.ShapeToString(a.Shape)} and {Tensor.ShapeToString(b.Shape)}.");
    }
}
