using System.Text.Json.Nodes;
using Fovea.Autograd;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>
/// Fully connected layer: [features] → [units], y = x·Wᵀ + b with W [units, features] (Glorot uniform) and b [units] (zeros).
/// Example: <c>new Dense(128)</c> on [3136] gives [128]. Put a Flatten before it when the input is an image.
/// </summary>
public sealed class Dense : UnaryLayer
{
    private Tensor? _weight, _bias;

    /// <summary>Creates the layer. Defaults: bias on, Glorot uniform weights.</summary>
    public Dense(int units, bool useBias = true, Initializer initializer = Initializer.GlorotUniform, string? name = null) : base(name)
    {
        if (units <= 0) throw new ArgumentOutOfRangeException(nameof(units), units, $"Dense needs at least one unit. Received: units={units}.");
        Units = units; UseBias = useBias; KernelInitializer = initializer;
    }

    /// <summary>Output features.</summary>
    public int Units { get; }
    /// <summary>Whether a bias is added.</summary>
    public bool UseBias { get; }
    /// <summary>Initializer of the weights.</summary>
    public Initializer KernelInitializer { get; }
    /// <summary>Weight [units, features].</summary>
    public Tensor Weight { get { EnsureBuilt(); return _weight!; } }
    /// <summary>Bias [units] or null.</summary>
    public Tensor? Bias => _bias;

    /// <inheritdoc/>
    public override string TypeName => "Dense";

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        if (inputShape.Length != 1)
            throw new ArgumentException($"Layer '{Name}' (Dense) expects a flat input [features] per sample; received {Tensor.ShapeToString(inputShape)}. Add a Flatten or GlobalAvgPool2D layer before it.");
        // Without features every output would be its bias: refused as almost certainly a wrongly shaped model.
        if (inputShape[0] == 0)
            throw new ArgumentException($"Layer '{Name}' (Dense) needs at least one input feature per sample; received {Tensor.ShapeToString(inputShape)}.");
        return [Units];
    }

    /// <inheritdoc/>
    protected override void OnBuild(IReadOnlyList<int[]> inputShapes, Random random)
    {
        int features = inputShapes[0][0];
        _weight = AddWeight("weight", [Units, features], KernelInitializer, features, Units, random);
        _bias = UseBias ? AddWeight("bias", [Units], Initializer.Zeros, 1, 1, random) : null;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training)
    {
        EnsureBuilt();
        return Ops.Linear(input, _weight!, _bias);
    }

    /// <inheritdoc/>
    public override long Flops(int[] inputShape) => 2L * inputShape[0] * Units;

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["units"] = Units, ["use_bias"] = UseBias, ["initializer"] = KernelInitializer.ToString() };

    internal static Dense FromConfig(JsonObject c, string name) => new(ConfigReader.Int(c, "units"), ConfigReader.Bool(c, "use_bias"), ConfigReader.Enum<Initializer>(c, "initializer"), name);
}
