using System.Text.Json.Nodes;
using Fovea.Kernels;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>
/// Where max pooling's maxima come from (ONNX MaxPool's second output, Indices): per output of the given pooling, the
/// position of the winning element flattened over the whole batch input N × C × H × W (batch and channel offsets
/// included, padding not counted), row-major or — with <see cref="ColumnMajor"/> (ONNX storage_order 1) — column-major
/// within each plane; see <see cref="MaxPool2d.Indices"/>. The positions are carried as float32, exact because a batch
/// may hold at most 2^24 input elements (larger batches are refused, naming their size).
/// No gradient: the positions are piecewise constant in the input, so the output never requires one and nothing flows
/// back through this layer. Example: <c>new MaxPoolIndices2D(new MaxPool2D(2))</c> on [3, 8, 8] gives [3, 4, 4].
/// </summary>
public sealed class MaxPoolIndices2D : UnaryLayer
{
    private readonly MaxPool2D _window;

    /// <summary>Creates the layer for the configuration of <paramref name="pooling"/> (copied; the pooling layer is not referenced).</summary>
    public MaxPoolIndices2D(MaxPool2D pooling, bool columnMajor = false, string? name = null) : base(name)
    {
        ArgumentNullException.ThrowIfNull(pooling);
        _window = new MaxPool2D(pooling.PoolSize, pooling.Stride, pooling.Padding, pooling.CeilMode) { Dilation = pooling.Dilation };
        ColumnMajor = columnMajor;
    }

    /// <summary>Window height and width.</summary>
    public (int Height, int Width) PoolSize => _window.PoolSize;
    /// <summary>Step between windows.</summary>
    public (int Height, int Width) Stride => _window.Stride;
    /// <summary>Padding rule.</summary>
    public Padding Padding => _window.Padding;
    /// <summary>Round the output size up instead of down.</summary>
    public bool CeilMode => _window.CeilMode;
    /// <summary>Spacing between window taps.</summary>
    public (int Height, int Width) Dilation => _window.Dilation;
    /// <summary>Column-major positions within each plane (ONNX storage_order 1) instead of row-major.</summary>
    public bool ColumnMajor { get; }
    /// <inheritdoc/>
    public override string TypeName => "MaxPoolIndices2D";

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        RequireRank([inputShape], 3, "[C, H, W]");
        var g = _window.Geometry(inputShape);
        try { g.Validate(); }
        catch (ArgumentException e) { throw new ArgumentException($"Layer '{Name}' ({TypeName}) cannot take input {Tensor.ShapeToString(inputShape)}: {e.Message}"); }
        long elements = (long)inputShape[0] * inputShape[1] * inputShape[2];
        if (elements > MaxPool2d.MaxIndexedElements)
            throw new ArgumentException($"Layer '{Name}' ({TypeName}): a sample {Tensor.ShapeToString(inputShape)} has {elements} elements; positions are exact in float32 only up to {MaxPool2d.MaxIndexedElements} (2^24) elements per batch.");
        return [inputShape[0], g.OutHeight, g.OutWidth];
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, bool training)
    {
        if (input.Rank != 4)
            throw new ArgumentException($"Layer '{Name}' ({TypeName}) expects a batch [N, C, H, W]; received {Tensor.ShapeToString(input.Shape)}.");
        if (input.Length > MaxPool2d.MaxIndexedElements)
        {
            int perSample = input.Length / Math.Max(1, input.Dim(0));
            throw new ArgumentException($"Layer '{Name}' ({TypeName}): the batch {Tensor.ShapeToString(input.Shape)} has {input.Length} elements; positions are exact in float32 only up to {MaxPool2d.MaxIndexedElements} (2^24). Run at most {MaxPool2d.MaxIndexedElements / perSample} samples at a time.");
        }
        var s = _window.Geometry(input.Shape[1..]) with { Batch = input.Dim(0) };
        var y = Tensor.Uninitialized(s.Batch, s.Channels, s.OutHeight, s.OutWidth);
        MaxPool2d.Indices(s, input.Span, y.Span, ColumnMajor);
        return y;
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
        var c = _window.GetConfig();
        c["column_major"] = ColumnMajor;
        return c;
    }

    internal static MaxPoolIndices2D FromConfig(JsonObject c, string name) =>
        new(MaxPool2D.FromConfig(c, "window"), ConfigReader.Bool(c, "column_major"), name);
}
