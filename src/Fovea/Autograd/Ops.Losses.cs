using Fovea.Kernels;
using Fovea.Tensors;

namespace Fovea.Autograd;

public static partial class Ops
{
    /// <summary>
    /// Mean softmax cross-entropy of logits [N, classes] against integer labels [N], with optional label smoothing
    /// (target = (1 - s)·onehot + s/classes). Returns a scalar tensor; <paramref name="probabilities"/> receives the softmax.
    /// </summary>
    public static Tensor SoftmaxCrossEntropy(Tensor logits, ReadOnlySpan<int> labels, float labelSmoothing, out Tensor probabilities) =>
        SoftmaxCrossEntropy(logits, labels, labelSmoothing, null, out probabilities);

    /// <summary>
    /// As above, each sample's loss multiplied by its class's weight, <paramref name="classWeights"/>[label] (null: all 1),
    /// then averaged over the samples.
    /// </summary>
    public static Tensor SoftmaxCrossEntropy(Tensor logits, ReadOnlySpan<int> labels, float labelSmoothing, float[]? classWeights, out Tensor probabilities)
    {
        if (logits.Rank != 2) throw new ArgumentException($"Cross-entropy expects logits [N, classes]; received shape {Tensor.ShapeToString(logits.Shape)}.");
        int rows = logits.Dim(0), classes = logits.Dim(1);
        if (labels.Length != rows) throw new ArgumentException($"Got {labels.Length} labels for a batch of {rows} rows.");
        RequireValues(logits, "Cross-entropy");
        var probs = new Tensor(rows, classes);
        float value = CrossEntropy.SoftmaxCrossEntropyForward(rows, classes, logits.Span, labels, labelSmoothing, probs.Span, classWeights);
        var loss = Tensor.FromArray([value]);
        probabilities = probs;
        if (Tape.ShouldRecord(logits))
        {
            loss.RequiresGrad = true;
            var labelCopy = labels.ToArray();
            Tape.Current!.Add(() =>
            {
                if (loss.Grad is null) return;
                CrossEntropy.SoftmaxCrossEntropyBackward(rows, classes, probs.Span, labelCopy, labelSmoothing, loss.Grad.Span[0], logits.GradOrCreate().Span, classWeights);
            });
        }
        return loss;
    }

    /// <summary>Mean squared error over all elements of prediction and target (same shape). Returns a scalar tensor.</summary>
    public static Tensor MeanSquaredError(Tensor prediction, Tensor target)
    {
        RequireSameShape(prediction, target, "Mean squared error");
        RequireValues(prediction, "Mean squared error");
        var loss = Tensor.FromArray([CrossEntropy.MeanSquaredErrorForward(prediction.Span, target.Span)]);
        RecordLoss(prediction, loss, g => CrossEntropy.MeanSquaredErrorBackward(prediction.Span, target.Span, g, prediction.GradOrCreate().Span));
        return loss;
    }

    /// <summary>
    /// Mean binary cross-entropy of probabilities (in (0, 1), e.g. after Sigmoid) against targets in [0, 1], same shape:
    /// -[t·log p + (1 - t)·log(1 - p)], with p clamped to [ε, 1 - ε], ε = <see cref="CrossEntropy.ProbabilityEpsilon"/>. Returns a scalar tensor.
    /// </summary>
    public static Tensor BinaryCrossEntropy(Tensor probabilities, Tensor target)
    {
        RequireSameShape(probabilities, target, "Binary cross-entropy");
        RequireValues(probabilities, "Binary cross-entropy");
        var loss = Tensor.FromArray([CrossEntropy.BinaryCrossEntropyForward(probabilities.Span, target.Span)]);
        RecordLoss(probabilities, loss, g => CrossEntropy.BinaryCrossEntropyBackward(probabilities.Span, target.Span, g, probabilities.GradOrCreate().Span));
        return loss;
    }

    /// <summary>
    /// A mean over no values (an empty batch, or samples without values) is undefined: refused rather than reported as
    /// 0 or NaN, which would pass for a real loss (or stop training as a divergence) and give gradients of nothing.
    /// </summary>
    private static void RequireValues(Tensor input, string what)
    {
        if (input.Length == 0)
            throw new ArgumentException($"{what} over an empty batch is undefined: received {Tensor.ShapeToString(input.Shape)} (zero values). A loss, and so a training step, needs at least one sample.");
    }

    private static void RecordLoss(Tensor input, Tensor loss, Action<float> backward)
    {
        if (!Tape.ShouldRecord(input)) return;
        loss.RequiresGrad = true;
        Tape.Current!.Add(() =>
        {
            if (loss.Grad is null) return;
            backward(loss.Grad.Span[0]);
        });
    }

    private static void RequireSameShape(Tensor a, Tensor b, string what)
    {
        if (!a.Shape.AsSpan().SequenceEqual(b.Shape))
            throw new ArgumentException($"{what} needs prediction and target of the same shape. Received {Tensor.ShapeToString(a.Shape)} and {Tensor.ShapeToString(b.Shape)}.");
    }
}
