using System.Text.Json.Nodes;
using Fovea.Autograd;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>Base of element-wise activation layers: output shape = input shape, no weights.</summary>
public abstract class ActivationLayer : UnaryLayer
{
    /// <summary>Creates the layer.</summary>
    protected ActivationLayer(string? name) : base(name) { }

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape) => (int[])inputShape.Clone();

    /// <inheritdoc/>
    public override long Flops(int[] inputShape) => inputShape.Aggregate(1L, (a, b) => a * b);

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new();
}

/// <summary>max(x, 0).</summary>
public sealed class ReLU(string? name = null) : ActivationLayer(name)
{
    /// <inheritdoc/>
    public override string TypeName => "ReLU";
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Ops.Relu(input);
}

/// <summary>x for x &gt; 0, alpha·x otherwise (default alpha 0.01).</summary>
public sealed class LeakyReLU : ActivationLayer
{
    /// <summary>Creates the layer; alpha may be any finite value (ONNX allows negative slopes).</summary>
    public LeakyReLU(float alpha = 0.01f, string? name = null) : base(name)
    {
        if (!float.IsFinite(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, $"LeakyReLU alpha must be finite. Received: alpha={alpha}.");
        Alpha = alpha;
    }

    /// <summary>Slope for negative inputs.</summary>
    public float Alpha { get; }
    /// <inheritdoc/>
    public override string TypeName => "LeakyReLU";
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Ops.LeakyRelu(input, Alpha);
    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["alpha"] = Alpha };
}

/// <summary>1 / (1 + e^-x).</summary>
public sealed class Sigmoid(string? name = null) : ActivationLayer(name)
{
    /// <inheritdoc/>
    public override string TypeName => "Sigmoid";
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Ops.Sigmoid(input);
}

/// <summary>Hyperbolic tangent.</summary>
public sealed class Tanh(string? name = null) : ActivationLayer(name)
{
    /// <inheritdoc/>
    public override string TypeName => "Tanh";
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Ops.Tanh(input);
}

/// <summary>Softmax over the last axis: class probabilities. Not needed before the cross-entropy loss, which takes logits.</summary>
public sealed class Softmax(string? name = null) : ActivationLayer(name)
{
    /// <inheritdoc/>
    public override string TypeName => "Softmax";
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Ops.Softmax(input);
}

/// <summary>
/// During training, zeroes each value with probability <c>rate</c> and scales the rest by 1/(1 - rate); identity in inference.
/// Its random stream is seeded from the model seed, so runs are reproducible.
/// </summary>
public sealed class Dropout : ActivationLayer
{
    private Random _random = new(0);
    // System.Random cannot save its position, so the stream is kept as (seed, draws so far): a training checkpoint stores
    // the pair and a resumed run replays the draws, one per training step.
    private int _streamSeed;
    private long _draws;

    /// <summary>Creates the layer; rate in [0, 1).</summary>
    public Dropout(float rate, string? name = null) : base(name)
    {
        if (!(rate >= 0f && rate < 1f)) throw new ArgumentOutOfRangeException(nameof(rate), rate, $"Dropout rate must be in [0, 1). Received: rate={rate}.");
        Rate = rate;
    }

    /// <summary>Probability of dropping a value.</summary>
    public float Rate { get; }
    /// <inheritdoc/>
    public override string TypeName => "Dropout";

    /// <inheritdoc/>
    protected override void OnBuild(IReadOnlyList<int[]> inputShapes, Random random) => RestoreStream(random.Next(), 0);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training)
    {
        if (!training || !Trainable || Rate <= 0f) return input;
        _draws++;
        return Ops.Dropout(input, Rate, _random.NextInt64());
    }

    /// <summary>Seed of the mask stream and the number of masks drawn from it.</summary>
    internal (int Seed, long Draws) StreamPosition => (_streamSeed, _draws);

    /// <summary>Puts the mask stream where <see cref="StreamPosition"/> was: reseeded, then <paramref name="draws"/> draws skipped.</summary>
    internal void RestoreStream(int seed, long draws)
    {
        if (draws < 0) throw new ArgumentOutOfRangeException(nameof(draws), draws, $"A dropout stream cannot have drawn {draws} masks.");
        _random = new Random(seed);
        for (long i = 0; i < draws; i++) _random.NextInt64();
        (_streamSeed, _draws) = (seed, draws);
    }
    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["rate"] = Rate };
}
