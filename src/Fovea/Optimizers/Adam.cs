using System.Text.Json.Nodes;
using Fovea.Kernels;
using Fovea.Layers;

namespace Fovea.Optimizers;

/// <summary>
/// Adam (Kingma and Ba 2015), PyTorch semantics. Per step t:
/// g = grad + weightDecay·θ (L2; AdamW instead shrinks θ by lr·weightDecay);
/// m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²;  θ -= lr · (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + ε).
/// Defaults: β1 0.9, β2 0.999, ε 1e-8, weight decay 0.
/// </summary>
public class Adam : Optimizer
{
    private readonly Dictionary<Parameter, float[]> _m, _v;
    private readonly bool _decoupled;

    /// <summary>Creates Adam.</summary>
    public Adam(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0f)
        : this(learningRate, beta1, beta2, epsilon, weightDecay, decoupled: false) { }

    private protected Adam(float learningRate, float beta1, float beta2, float epsilon, float weightDecay, bool decoupled) : base(learningRate)
    {
        if (!(beta1 >= 0f && beta1 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, $"beta1 must be in [0, 1). Received: beta1={beta1}.");
        if (!(beta2 >= 0f && beta2 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, $"beta2 must be in [0, 1). Received: beta2={beta2}.");
        if (!(epsilon > 0f)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, $"epsilon must be positive. Received: epsilon={epsilon}.");
        if (!(weightDecay >= 0f)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, $"Weight decay must be ≥ 0. Received: weightDecay={weightDecay}.");
        Beta1 = beta1; Beta2 = beta2; Epsilon = epsilon; WeightDecay = weightDecay; _decoupled = decoupled;
        _m = Slot("m"); _v = Slot("v");
    }

    /// <summary>Decay of the first moment.</summary>
    public float Beta1 { get; }
    /// <summary>Decay of the second moment.</summary>
    public float Beta2 { get; }
    /// <summary>Added to the denominator.</summary>
    public float Epsilon { get; }
    /// <summary>Weight decay (L2 for Adam, decoupled for AdamW).</summary>
    public float WeightDecay { get; }
    /// <inheritdoc/>
    public override string Name => "adam";

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["beta1"] = Beta1, ["beta2"] = Beta2, ["epsilon"] = Epsilon, ["weight_decay"] = WeightDecay };

    /// <inheritdoc/>
    protected override void Update(Parameter p) =>
        OptimizerKernels.AdamStep(p.Value.Span, p.Value.Grad!.Span, State(_m, p), State(_v, p), LearningRate, Beta1, Beta2, Epsilon, WeightDecay, _decoupled, Steps);
}

/// <summary>AdamW (Loshchilov and Hutter 2019): Adam with decoupled weight decay θ -= lr·weightDecay·θ. Default weight decay 0.01.</summary>
public sealed class AdamW : Adam
{
    /// <summary>Creates AdamW.</summary>
    public AdamW(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0.01f)
        : base(learningRate, beta1, beta2, epsilon, weightDecay, decoupled: true) { }

    /// <inheritdoc/>
    public override string Name => "adamw";
}
