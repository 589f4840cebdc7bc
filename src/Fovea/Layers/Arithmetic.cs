using System.Text.Json.Nodes;
using Fovea.Autograd;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>
/// Element-wise a (op) b of two inputs with broadcasting over the per-sample axes (the batch axis always matches).
/// Example: <c>new Arithmetic(BinaryOp.Multiply)</c> applied to an attention map [1, H, W] and features [C, H, W].
/// </summary>
public sealed class Arithmetic : Layer
{
    /// <summary>Creates the layer.</summary>
    public Arithmetic(BinaryOp op, string? name = null) : base(name) => Op = op;

    /// <summary>The operation.</summary>
    public BinaryOp Op { get; }
    /// <inheritdoc/>
    public override string TypeName => "Arithmetic";
    /// <inheritdoc/>
    public override int InputCount => 2;

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(IReadOnlyList<int[]> inputShapes)
    {
        try { return Ops.BroadcastShape(inputShapes[0], inputShapes[1]); }
        catch (ArgumentException e) { throw new ArgumentException($"Layer '{Name}' (Arithmetic {Op}): {e.Message}"); }
    }

    /// <inheritdoc/>
    public override Tensor Forward(IReadOnlyList<Tensor> inputs, bool training)
    {
        Tensor a = inputs[0], b = inputs[1];
        // Per-sample shapes broadcast right-aligned; give the lower-rank one leading 1s after the batch axis.
        if (a.Rank < b.Rank) a = Ops.Reshape(a, PadRank(a.Shape, b.Rank));
        else if (b.Rank < a.Rank) b = Ops.Reshape(b, PadRank(b.Shape, a.Rank));
        return Ops.Broadcast(a, b, Op);
    }

    internal static int[] PadRank(int[] s, int rank) => [s[0], .. Enumerable.Repeat(1, rank - s.Length), .. s[1..]];

    /// <inheritdoc/>
    public override long Flops(IReadOnlyList<int[]> inputShapes) => ComputeOutputShape(inputShapes).Aggregate(1L, (p, d) => p * d);
    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["op"] = Op.ToString() };
}

/// <summary>
/// Element-wise x (op) c with a stored constant c broadcast over each sample (c's rank ≤ the per-sample rank), or
/// c (op) x when <see cref="ConstantFirst"/>. The constant is a learned weight when <see cref="LearnConstant"/>, else a buffer.
/// Example: a per-channel scale [C, 1, 1] on [C, H, W].
/// </summary>
public sealed class ConstantArithmetic : UnaryLayer
{
    private Tensor? _constant;

    /// <summary>Creates the layer; set the constant's values through <see cref="Constant"/> after building.</summary>
    public ConstantArithmetic(BinaryOp op, int[] constantShape, bool constantFirst = false, bool learnConstant = false, string? name = null) : base(name)
    {
        ArgumentNullException.ThrowIfNull(constantShape);
        if (constantShape.Any(d => d < 0)) throw new ArgumentException($"Constant dimensions must be ≥ 0. Received {Tensor.ShapeToString(constantShape)}.");
        Op = op; ConstantShape = (int[])constantShape.Clone(); ConstantFirst = constantFirst; LearnConstant = learnConstant;
    }

    /// <summary>The operation.</summary>
    public BinaryOp Op { get; }
    /// <summary>Shape of the constant.</summary>
    public int[] ConstantShape { get; }
    /// <summary>Computes c (op) x instead of x (op) c.</summary>
    public bool ConstantFirst { get; }
    /// <summary>Whether the optimizer updates the constant.</summary>
    public bool LearnConstant { get; }
    /// <summary>The constant (after building).</summary>
    public Tensor Constant { get { EnsureBuilt(); return _constant!; } }
    /// <inheritdoc/>
    public override string TypeName => "ConstantArithmetic";

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        if (ConstantShape.Length > inputShape.Length)
            throw new ArgumentException($"Layer '{Name}' (ConstantArithmetic): the constant {Tensor.ShapeToString(ConstantShape)} has more axes than a sample {Tensor.ShapeToString(inputShape)}.");
        try { return Ops.BroadcastShape(inputShape, ConstantShape); }
        catch (ArgumentException e) { throw new ArgumentException($"Layer '{Name}' (ConstantArithmetic {Op}): {e.Message}"); }
    }

    /// <inheritdoc/>
    protected override void OnBuild(IReadOnlyList<int[]> inputShapes, Random random) =>
        _constant = LearnConstant ? AddWeight("constant", ConstantShape, Initializer.Zeros, 1, 1, random) : AddBuffer("constant", ConstantShape, 0f);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training)
    {
        EnsureBuilt();
        return ConstantFirst ? Ops.Broadcast(_constant!, input, Op) : Ops.Broadcast(input, _constant!, Op);
    }

    /// <inheritdoc/>
    public override long Flops(int[] inputShape) => ComputeOutputShape(inputShape).Aggregate(1L, (p, d) => p * d);

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new()
    {
        ["op"] = Op.ToString(),
        ["constant_shape"] = new JsonArray(ConstantShape.Select(d => (JsonNode)d).ToArray()),
        ["constant_first"] = ConstantFirst,
        ["learn_constant"] = LearnConstant,
    };

    internal static ConstantArithmetic FromConfig(JsonObject c, string name) => new(ConfigReader.Enum<BinaryOp>(c, "op"),
        ConfigReader.IntArray(c, "constant_shape"), ConfigReader.Bool(c, "constant_first"), ConfigReader.Bool(c, "learn_constant"), name);
}

/// <summary>
/// Matrix product of each sample with a learned weight, NumPy semantics: [..., M, K] · W [..., K, N] → [..., M, N]
/// (a 1-D sample [K] gives [..., N]). Generalises <see cref="Dense"/> to samples of any rank.
/// </summary>
public sealed class MatMul : UnaryLayer
{
    private Tensor? _weight;

    /// <summary>Creates the layer for a weight of the given shape (rank ≥ 1); weights start Glorot uniform.</summary>
    public MatMul(int[] weightShape, string? name = null) : base(name)
    {
        ArgumentNullException.ThrowIfNull(weightShape);
        if (weightShape.Length == 0 || weightShape.Any(d => d <= 0)) throw new ArgumentException($"MatMul weight needs rank ≥ 1 and positive dimensions. Received {Tensor.ShapeToString(weightShape)}.");
        WeightShape = (int[])weightShape.Clone();
    }

    /// <summary>Shape of the weight.</summary>
    public int[] WeightShape { get; }
    /// <summary>The weight (after building).</summary>
    public Tensor Weight { get { EnsureBuilt(); return _weight!; } }
    /// <inheritdoc/>
    public override string TypeName => "MatMul";

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        if (inputShape.Length == 0) throw new ArgumentException($"Layer '{Name}' (MatMul) needs samples of rank ≥ 1.");
        return ProductShape(inputShape, WeightShape, $"Layer '{Name}' (MatMul)", "a sample", "the weight");
    }

    /// <summary>
    /// Shape of a [..., M, K] · b [..., K, N] with NumPy semantics (leading axes broadcast; a 1-D a is a row, a 1-D b a
    /// column, and that axis is dropped). Errors start with <paramref name="layer"/> and name both operands.
    /// </summary>
    internal static int[] ProductShape(int[] a, int[] b, string layer, string aName, string bName)
    {
        var ma = a.Length == 1 ? new[] { 1, a[0] } : a;
        var mb = b.Length == 1 ? new[] { b[0], 1 } : b;
        if (ma[^1] != mb[^2])
            throw new ArgumentException($"{layer}: {aName} {Tensor.ShapeToString(a)} cannot multiply {bName} {Tensor.ShapeToString(b)}.");
        int[] batch;
        try { batch = Ops.BroadcastShape(ma.AsSpan(0, ma.Length - 2), mb.AsSpan(0, mb.Length - 2)); }
        catch (ArgumentException e) { throw new ArgumentException($"{layer}: {e.Message}"); }
        var s = new List<int>(batch);
        if (a.Length > 1) s.Add(ma[^2]);
        if (b.Length > 1) s.Add(mb[^1]);
        return s.ToArray();
    }

    /// <inheritdoc/>
    protected override void OnBuild(IReadOnlyList<int[]> inputShapes, Random random)
    {
        int k = WeightShape.Length == 1 ? WeightShape[0] : WeightShape[^2], n = WeightShape.Length == 1 ? 1 : WeightShape[^1];
        _weight = AddWeight("weight", WeightShape, Initializer.GlorotUniform, k, n, random);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training)
    {
        EnsureBuilt();
        var ps = input.Shape[1..];
        // Sample axes go behind enough leading 1s that the weight's batch axes line up with them, never with the batch.
        var a = ps.Length == 1 ? new[] { 1, ps[0] } : ps;
        int pad = Math.Max(0, WeightShape.Length - a.Length);
        var x = Ops.Reshape(input, [input.Dim(0), .. Enumerable.Repeat(1, pad), .. a]);
        var y = Ops.MatMul(x, _weight!);
        return Ops.Reshape(y, [input.Dim(0), .. ComputeOutputShape(ps)]);
    }

    /// <inheritdoc/>
    public override long Flops(int[] inputShape)
    {
        var o = ComputeOutputShape(inputShape);
        return 2L * o.Aggregate(1L, (p, d) => p * d) * (WeightShape.Length == 1 ? WeightShape[0] : WeightShape[^2]);
    }

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["weight_shape"] = new JsonArray(WeightShape.Select(d => (JsonNode)d).ToArray()) };
}
