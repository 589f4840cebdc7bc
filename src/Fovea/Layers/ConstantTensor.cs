using System.Text.Json.Nodes;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>
/// Outputs a stored constant for every sample of its input's batch (the input's values are not read), e.g. a fixed
/// operand concatenated with computed features. The constant is a buffer: it is saved but not trained.
/// </summary>
public sealed class ConstantTensor : UnaryLayer
{
    private Tensor? _value;

    /// <summary>Creates the layer for a per-sample constant of the given shape; set its values through <see cref="Value"/> after building.</summary>
    public ConstantTensor(int[] shape, string? name = null) : base(name)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Any(d => d < 0)) throw new ArgumentException($"Constant dimensions must be ≥ 0. Received {Tensor.ShapeToString(shape)}.");
        Shape = (int[])shape.Clone();
    }

    /// <summary>Per-sample shape of the constant.</summary>
    public int[] Shape { get; }
    /// <summary>The constant (after building).</summary>
    public Tensor Value { get { EnsureBuilt(); return _value!; } }
    /// <inheritdoc/>
    public override string TypeName => "ConstantTensor";
    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape) => (int[])Shape.Clone();
    /// <inheritdoc/>
    protected override void OnBuild(IReadOnlyList<int[]> inputShapes, Random random) => _value = AddBuffer("value", Shape, 0f);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training)
    {
        EnsureBuilt();
        int n = input.Dim(0);
        var y = new Tensor([n, .. Shape]);
        for (int i = 0; i < n; i++) _value!.Span.CopyTo(y.Span.Slice(i * _value.Length, _value.Length));
        return y;
    }

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["shape"] = new JsonArray(Shape.Select(d => (JsonNode)d).ToArray()) };
}
