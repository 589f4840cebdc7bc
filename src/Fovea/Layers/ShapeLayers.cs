using System.Text.Json.Nodes;
using Fovea.Autograd;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>Gives each sample a new shape of the same size. Example: <c>new Reshape([64, 7, 7])</c> on [3136].</summary>
public sealed class Reshape : UnaryLayer
{
    /// <summary>Creates the layer for a per-sample target shape (all dimensions ≥ 0, no -1).</summary>
    public Reshape(int[] targetShape, string? name = null) : base(name)
    {
        ArgumentNullException.ThrowIfNull(targetShape);
        if (targetShape.Any(d => d < 0)) throw new ArgumentException($"Reshape target dimensions must be ≥ 0. Received: {Tensor.ShapeToString(targetShape)}.");
        TargetShape = (int[])targetShape.Clone();
    }

    /// <summary>Per-sample output shape.</summary>
    public int[] TargetShape { get; }
    /// <inheritdoc/>
    public override string TypeName => "Reshape";

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        long a = inputShape.Aggregate(1L, (p, d) => p * d), b = TargetShape.Aggregate(1L, (p, d) => p * d);
        if (a != b) throw new ArgumentException($"Layer '{Name}' (Reshape) cannot give {Tensor.ShapeToString(inputShape)} ({a} values) the shape {Tensor.ShapeToString(TargetShape)} ({b} values).");
        return (int[])TargetShape.Clone();
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Ops.Reshape(input, [input.Dim(0), .. TargetShape]);
    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["target_shape"] = new JsonArray(TargetShape.Select(d => (JsonNode)d).ToArray()) };

    internal static Reshape FromConfig(JsonObject c, string name) => new(ConfigReader.IntArray(c, "target_shape"), name);
}

/// <summary>Permutes the per-sample axes: output axis i is input axis <see cref="Permutation"/>[i] (the batch axis stays first).</summary>
public sealed class Transpose : UnaryLayer
{
    /// <summary>Creates the layer for a permutation of the per-sample axes.</summary>
    public Transpose(int[] permutation, string? name = null) : base(name)
    {
        ArgumentNullException.ThrowIfNull(permutation);
        if (!permutation.Order().SequenceEqual(Enumerable.Range(0, permutation.Length)))
            throw new ArgumentException($"Transpose needs a permutation of 0..{permutation.Length - 1}. Received: [{string.Join(", ", permutation)}].");
        Permutation = (int[])permutation.Clone();
    }

    /// <summary>The permutation of per-sample axes.</summary>
    public int[] Permutation { get; }
    /// <inheritdoc/>
    public override string TypeName => "Transpose";

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        if (inputShape.Length != Permutation.Length)
            throw new ArgumentException($"Layer '{Name}' (Transpose) permutes {Permutation.Length} axes; received {Tensor.ShapeToString(inputShape)}.");
        return Permutation.Select(p => inputShape[p]).ToArray();
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Ops.Transpose(input, [0, .. Permutation.Select(p => p + 1)]);
    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["permutation"] = new JsonArray(Permutation.Select(d => (JsonNode)d).ToArray()) };
}

/// <summary>Joins its inputs along a per-sample axis; every other dimension must agree.</summary>
public sealed class Concat : Layer
{
    /// <summary>Creates the layer for a per-sample axis (negative counts from the end).</summary>
    public Concat(int axis = 0, string? name = null) : base(name) => Axis = axis;

    /// <summary>Per-sample axis (negative counts from the end).</summary>
    public int Axis { get; }
    /// <inheritdoc/>
    public override string TypeName => "Concat";
    /// <inheritdoc/>
    public override int InputCount => -1;

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(IReadOnlyList<int[]> inputShapes)
    {
        if (inputShapes.Count == 0) throw new ArgumentException($"Layer '{Name}' (Concat) needs at least one input.");
        int rank = inputShapes[0].Length, a = ResolveAxis(rank);
        var s = (int[])inputShapes[0].Clone();
        s[a] = 0;
        foreach (var shape in inputShapes)
        {
            if (shape.Length != rank || Enumerable.Range(0, rank).Any(d => d != a && shape[d] != inputShapes[0][d]))
                throw new ArgumentException($"Layer '{Name}' (Concat) along axis {Axis}: inputs {string.Join(", ", inputShapes.Select(x => Tensor.ShapeToString(x)))} differ on another axis.");
            s[a] += shape[a];
        }
        return s;
    }

    private int ResolveAxis(int rank)
    {
        int a = Axis < 0 ? Axis + rank : Axis;
        if (a < 0 || a >= rank) throw new ArgumentException($"Layer '{Name}' (Concat): axis {Axis} is out of range for a per-sample rank of {rank}.");
        return a;
    }

    /// <inheritdoc/>
    public override Tensor Forward(IReadOnlyList<Tensor> inputs, bool training) => Ops.Concat(inputs, ResolveAxis(inputs[0].Rank - 1) + 1);
    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["axis"] = Axis };
}

/// <summary>
/// Pads (or crops, with negative amounts) the per-sample axes. <see cref="Before"/>[d] / <see cref="After"/>[d] elements are
/// added at the start / end of per-sample axis d, filled per <see cref="Mode"/>.
/// </summary>
public sealed class Pad : UnaryLayer
{
    /// <summary>Creates the layer.</summary>
    public Pad(int[] before, int[] after, PadMode mode = PadMode.Constant, float value = 0f, string? name = null) : base(name)
    {
        ArgumentNullException.ThrowIfNull(before); ArgumentNullException.ThrowIfNull(after);
        if (before.Length != after.Length) throw new ArgumentException($"Pad needs as many 'before' as 'after' amounts. Received {before.Length} and {after.Length}.");
        Before = (int[])before.Clone(); After = (int[])after.Clone(); Mode = mode; Value = value;
    }

    /// <summary>Elements added before each per-sample axis.</summary>
    public int[] Before { get; }
    /// <summary>Elements added after each per-sample axis.</summary>
    public int[] After { get; }
    /// <summary>Fill rule.</summary>
    public PadMode Mode { get; }
    /// <summary>Fill value of <see cref="PadMode.Constant"/>.</summary>
    public float Value { get; }
    /// <inheritdoc/>
    public override string TypeName => "Pad";

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        if (inputShape.Length != Before.Length)
            throw new ArgumentException($"Layer '{Name}' (Pad) has amounts for {Before.Length} axes; received {Tensor.ShapeToString(inputShape)}.");
        var s = inputShape.Select((d, i) => d + Before[i] + After[i]).ToArray();
        if (s.Any(d => d < 0)) throw new ArgumentException($"Layer '{Name}' (Pad) crops {Tensor.ShapeToString(inputShape)} below zero.");
        // Only a constant can fill an axis that has no values to repeat.
        for (int d = 0; d < s.Length; d++)
            if (Mode != PadMode.Constant && inputShape[d] == 0 && s[d] > 0)
                throw new ArgumentException($"Layer '{Name}' (Pad): {Mode} padding has no values to repeat along axis {d} of samples {Tensor.ShapeToString(inputShape)}.");
            // Edge, reflect and wrap repeat only what the crop at the other end leaves.
            else if (Mode != PadMode.Constant && (Before[d] > 0 || After[d] > 0) && inputShape[d] + Math.Min(0, Before[d]) + Math.Min(0, After[d]) <= 0)
                throw new ArgumentException($"Layer '{Name}' (Pad): {Mode} padding has no values to repeat along axis {d} of samples {Tensor.ShapeToString(inputShape)} once cropped by {-Math.Min(0, Before[d])} and {-Math.Min(0, After[d])}.");
            else if (Mode == PadMode.Reflect && Math.Max(Before[d], After[d]) > 0
                && Math.Max(Before[d], After[d]) >= inputShape[d] + Math.Min(0, Before[d]) + Math.Min(0, After[d]))
                throw new ArgumentException($"Layer '{Name}' (Pad): reflect padding by {Math.Max(Before[d], After[d])} along axis {d} of samples {Tensor.ShapeToString(inputShape)} must be smaller than the {inputShape[d] + Math.Min(0, Before[d]) + Math.Min(0, After[d])} values left after cropping.");
        return s;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Ops.Pad(input, [0, .. Before], [0, .. After], Mode, Value);

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new()
    {
        ["before"] = new JsonArray(Before.Select(d => (JsonNode)d).ToArray()),
        ["after"] = new JsonArray(After.Select(d => (JsonNode)d).ToArray()),
        ["mode"] = Mode.ToString(),
        ["value"] = Value,
    };

    internal static Pad FromConfig(JsonObject c, string name) =>
        new(ConfigReader.IntArray(c, "before"), ConfigReader.IntArray(c, "after"), ConfigReader.Enum<PadMode>(c, "mode"), ConfigReader.Float(c, "value"), name);
}
