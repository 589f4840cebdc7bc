using System.Text.Json.Nodes;
using Fovea.Autograd;
using Fovea.Kernels;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>
/// 2-D convolution: <c>filters</c> learned k×k kernels, each convolved over every input channel (of its group) and
/// summed into one activation map. Input [C, H, W] → output [filters, OH, OW] with
/// OH = floor((H + padTop + padBottom - dilation·(k - 1) - 1) / stride) + 1 (same for width).
/// Weight [filters, C/groups, k, k] (He normal init), bias [filters] (zeros).
/// Example: <c>new Conv2D(32, 3, padding: 1)</c> on [1, 28, 28] gives [32, 28, 28].
/// </summary>
public sealed class Conv2D : UnaryLayer
{
    private Tensor? _weight, _bias;

    /// <summary>Creates a convolution layer. Defaults: stride 1, valid padding, dilation 1, groups 1, bias on, He normal.</summary>
    public Conv2D(int filters, int kernelSize, int stride = 1, Padding? padding = null, int dilation = 1, int groups = 1,
        bool useBias = true, Initializer initializer = Initializer.HeNormal, string? name = null)
        : this(filters, (kernelSize, kernelSize), (stride, stride), padding ?? Padding.Valid, (dilation, dilation), groups, useBias, initializer, name) { }

    /// <summary>Creates a convolution layer with separate height/width kernel, stride and dilation.</summary>
    public Conv2D(int filters, (int Height, int Width) kernelSize, (int Height, int Width) stride, Padding padding,
        (int Height, int Width) dilation, int groups = 1, bool useBias = true, Initializer initializer = Initializer.HeNormal, string? name = null)
        : base(name)
    {
        if (filters <= 0) throw new ArgumentOutOfRangeException(nameof(filters), filters, $"Conv2D needs at least one filter. Received: filters={filters}.");
        if (kernelSize.Height <= 0 || kernelSize.Width <= 0) throw new ArgumentOutOfRangeException(nameof(kernelSize), kernelSize, $"Kernel size must be positive. Received: kernelSize={kernelSize}.");
        if (stride.Height <= 0 || stride.Width <= 0) throw new ArgumentOutOfRangeException(nameof(stride), stride, $"Stride must be positive. Received: stride={stride}.");
        if (dilation.Height <= 0 || dilation.Width <= 0) throw new ArgumentOutOfRangeException(nameof(dilation), dilation, $"Dilation must be positive. Received: dilation={dilation}.");
        if (groups <= 0 || filters % groups != 0)
            throw new ArgumentException($"The number of filters must be evenly divisible by the number of groups. Received: groups={groups}, filters={filters}.");
        Filters = filters; KernelSize = kernelSize; Stride = stride; Padding = padding; Dilation = dilation;
        Groups = groups; UseBias = useBias; KernelInitializer = initializer;
    }

    /// <summary>Number of filters (output channels).</summary>
    public int Filters { get; }
    /// <summary>Kernel height and width.</summary>
    public (int Height, int Width) KernelSize { get; }
    /// <summary>Stride per axis.</summary>
    public (int Height, int Width) Stride { get; }
    /// <summary>Padding rule.</summary>
    public Padding Padding { get; }
    /// <summary>Dilation per axis.</summary>
    public (int Height, int Width) Dilation { get; }
    /// <summary>Channel groups (groups = channels gives a depthwise convolution).</summary>
    public int Groups { get; }
    /// <summary>Whether a bias is added per filter.</summary>
    public bool UseBias { get; }
    /// <summary>Initializer of the kernel weights.</summary>
    public Initializer KernelInitializer { get; }

    /// <summary>Weight [filters, C/groups, kh, kw].</summary>
    public Tensor Weight { get { EnsureBuilt(); return _weight!; } }
    /// <summary>Bias [filters], or null.</summary>
    public Tensor? Bias => _bias;

    /// <inheritdoc/>
    public override string TypeName => "Conv2D";

    internal Conv2dShape Geometry(int[] inputShape)
    {
        int c = inputShape[0], h = inputShape[1], w = inputShape[2];
        var (top, bottom) = Padding.Resolve(h, KernelSize.Height, Stride.Height, Dilation.Height, vertical: true);
        var (left, right) = Padding.Resolve(w, KernelSize.Width, Stride.Width, Dilation.Width, vertical: false);
        return new Conv2dShape(1, c, h, w, Filters, KernelSize.Height, KernelSize.Width, Stride.Height, Stride.Width,
            top, left, bottom, right, Dilation.Height, Dilation.Width, Groups);
    }

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        RequireRank([inputShape], 3, "[C, H, W]");
        if (inputShape[0] % Groups != 0)
            throw new ArgumentException($"Layer '{Name}': input channels must be divisible by groups. Received: channels={inputShape[0]}, groups={Groups}.");
        var g = Geometry(inputShape);
        try { g.Validate(); }
        catch (ArgumentException e) { throw new ArgumentException($"Layer '{Name}' (Conv2D) cannot take input {Tensor.ShapeToString(inputShape)}: {e.Message}"); }
        return [Filters, g.OutHeight, g.OutWidth];
    }

    /// <inheritdoc/>
    protected override void OnBuild(IReadOnlyList<int[]> inputShapes, Random random)
    {
        int cPerGroup = inputShapes[0][0] / Groups, area = KernelSize.Height * KernelSize.Width;
        _weight = AddWeight("weight", [Filters, cPerGroup, KernelSize.Height, KernelSize.Width], KernelInitializer, cPerGroup * area, Filters / Groups * area, random);
        _bias = UseBias ? AddWeight("bias", [Filters], Initializer.Zeros, 1, 1, random) : null;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training)
    {
        EnsureBuilt();
        return Ops.Conv2d(input, _weight!, _bias, Geometry(input.Shape[1..]));
    }

    /// <summary>ReLU(Forward(input)) in one pass; the model uses it when a ReLU layer is this layer's only consumer.</summary>
    internal Tensor ForwardWithRelu(Tensor input)
    {
        EnsureBuilt();
        return Ops.Conv2d(input, _weight!, _bias, Geometry(input.Shape[1..]), relu: true);
    }

    /// <inheritdoc/>
    public override long Flops(int[] inputShape)
    {
        var g = Geometry(inputShape);
        return 2L * g.OutHeight * g.OutWidth * Filters * g.InChannelsPerGroup * KernelSize.Height * KernelSize.Width;
    }

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new()
    {
        ["filters"] = Filters,
        ["kernel_size"] = new JsonArray(KernelSize.Height, KernelSize.Width),
        ["strides"] = new JsonArray(Stride.Height, Stride.Width),
        ["padding"] = Padding.ToJson(),
        ["dilation"] = new JsonArray(Dilation.Height, Dilation.Width),
        ["groups"] = Groups,
        ["use_bias"] = UseBias,
        ["initializer"] = KernelInitializer.ToString(),
    };

    internal static Conv2D FromConfig(JsonObject c, string name) => new(
        ConfigReader.Int(c, "filters"), ConfigReader.Pair(c, "kernel_size"), ConfigReader.Pair(c, "strides"), Padding.FromJson(c["padding"]),
        ConfigReader.Pair(c, "dilation"), ConfigReader.Int(c, "groups"), ConfigReader.Bool(c, "use_bias"), ConfigReader.Enum<Initializer>(c, "initializer"), name);
}
