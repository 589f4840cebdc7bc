using System.Text.Json.Nodes;
using Fovea.Autograd;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>Clip: y = min(max(x, min), max), e.g. ReLU6 = Clip(0, 6). Example: <c>new Clip(0, 6)</c>.</summary>
public sealed class Clip : ActivationLayer
{
    /// <summary>Creates the layer; infinite bounds leave that side open.</summary>
    public Clip(float min = float.NegativeInfinity, float max = float.PositiveInfinity, string? name = null) : base(name)
    {
        if (float.IsNaN(min) || float.IsNaN(max)) throw new ArgumentException($"Clip bounds must not be NaN. Received: min={min}, max={max}.");
        Min = min; Max = max;
    }

    /// <summary>Lower bound.</summary>
    public float Min { get; }
    /// <summary>Upper bound.</summary>
    public float Max { get; }
    /// <inheritdoc/>
    public override string TypeName => "Clip";
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Ops.Clip(input, Min, Max);
    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["min"] = Bound(Min), ["max"] = Bound(Max) };

    // JSON has no infinities: open bounds are stored as null.
    private static JsonNode? Bound(float v) => float.IsInfinity(v) ? null : JsonValue.Create(v);

    internal static Clip FromConfig(JsonObject c, string name) =>
        new(c["min"] is null ? float.NegativeInfinity : ConfigReader.Float(c, "min"), c["max"] is null ? float.PositiveInfinity : ConfigReader.Float(c, "max"), name);
}

/// <summary>ELU: y = x &gt; 0 ? x : alpha·(exp(x) - 1). Example: <c>new Elu(1f)</c>.</summary>
public sealed class Elu : ActivationLayer
{
    /// <summary>Creates the layer; alpha may be any finite value (ONNX allows negative ones).</summary>
    public Elu(float alpha = 1f, string? name = null) : base(name)
    {
        if (!float.IsFinite(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, $"ELU alpha must be finite. Received: alpha={alpha}.");
        Alpha = alpha;
    }

    /// <summary>Scale of the negative part.</summary>
    public float Alpha { get; }
    /// <inheritdoc/>
    public override string TypeName => "Elu";
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Ops.Elu(input, Alpha);
    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["alpha"] = Alpha };
}

/// <summary>
/// Softmax or log-softmax along one per-sample axis (0 = the first axis after the batch).
/// With <see cref="FlattenFrom"/>, the axes from <see cref="Axis"/> on are normalised together (ONNX before opset 13).
/// </summary>
public sealed class AxisSoftmax : ActivationLayer
{
    /// <summary>Creates the layer for a per-sample axis (negative counts from the end).</summary>
    public AxisSoftmax(int axis = -1, bool log = false, bool flattenFrom = false, string? name = null) : base(name)
    {
        Axis = axis; Log = log; FlattenFrom = flattenFrom;
    }

    /// <summary>Per-sample axis (negative counts from the end).</summary>
    public int Axis { get; }
    /// <summary>Log-softmax instead of softmax.</summary>
    public bool Log { get; }
    /// <summary>Normalise over all axes from <see cref="Axis"/> on.</summary>
    public bool FlattenFrom { get; }
    /// <inheritdoc/>
    public override string TypeName => "AxisSoftmax";

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        ResolveAxis(inputShape.Length);
        return (int[])inputShape.Clone();
    }

    private int ResolveAxis(int rank)
    {
        int a = Axis < 0 ? Axis + rank : Axis;
        if (a < 0 || a >= rank) throw new ArgumentException($"Layer '{Name}' (AxisSoftmax): axis {Axis} is out of range for a per-sample rank of {rank}.");
        return a;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Ops.SoftmaxAlong(input, ResolveAxis(input.Rank - 1) + 1, Log, FlattenFrom);
    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["axis"] = Axis, ["log"] = Log, ["flatten_from"] = FlattenFrom };

    /// <summary>
    /// Whether, for a per-sample input of <paramref name="inputShape"/>, the output is one probability distribution over
    /// all of a sample's values: a softmax (not log) whose normalised axes leave only axes of size 1 outside them.
    /// </summary>
    internal bool GivesOneDistribution(int[] inputShape)
    {
        if (Log) return false;
        int axis = ResolveAxis(inputShape.Length);
        for (int i = 0; i < inputShape.Length; i++)
            if (inputShape[i] != 1 && i != axis && !(FlattenFrom && i > axis)) return false;
        return true;
    }
}

/// <summary>Maximum over each channel's plane: [C, H, W] → [C, 1, 1] (or [C] without <see cref="KeepDims"/>).</summary>
public sealed class GlobalMaxPool2D : UnaryLayer
{
    /// <summary>Creates the layer.</summary>
    public GlobalMaxPool2D(bool keepDims = false, string? name = null) : base(name) => KeepDims = keepDims;

    /// <summary>Keep the 1×1 spatial axes.</summary>
    public bool KeepDims { get; }
    /// <inheritdoc/>
    public override string TypeName => "GlobalMaxPool2D";

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        var s = RequireRank([inputShape], 3, "[C, H, W]");
        GlobalAvgPool2D.RequireImage(this, s);
        return KeepDims ? [s[0], 1, 1] : [s[0]];
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training)
    {
        var y = Ops.GlobalMaxPool2d(input);
        return KeepDims ? y : Ops.Reshape(y, y.Dim(0), y.Dim(1));
    }

    /// <inheritdoc/>
    public override long Flops(int[] inputShape) => (long)inputShape[0] * inputShape[1] * inputShape[2];
    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["keep_dims"] = KeepDims };
}
