using System.Text.Json.Nodes;
using Fovea.Autograd;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>
/// Batch normalisation per channel: y = gamma·(x - mean)/sqrt(var + epsilon) + beta. In training it uses the batch
/// statistics and updates running ones (running = (1 - momentum)·running + momentum·batch, momentum 0.1 as in PyTorch);
/// in inference — and whenever the layer is frozen — it uses the running statistics.
/// Input [C, H, W] (or [C]); gamma, beta, running mean and variance [C].
/// </summary>
public sealed class BatchNorm2D : UnaryLayer
{
    private Tensor? _gamma, _beta, _runningMean, _runningVar;

    /// <summary>Creates the layer. Defaults: momentum 0.1, epsilon 1e-5.</summary>
    public BatchNorm2D(float momentum = 0.1f, float epsilon = 1e-5f, string? name = null) : base(name)
    {
        if (!(momentum >= 0f && momentum <= 1f)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"BatchNorm momentum must be in [0, 1]. Received: momentum={momentum}.");
        if (!(epsilon > 0f && float.IsFinite(epsilon))) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, $"BatchNorm epsilon must be positive and finite. Received: epsilon={epsilon}.");
        Momentum = momentum; Epsilon = epsilon;
    }

    /// <summary>Weight of the new batch in the running statistics.</summary>
    public float Momentum { get; }
    /// <summary>Added to the variance before the square root.</summary>
    public float Epsilon { get; }
    /// <summary>Scale [C].</summary>
    public Tensor Gamma { get { EnsureBuilt(); return _gamma!; } }
    /// <summary>Shift [C].</summary>
    public Tensor Beta { get { EnsureBuilt(); return _beta!; } }
    /// <summary>Running mean [C].</summary>
    public Tensor RunningMean { get { EnsureBuilt(); return _runningMean!; } }
    /// <summary>Running (unbiased) variance [C].</summary>
    public Tensor RunningVariance { get { EnsureBuilt(); return _runningVar!; } }

    /// <inheritdoc/>
    public override string TypeName => "BatchNorm2D";

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        if (inputShape.Length != 3 && inputShape.Length != 1)
            throw new ArgumentException($"Layer '{Name}' (BatchNorm2D) expects [C, H, W] or [C] per sample; received {Tensor.ShapeToString(inputShape)}.");
        return (int[])inputShape.Clone();
    }

    /// <inheritdoc/>
    protected override void OnBuild(IReadOnlyList<int[]> inputShapes, Random random)
    {
        int c = inputShapes[0][0];
        _gamma = AddWeight("gamma", [c], Initializer.Ones, 1, 1, random);
        _beta = AddWeight("beta", [c], Initializer.Zeros, 1, 1, random);
        _runningMean = AddBuffer("running_mean", [c], 0f);
        _runningVar = AddBuffer("running_var", [c], 1f);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training)
    {
        EnsureBuilt();
        return Ops.BatchNorm2d(input, _gamma!, _beta!, _runningMean!, _runningVar!, training && Trainable, Epsilon, Momentum);
    }

    /// <inheritdoc/>
    public override long Flops(int[] inputShape) => 2L * inputShape.Aggregate(1L, (a, b) => a * b);

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["momentum"] = Momentum, ["epsilon"] = Epsilon };
}
