using System.Text.Json.Nodes;
using Fovea.Autograd;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>
/// Batch normalisation with the statistics of the batch it is given, for samples that are themselves a whole batch
/// [N, C, ...] (an ONNX graph imported with the whole input as one sample): per channel c,
/// y = gamma[c]·(x − mean)/sqrt(var + epsilon) + beta[c], mean and biased variance taken over the sample's N and spatial
/// positions. This is ONNX BatchNormalization with training_mode = 1; in training and inference alike the layer uses the
/// sample's own statistics (it keeps no running ones). Gamma and beta [C] are learned; gradients flow through the statistics.
/// Example: <c>new InSampleBatchNorm()</c> on samples [8, 16, 5, 5].
/// </summary>
public sealed class InSampleBatchNorm : UnaryLayer
{
    private Tensor? _gamma, _beta;

    /// <summary>Creates the layer; epsilon (default 1e-5) is added to the variance and must be finite and ≥ 0.</summary>
    public InSampleBatchNorm(float epsilon = 1e-5f, string? name = null) : base(name)
    {
        if (!(epsilon >= 0f && float.IsFinite(epsilon)))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, $"InSampleBatchNorm epsilon must be finite and ≥ 0. Received: epsilon={epsilon}.");
        Epsilon = epsilon;
    }

    /// <summary>Added to the variance before the square root.</summary>
    public float Epsilon { get; }
    /// <summary>Scale [C].</summary>
    public Tensor Gamma { get { EnsureBuilt(); return _gamma!; } }
    /// <summary>Shift [C].</summary>
    public Tensor Beta { get { EnsureBuilt(); return _beta!; } }
    /// <inheritdoc/>
    public override string TypeName => "InSampleBatchNorm";

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        long perChannel = InSampleBatchMoment.CheckSample(this, inputShape);
        if (perChannel <= 1)
            throw new ArgumentException($"Layer '{Name}' (InSampleBatchNorm) needs more than one value per channel of a sample; {Tensor.ShapeToString(inputShape)} has {perChannel}.");
        return (int[])inputShape.Clone();
    }

    /// <inheritdoc/>
    protected override void OnBuild(IReadOnlyList<int[]> inputShapes, Random random)
    {
        int c = inputShapes[0][1];
        _gamma = AddWeight("gamma", [c], Initializer.Ones, 1, 1, random);
        _beta = AddWeight("beta", [c], Initializer.Zeros, 1, 1, random);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training)
    {
        EnsureBuilt();
        return Ops.InSampleBatchNorm(input, _gamma!, _beta!, Epsilon);
    }

    /// <inheritdoc/>
    public override long Flops(int[] inputShape) => 6L * inputShape.Aggregate(1L, (a, b) => a * b);

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["epsilon"] = Epsilon };
}

/// <summary>
/// Per channel, the mean or the biased (population) variance of a sample that is itself a whole batch [N, C, ...],
/// over its N and spatial positions: [N, C, ...] → [C]. These are the batch statistics of ONNX BatchNormalization with
/// training_mode = 1 (its running_mean and running_var outputs blend them with the input statistics). Differentiable.
/// Example: <c>new InSampleBatchMoment(variance: true)</c> on [8, 16, 5, 5] gives [16].
/// </summary>
public sealed class InSampleBatchMoment : UnaryLayer
{
    /// <summary>Creates the layer: the mean, or with <paramref name="variance"/> the biased variance.</summary>
    public InSampleBatchMoment(bool variance, string? name = null) : base(name) => Variance = variance;

    /// <summary>True: biased variance; false: mean.</summary>
    public bool Variance { get; }
    /// <inheritdoc/>
    public override string TypeName => "InSampleBatchMoment";

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        if (CheckSample(this, inputShape) == 0 && inputShape[1] > 0)
            throw new ArgumentException($"Layer '{Name}' (InSampleBatchMoment) needs at least one value per channel of a sample to take its {(Variance ? "variance" : "mean")}; {Tensor.ShapeToString(inputShape)} has none.");
        return [inputShape[1]];
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Ops.InSampleBatchMoment(input, Variance);

    /// <inheritdoc/>
    public override long Flops(int[] inputShape) => (Variance ? 3L : 1L) * inputShape.Aggregate(1L, (a, b) => a * b);

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["variance"] = Variance };

    /// <summary>Requires a sample [N, C, ...] (rank ≥ 2); returns the number of values per channel, N·(spatial).</summary>
    internal static long CheckSample(Layer layer, int[] inputShape)
    {
        if (inputShape.Length < 2)
            throw new ArgumentException($"Layer '{layer.Name}' ({layer.TypeName}) expects samples [N, C, ...] (a whole batch per sample); received {Tensor.ShapeToString(inputShape)}.");
        // Every axis but the channels' (not the total divided by C, which is 0 for samples without channels).
        return inputShape.Where((_, i) => i != 1).Aggregate(1L, (a, b) => a * b);
    }
}
