using System.Text.Json.Nodes;
using Fovea.Autograd;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>e^x element-wise.</summary>
public sealed class Exp(string? name = null) : ActivationLayer(name)
{
    /// <inheritdoc/>
    public override string TypeName => "Exp";
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Ops.Exp(input);
}

/// <summary>Natural logarithm element-wise.</summary>
public sealed class Log(string? name = null) : ActivationLayer(name)
{
    /// <inheritdoc/>
    public override string TypeName => "Log";
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Ops.Log(input);
}

/// <summary>Sum or maximum over per-sample axes (the batch axis is never reduced). Example: <c>new Reduce(ReduceKind.Max, [0], keepDims: true)</c>.</summary>
public sealed class Reduce : UnaryLayer
{
    /// <summary>Creates the layer for per-sample axes (negative counts from the end).</summary>
    public Reduce(ReduceKind kind, int[] axes, bool keepDims = true, string? name = null) : base(name)
    {
        ArgumentNullException.ThrowIfNull(axes);
        Kind = kind; Axes = (int[])axes.Clone(); KeepDims = keepDims;
    }

    /// <summary>Sum or max.</summary>
    public ReduceKind Kind { get; }
    /// <summary>Per-sample axes reduced.</summary>
    public int[] Axes { get; }
    /// <summary>Keep reduced axes as size 1.</summary>
    public bool KeepDims { get; }
    /// <inheritdoc/>
    public override string TypeName => "Reduce";

    private int[] Resolve(int rank) => Axes.Select(a =>
    {
        int r = a < 0 ? a + rank : a;
        if (r < 0 || r >= rank) throw new ArgumentException($"Layer '{Name}' (Reduce): axis {a} is out of range for a per-sample rank of {rank}.");
        return r;
    }).Distinct().ToArray();

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        var axes = Resolve(inputShape.Length);
        if (Kind == ReduceKind.Max && axes.FirstOrDefault(a => inputShape[a] == 0, -1) is var empty and >= 0)
            throw new ArgumentException($"Layer '{Name}' (Reduce): the maximum over axis {empty}, of size 0 in samples {Tensor.ShapeToString(inputShape)}, has no value.");
        return KeepDims ? inputShape.Select((d, i) => axes.Contains(i) ? 1 : d).ToArray() : inputShape.Where((_, i) => !axes.Contains(i)).ToArray();
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Ops.Reduce(input, Resolve(input.Rank - 1).Select(a => a + 1).ToArray(), KeepDims, Kind);

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new()
    {
        ["kind"] = Kind.ToString(), ["axes"] = new JsonArray(Axes.Select(a => (JsonNode)a).ToArray()), ["keep_dims"] = KeepDims,
    };

    internal static Reduce FromConfig(JsonObject c, string name) =>
        new(ConfigReader.Enum<ReduceKind>(c, "kind"), ConfigReader.IntArray(c, "axes"), ConfigReader.Bool(c, "keep_dims"), name);
}

/// <summary>
/// Selects element-wise: condition ≠ 0 ? a : b, for inputs (condition, a, b) broadcast over the per-sample axes
/// (lower-rank inputs are right-aligned within the sample).
/// </summary>
public sealed class Where(string? name = null) : Layer(name)
{
    /// <inheritdoc/>
    public override string TypeName => "Where";
    /// <inheritdoc/>
    public override int InputCount => 3;

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(IReadOnlyList<int[]> inputShapes)
    {
        try { return Ops.BroadcastShape(Ops.BroadcastShape(inputShapes[0], inputShapes[1]), inputShapes[2]); }
        catch (ArgumentException e) { throw new ArgumentException($"Layer '{Name}' (Where): {e.Message}"); }
    }

    /// <inheritdoc/>
    public override Tensor Forward(IReadOnlyList<Tensor> inputs, bool training)
    {
        int rank = inputs.Max(t => t.Rank);
        var t = inputs.Select(x => x.Rank < rank ? Ops.Reshape(x, Arithmetic.PadRank(x.Shape, rank)) : x).ToArray();
        return Ops.Where(t[0], t[1], t[2]);
    }

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new();
}
