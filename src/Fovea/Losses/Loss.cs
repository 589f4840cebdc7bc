using System.Text.Json.Nodes;
using Fovea.Autograd;
using Fovea.Data;
using Fovea.Tensors;

namespace Fovea.Losses;

/// <summary>A training objective: model outputs [N, ...] and integer class labels [N] → scalar loss tensor.</summary>
public abstract class Loss
{
    /// <summary>Short name, e.g. "cross_entropy".</summary>
    public abstract string Name { get; }

    /// <summary>Settings of the loss (e.g. label smoothing), saved in training checkpoints: resuming with others is refused. Default: empty.</summary>
    public virtual JsonObject GetConfig() => new();

    /// <summary>Scalar mean loss of a batch (differentiable when a tape is recording).</summary>
    public abstract Tensor Compute(Tensor outputs, ReadOnlySpan<int> labels);

    /// <summary>Creates a loss by name: "cross_entropy" (default), "bce", "mse".</summary>
    public static Loss Create(string name, float labelSmoothing = 0f) => (name ?? throw new ArgumentNullException(nameof(name))).ToLowerInvariant() switch
    {
        "cross_entropy" or "crossentropy" or "ce" => new SoftmaxCrossEntropyLoss(labelSmoothing),
        "bce" or "binary_cross_entropy" => new BinaryCrossEntropyLoss(),
        "mse" => new MeanSquaredErrorLoss(),
        _ => throw new ArgumentException($"Unknown loss '{name}'. Expected one of: cross_entropy, bce, mse."),
    };

    /// <summary>One-hot targets [N, classes] for integer labels; throws naming a label out of range.</summary>
    protected static Tensor OneHot(ReadOnlySpan<int> labels, int classes)
    {
        var t = new Tensor(labels.Length, classes);
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classes) throw new ArgumentException($"Label {labels[i]} at row {i} is outside [0, {classes}).");
            t.Span[i * classes + labels[i]] = 1f;
        }
        return t;
    }

    /// <summary>Outputs as [N, features].</summary>
    protected static Tensor AsMatrix(Tensor outputs) => outputs.Rank == 2 ? outputs : Ops.Reshape(outputs, outputs.Dim(0), outputs.SampleLength);
}

/// <summary>Softmax cross-entropy on logits (no Softmax layer needed), with optional label smoothing ε ∈ [0, 1):
/// target = (1 - ε)·onehot + ε/classes, and optional class weights (each sample's loss times its class's weight).</summary>
public sealed class SoftmaxCrossEntropyLoss : Loss
{
    /// <summary>
    /// Creates the loss. Default: no smoothing, every class weighing 1. <paramref name="classWeights"/>: one finite weight
    /// ≥ 0 per class (see <see cref="BalancedClassWeights(IDataset, IReadOnlyList{int})"/>); the mean over a batch stays a mean over its samples.
    /// </summary>
    public SoftmaxCrossEntropyLoss(float labelSmoothing = 0f, IReadOnlyList<float>? classWeights = null)
    {
        if (!(labelSmoothing >= 0f && labelSmoothing < 1f)) throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, $"Label smoothing must be in [0, 1). Received: {labelSmoothing}.");
        if (classWeights is not null)
        {
            if (classWeights.Count == 0) throw new ArgumentException("Class weights: the list is empty; give one weight per class, or none.", nameof(classWeights));
            for (int c = 0; c < classWeights.Count; c++)
                if (!(float.IsFinite(classWeights[c]) && classWeights[c] >= 0))
                    throw new ArgumentOutOfRangeException(nameof(classWeights), classWeights[c], $"Class weight {c} is {classWeights[c]}; weights must be finite and >= 0.");
            if (classWeights.All(w => w == 0)) throw new ArgumentException("Class weights are all 0: nothing would be learned.", nameof(classWeights));
        }
        LabelSmoothing = labelSmoothing;
        _classWeights = classWeights?.ToArray();
    }

    private readonly float[]? _classWeights;

    /// <summary>Smoothing ε.</summary>
    public float LabelSmoothing { get; }
    /// <summary>Weight of each class's samples (null: all 1).</summary>
    public IReadOnlyList<float>? ClassWeights => _classWeights;
    /// <inheritdoc/>
    public override string Name => "cross_entropy";
    /// <inheritdoc/>
    public override JsonObject GetConfig()
    {
        var config = new JsonObject { ["label_smoothing"] = LabelSmoothing };
        if (_classWeights is not null) config["class_weights"] = new JsonArray(_classWeights.Select(w => (JsonNode)w).ToArray());
        return config;
    }
    /// <inheritdoc/>
    public override Tensor Compute(Tensor outputs, ReadOnlySpan<int> labels)
    {
        var logits = AsMatrix(outputs);
        if (_classWeights is not null && logits.Dim(1) != _classWeights.Length)
            throw new ArgumentException($"The loss has {_classWeights.Length} class weights but the model gives {logits.Dim(1)} outputs.");
        return Ops.SoftmaxCrossEntropy(logits, labels, LabelSmoothing, _classWeights, out _);
    }

    /// <summary>
    /// Weights that make every class count as much in total: count / (classes · count of class c) for each class present,
    /// from the labels of <paramref name="data"/> (only those at <paramref name="indices"/> when given: the samples trained
    /// on), so they average 1 over the samples; a class without samples gets 0. For data where a few classes dominate
    /// (the "balanced" weighting of scikit-learn and Keras users).
    /// </summary>
    public static float[] BalancedClassWeights(IDataset data, IReadOnlyList<int>? indices = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        var labels = indices is null ? Enumerable.Range(0, data.Count).Select(data.GetLabel).ToArray() : indices.Select(data.GetLabel).ToArray();
        return BalancedClassWeights(labels, data.ClassNames.Count);
    }

    /// <summary>As above, from labels in [0, <paramref name="classes"/>).</summary>
    public static float[] BalancedClassWeights(ReadOnlySpan<int> labels, int classes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        var counts = new long[classes];
        foreach (int label in labels)
        {
            if ((uint)label >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labels), label, $"Label {label} is outside [0, {classes}).");
            counts[label]++;
        }
        int present = counts.Count(n => n > 0);
        double total = labels.Length;
        return counts.Select(n => n == 0 ? 0f : (float)(total / (present * n))).ToArray();
    }
}

/// <summary>Binary cross-entropy on probabilities (end the model in Sigmoid) against one-hot targets (one column per class; a
/// single output column means label 1 vs 0).</summary>
public sealed class BinaryCrossEntropyLoss : Loss
{
    /// <inheritdoc/>
    public override string Name => "bce";
    /// <inheritdoc/>
    public override Tensor Compute(Tensor outputs, ReadOnlySpan<int> labels)
    {
        var p = AsMatrix(outputs);
        var target = p.Dim(1) == 1 ? BinaryTargets(labels) : OneHot(labels, p.Dim(1));
        return Ops.BinaryCrossEntropy(p, target);
    }

    private static Tensor BinaryTargets(ReadOnlySpan<int> labels)
    {
        var t = new Tensor(labels.Length, 1);
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] is not (0 or 1)) throw new ArgumentException($"Label {labels[i]} at row {i} must be 0 or 1 for a single-output binary cross-entropy.");
            t.Span[i] = labels[i];
        }
        return t;
    }
}

/// <summary>Mean squared error between outputs and one-hot targets.</summary>
public sealed class MeanSquaredErrorLoss : Loss
{
    /// <inheritdoc/>
    public override string Name => "mse";
    /// <inheritdoc/>
    public override Tensor Compute(Tensor outputs, ReadOnlySpan<int> labels)
    {
        var p = AsMatrix(outputs);
        return Ops.MeanSquaredError(p, OneHot(labels, p.Dim(1)));
    }
}
