using System.Text.Json.Nodes;
using Fovea.Kernels;
using Fovea.Layers;

namespace Fovea.Optimizers;

/// <summary>
/// Stochastic gradient descent (PyTorch semantics):
/// g = grad + weightDecay·θ;  v = momentum·v + g;  θ -= lr·(nesterov ? g + momentum·v : v).
/// Defaults: momentum 0, no Nesterov, weight decay 0.
/// </summary>
public sealed class Sgd : Optimizer
{
    private readonly Dictionary<Parameter, float[]> _velocity;

    /// <summary>Creates SGD. Nesterov needs momentum &gt; 0.</summary>
    public Sgd(float learningRate, float momentum = 0f, bool nesterov = false, float weightDecay = 0f) : base(learningRate)
    {
        if (!(momentum >= 0f && momentum < 1f)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"Momentum must be in [0, 1). Received: momentum={momentum}.");
        if (!(weightDecay >= 0f)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, $"Weight decay must be ≥ 0. Received: weightDecay={weightDecay}.");
        if (nesterov && momentum == 0f) throw new ArgumentException($"Nesterov momentum needs momentum > 0. Received: momentum={momentum}.");
        Momentum = momentum; Nesterov = nesterov; WeightDecay = weightDecay;
        _velocity = Slot("velocity");
    }

    /// <summary>Momentum factor.</summary>
    public float Momentum { get; }
    /// <summary>Use Nesterov momentum.</summary>
    public bool Nesterov { get; }
    /// <summary>L2 penalty added to the gradient.</summary>
    public float WeightDecay { get; }
    /// <inheritdoc/>
    public override string Name => "sgd";

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["momentum"] = Momentum, ["nesterov"] = Nesterov, ["weight_decay"] = WeightDecay };

    /// <inheritdoc/>
    protected override void Update(Parameter p) =>
        OptimizerKernels.SgdStep(p.Value.Span, p.Value.Grad!.Span, State(_velocity, p), LearningRate, Momentum, WeightDecay, Nesterov);
}
