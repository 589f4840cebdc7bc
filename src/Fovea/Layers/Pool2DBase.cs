using System.Text.Json.Nodes;
using Fovea.Kernels;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>
/// Shared configuration of MaxPool2D and AvgPool2D: a window slid per channel (channels never mix).
/// Output size per axis: floor((in + padBefore + padAfter - dilation·(pool - 1) - 1) / stride) + 1 (ceil with ceilMode).
/// </summary>
public abstract class Pool2DBase : UnaryLayer
{
    /// <summary>Validates and stores the window configuration; stride defaults to the window size.</summary>
    protected Pool2DBase((int Height, int Width) poolSize, (int Height, int Width)? stride, Padding padding, bool ceilMode, string? name)
        : base(name)
    {
        if (poolSize.Height <= 0 || poolSize.Width <= 0) throw new ArgumentOutOfRangeException(nameof(poolSize), poolSize, $"Pool size must be positive. Received: poolSize={poolSize}.");
        var s = stride ?? poolSize;
        if (s.Height <= 0 || s.Width <= 0) throw new ArgumentOutOfRangeException(nameof(stride), s, $"Pool stride must be positive. Received: stride={s}.");
        PoolSize = poolSize; Stride = s; Padding = padding; CeilMode = ceilMode;
    }

    /// <summary>Window height and width.</summary>
    public (int Height, int Width) PoolSize { get; }
    /// <summary>Step between windows.</summary>
    public (int Height, int Width) Stride { get; }
    /// <summary>Padding rule.</summary>
    public Padding Padding { get; }
    /// <summary>Round the output size up instead of down.</summary>
    public bool CeilMode { get; }

    /// <summary>Spacing between window taps (1 = contiguous window); set with an object initializer.</summary>
    public (int Height, int Width) Dilation
    {
        get => _dilation;
        init
        {
            if (value.Height <= 0 || value.Width <= 0) throw new ArgumentOutOfRangeException(nameof(Dilation), value, $"Pool dilation must be positive. Received: dilation={value}.");
            _dilation = value;
        }
    }
    private readonly (int Height, int Width) _dilation = (1, 1);

    /// <summary>Whether an average counts padded positions (AvgPool2D only).</summary>
    protected virtual bool CountIncludePad => false;

    internal Pool2dShape Geometry(int[] inputShape)
    {
        var (top, bottom) = Padding.Resolve(inputShape[1], PoolSize.Height, Stride.Height, Dilation.Height, vertical: true);
        var (left, right) = Padding.Resolve(inputShape[2], PoolSize.Width, Stride.Width, Dilation.Width, vertical: false);
        return new Pool2dShape(1, inputShape[0], inputShape[1], inputShape[2], PoolSize.Height, PoolSize.Width, Stride.Height, Stride.Width,
            top, left, bottom, right, Dilation.Height, Dilation.Width, CeilMode, CountIncludePad);
    }

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        RequireRank([inputShape], 3, "[C, H, W]");
        var g = Geometry(inputShape);
        try { g.Validate(); }
        catch (ArgumentException e) { throw new ArgumentException($"Layer '{Name}' ({TypeName}) cannot take input {Tensor.ShapeToString(inputShape)}: {e.Message}"); }
        return [inputShape[0], g.OutHeight, g.OutWidth];
    }

    /// <inheritdoc/>
    public override long Flops(int[] inputShape)
    {
        var o = ComputeOutputShape(inputShape);
        return (long)o[0] * o[1] * o[2] * PoolSize.Height * PoolSize.Width;
    }

    /// <inheritdoc/>
    public override JsonObject GetConfig()
    {
        var c = new JsonObject
        {
            ["pool_size"] = new JsonArray(PoolSize.Height, PoolSize.Width),
            ["strides"] = new JsonArray(Stride.Height, Stride.Width),
            ["padding"] = Padding.ToJson(),
            ["ceil_mode"] = CeilMode,
        };
        // Written only when used, so files of undilated pools stay as before.
        if (Dilation != (1, 1)) c["dilation"] = new JsonArray(Dilation.Height, Dilation.Width);
        return c;
    }

    internal static (int, int) DilationFrom(JsonObject c) => c["dilation"] is null ? (1, 1) : ConfigReader.Pair(c, "dilation");
}

/// <summary>
/// Max pooling per channel. Example: <c>new MaxPool2D(2)</c> on [32, 28, 28] gives [32, 14, 14];
/// <c>new MaxPool2D(3, stride: 2)</c> makes overlapping windows.
/// </summary>
public sealed class MaxPool2D : Pool2DBase
{
    /// <summary>Square window; stride defaults to the window; no padding.</summary>
    public MaxPool2D(int poolSize, int? stride = null, Padding? padding = null, bool ceilMode = false, string? name = null)
        : base((poolSize, poolSize), stride is int s ? (s, s) : null, padding ?? Padding.Valid, ceilMode, name) { }

    /// <summary>Rectangular window and stride.</summary>
    public MaxPool2D((int Height, int Width) poolSize, (int Height, int Width)? stride, Padding padding, bool ceilMode = false, string? name = null)
        : base(poolSize, stride, padding, ceilMode, name) { }

    /// <inheritdoc/>
    public override string TypeName => "MaxPool2D";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Autograd.Ops.MaxPool2d(input, Geometry(input.Shape[1..]));

    internal static MaxPool2D FromConfig(JsonObject c, string name) =>
        new(ConfigReader.Pair(c, "pool_size"), ConfigReader.Pair(c, "strides"), Padding.FromJson(c["padding"]), ConfigReader.Bool(c, "ceil_mode"), name) { Dilation = DilationFrom(c) };
}

/// <summary>
/// Average pooling per channel. By default padded positions are not counted in the average (countIncludePad false).
/// Example: <c>new AvgPool2D(2)</c> on [32, 28, 28] gives [32, 14, 14].
/// </summary>
public sealed class AvgPool2D : Pool2DBase
{
    private readonly bool _countIncludePad;

    /// <summary>Square window; stride defaults to the window; no padding.</summary>
    public AvgPool2D(int poolSize, int? stride = null, Padding? padding = null, bool ceilMode = false, bool countIncludePad = false, string? name = null)
        : base((poolSize, poolSize), stride is int s ? (s, s) : null, padding ?? Padding.Valid, ceilMode, name) => _countIncludePad = countIncludePad;

    /// <summary>Rectangular window and stride.</summary>
    public AvgPool2D((int Height, int Width) poolSize, (int Height, int Width)? stride, Padding padding, bool ceilMode = false, bool countIncludePad = false, string? name = null)
        : base(poolSize, stride, padding, ceilMode, name) => _countIncludePad = countIncludePad;

    /// <inheritdoc/>
    protected override bool CountIncludePad => _countIncludePad;

    /// <inheritdoc/>
    public override string TypeName => "AvgPool2D";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training) => Autograd.Ops.AvgPool2d(input, Geometry(input.Shape[1..]));

    /// <inheritdoc/>
    public override JsonObject GetConfig()
    {
        var c = base.GetConfig();
        c["count_include_pad"] = _countIncludePad;
        return c;
    }

    internal static AvgPool2D FromConfig(JsonObject c, string name) =>
        new(ConfigReader.Pair(c, "pool_size"), ConfigReader.Pair(c, "strides"), Padding.FromJson(c["padding"]), ConfigReader.Bool(c, "ceil_mode"), ConfigReader.Bool(c, "count_include_pad"), name) { Dilation = DilationFrom(c) };
}
