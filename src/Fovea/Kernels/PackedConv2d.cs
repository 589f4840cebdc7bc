namespace Fovea.Kernels;

// Legend as in Conv2d: N C H W input, K filters, R S kernel, OH OW output, P = OH*OW, rows = C·R·S.
// Inference-only convolution whose filters are packed once into the GEMM's panel layout. Two products:
//   Y [K x P] = W·cols, with W as the packed left operand (most layers), or
//   Yᵀ [P x K] = colsᵀ·Wᵀ, with Wᵀ as the packed right operand (small maps with many filters, e.g. 7x7 with 512).
// 3x3 stride-1 layers go through Winograd F(2x2, 3x3) instead (PackedConv2d.Winograd.cs); grouped and few-channel
// layers keep the general kernel.
// Work split: with at least as many images as threads, each thread takes whole images; otherwise the threads share
// each image (when it is big enough to be worth it), by output pixels when there are many (every thread unfolds only
// its own pixels, so im2col runs in parallel), else by filters over one shared unfolding.
// A residual is added before the ReLU: y = relu(conv + bias + residual), the fused tail of a ResNet block.

/// <summary>
/// A 2-D convolution prepared for repeated inference: filters packed ahead for the GEMM, fused bias, residual add and
/// ReLU. Weights are copied at construction; later changes to the source weights are not seen.
/// </summary>
public sealed unsafe partial class PackedConv2d
{
    // Columns one thread unfolds at a time: blocks of about 1 MB, so the unfolded block is still in L2 when the GEMM
    // packs it. Measured on ResNet-18 at batch 1, 1 thread (benchmarks: resnet-profile): the 7x7 stem (K = 147) took
    // 1.91 ms with 4 MB blocks and 1.32 ms with 1 MB ones (0.5 and 0.13 MB: the same); the 3x3 stride-2 layers did not
    // move. Below 192 columns, the per-block cost of streaming the packed filters again outweighs the cache savings.
    private const int MinChunkColumns = 192, ChunkFloats = 1 << 18;

    private readonly Conv2dShape _shape;
    private readonly float[] _weight, _bias;
    private readonly PackedMatrix? _left, _right;
    private readonly int _rows, _pixels, _chunk;

    [ThreadStatic] private static float[]? t_columns, t_tile;

    /// <summary>
    /// Packs <paramref name="weight"/> [K×(C/G)×R×S] and <paramref name="bias"/> [K] (or empty for none) for the geometry
    /// <paramref name="geometry"/> (its Batch is ignored: <see cref="Forward"/> takes any batch).
    /// </summary>
    public PackedConv2d(in Conv2dShape geometry, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias)
    {
        _shape = geometry with { Batch = 1 };
        _shape.Validate();
        if (weight.Length != _shape.WeightLength)
            throw new ArgumentException($"Weight span has {weight.Length} elements but the shape (K={_shape.OutChannels}, C/groups={_shape.InChannelsPerGroup}, R={_shape.KernelHeight}, S={_shape.KernelWidth}) needs {_shape.WeightLength}.", nameof(weight));
        if (bias.Length != 0 && bias.Length != _shape.OutChannels)
            throw new ArgumentException($"Bias span has {bias.Length} elements but must be empty or have K={_shape.OutChannels}.", nameof(bias));
        _weight = [];
        _bias = bias.IsEmpty ? new float[_shape.OutChannels] : bias.ToArray();
        _rows = _shape.InChannels * _shape.KernelHeight * _shape.KernelWidth;
        _pixels = _shape.OutHeight * _shape.OutWidth;
        _chunk = Math.Max(MinChunkColumns, ChunkFloats / _rows / MinChunkColumns * MinChunkColumns);
        // Before Winograd: with AVX-512 the implicit GEMM also takes the small maps with many channels.
        if (UseImplicitGemm(_shape)) { PrepareImplicitGemm(weight); return; }
        switch (WinogradTileSize(_shape))
        {
            case 4: PrepareWinograd4(weight); return;
            case 2: PrepareWinograd(weight); return;
        }
        // Grouped convolutions and the few-channel shapes the direct kernel wins keep the general kernel (and only
        // then a plain copy of the filters: the packed forms are all the other paths need).
        if (UsePolyphase(_shape)) { PreparePolyphase(weight); return; }
        if (_shape.Groups != 1 || Conv2d.UseDirectForward(_shape)) { _weight = weight.ToArray(); return; }
        if (Conv2d.UseTransposedProduct(_shape.OutChannels, _pixels)) _right = Gemm.PackRight(true, _rows, _shape.OutChannels, weight, _rows);
        else _left = Gemm.PackLeft(false, _shape.OutChannels, _rows, weight, _rows);
    }

    /// <summary>
    /// The algorithm chosen for this geometry: "winograd" (F(2x2, 3x3)), "winograd-4x4" (F(4x4, 3x3)), "gemm",
    /// "gemm-transposed", "polyphase" (few channels, strided or large kernels), "implicit-gemm" (strided, many channels;
    /// with AVX-512 also small maps with many channels) or "general" (the training kernel).
    /// </summary>
    public string Algorithm => _winograd is not null ? (_winograd.Size == 4 ? "winograd-4x4" : "winograd") : _polyphase is not null ? "polyphase" : _implicit is not null ? "implicit-gemm" : _left is not null ? "gemm" : _right is not null ? "gemm-transposed" : "general";

    /// <summary>The geometry for a batch of <paramref name="batch"/> images.</summary>
    public Conv2dShape Geometry(int batch) => _shape with { Batch = batch };

    /// <summary>
    /// output [N×K×OH×OW] = relu?(conv(input [N×C×H×W]) + bias + residual), residual [N×K×OH×OW] or empty for none.
    /// N is input.Length / (C·H·W).
    /// </summary>
    public void Forward(ReadOnlySpan<float> input, Span<float> output, ReadOnlySpan<float> residual = default, bool relu = false)
    {
        int perImage = _shape.InChannels * _shape.InHeight * _shape.InWidth, perOutput = _shape.OutChannels * _pixels;
        if (input.Length % perImage != 0)
            throw new ArgumentException($"Input span has {input.Length} elements, not a multiple of C·H·W = {perImage} ({_shape.InChannels}x{_shape.InHeight}x{_shape.InWidth}).", nameof(input));
        int batch = input.Length / perImage;
        if (output.Length != batch * perOutput)
            throw new ArgumentException($"Output span has {output.Length} elements but {batch} image(s) of K·OH·OW = {perOutput} need {batch * perOutput}.", nameof(output));
        if (!residual.IsEmpty && residual.Length != output.Length)
            throw new ArgumentException($"Residual span has {residual.Length} elements but must be empty or match the output's {output.Length}.", nameof(residual));
        if (batch == 0) return;
        if (_left is null && _right is null && _winograd is null && _polyphase is null && _implicit is null)
        {
            var s = Geometry(batch);
            Conv2d.Forward(s, input, _weight, _bias, output, relu && residual.IsEmpty);
            if (!residual.IsEmpty)
            {
                System.Numerics.Tensors.TensorPrimitives.Add(output, residual, output);
                if (relu) System.Numerics.Tensors.TensorPrimitives.Max(output, 0f, output);
            }
            return;
        }
        fixed (float* pIn = input, pOut = output, pRes = residual)
        {
            var io = new Buffers((nint)pIn, (nint)pOut, residual.IsEmpty ? 0 : (nint)pRes, relu);
            int degree = Parallelism.InsideParallelRegion ? 1 : Parallelism.Degree;
            // Small images are not worth sharing: threads would cost more than they save (the GEMM's own threshold).
            if (degree > 1 && batch < degree && MacsPerImage < Gemm.ParallelThreshold) degree = 1;
            if (degree == 1) WholeImages(io, 0, batch);
            else if (batch >= degree) WholeImagesParallel(io, batch, degree);
            else for (int n = 0; n < batch; n++) SharedImage(io, n, degree);
        }
    }

    /// <summary>Addresses of one call's tensors (spans cannot be captured by worker lambdas; the caller keeps them pinned).</summary>
    private readonly record struct Buffers(nint Input, nint Output, nint Residual, bool Relu);

    private void WholeImagesParallel(Buffers io, int batch, int parts) =>
        Parallelism.For(parts, part => WholeImages(io, (int)((long)batch * part / parts), (int)((long)batch * (part + 1) / parts)));

    /// <summary>Images [first, end) on the calling thread.</summary>
    private void WholeImages(Buffers io, int first, int end)
    {
        if (_implicit is not null) { ImplicitGemmImages(io, first, end); return; }
        for (int n = first; n < end; n++) WholeImage(io, n);
    }

    private void WholeImage(Buffers io, int n)
    {
        if (_implicit is not null) ImplicitGemmImage(io, n, 1);
        else if (_winograd is not null) WinogradImage(io, n, 1);
        else if (_polyphase is not null) PolyphaseImage(io, n, 1);
        else if (_left is not null) OutputPixels(io, n, 0, _pixels);
        else
        {
            float* cols = Unfold(io, n);
            TransposedProduct(io, n, cols, 0, _shape.OutChannels);
        }
    }

    private void SharedImage(Buffers io, int n, int degree)
    {
        if (_implicit is not null) { ImplicitGemmImage(io, n, degree); return; }
        if (_winograd is not null) { WinogradImage(io, n, degree); return; }
        if (_polyphase is not null) { PolyphaseImage(io, n, degree); return; }
        int filters = _shape.OutChannels;
        if (_left is not null && _pixels >= degree * MinChunkColumns)
        {
            // Equal shares of the pixels, in whole 48-column register tiles, each thread unfolding its own share.
            const int Tile = 48;
            int tiles = (_pixels + Tile - 1) / Tile;
            Parallelism.For(degree, part => OutputPixels(io, n, Math.Min(_pixels, tiles * part / degree * Tile),
                Math.Min(_pixels, tiles * (part + 1) / degree * Tile)));
            return;
        }
        // Few pixels: one unfolding, the filters split between threads in whole register panels.
        float* cols = Unfold(io, n);
        var packed = (_left ?? _right)!;
        int panels = (filters + packed.PanelSize - 1) / packed.PanelSize;
        int parts = Math.Min(degree, panels);
        nint shared = (nint)cols;
        Parallelism.For(parts, part =>
        {
            int first = Math.Min(filters, panels * part / parts * packed.PanelSize);
            int end = Math.Min(filters, panels * (part + 1) / parts * packed.PanelSize);
            if (_left is not null) LeftProduct(io, n, (float*)shared, _pixels, 0, first, end - first);
            else TransposedProduct(io, n, (float*)shared, first, end - first);
        });
    }

    /// <summary>Output pixels [first, end) of image n, unfolded and multiplied a cache-sized block at a time.</summary>
    private void OutputPixels(Buffers io, int n, int first, int end)
    {
        var image = new ReadOnlySpan<float>((float*)io.Input + (long)n * ImageLength, ImageLength);
        for (int p0 = first; p0 < end; p0 += _chunk)
        {
            int columns = Math.Min(_chunk, end - p0);
            float* cols = Scratch(ref t_columns, _rows * columns);
            Im2Col.Unfold(_shape, image, new Span<float>(cols, _rows * columns), p0, p0 + columns);
            LeftProduct(io, n, cols, columns, p0, 0, _shape.OutChannels);
        }
    }

    private int ImageLength => _shape.InChannels * _shape.InHeight * _shape.InWidth;

    private long MacsPerImage => (long)_shape.OutChannels * _rows * _pixels;

    /// <summary>Y[first .. first+count, column0 .. column0+columns) of image n from cols [rows x columns].</summary>
    private void LeftProduct(Buffers io, int n, float* cols, int columns, int column0, int first, int count)
    {
        if (count <= 0) return;
        float* y = (float*)io.Output + ((long)n * _shape.OutChannels + first) * _pixels + column0;
        var c = new Span<float>(y, (count - 1) * _pixels + columns);
        bool residual = io.Residual != 0;
        if (residual)
        {
            // C starts as the residual and the product accumulates onto it: relu(residual + W·cols + bias).
            float* r = (float*)io.Residual + ((long)n * _shape.OutChannels + first) * _pixels + column0;
            for (int k = 0; k < count; k++)
                new ReadOnlySpan<float>(r + (long)k * _pixels, columns).CopyTo(new Span<float>(y + (long)k * _pixels, columns));
        }
        Gemm.MultiplySerial(_left!, first, count, columns, new ReadOnlySpan<float>(cols, _rows * columns), columns, c, _pixels,
            accumulate: residual, rowBias: _bias.AsSpan(first, count), relu: io.Relu);
    }

    /// <summary>Filters [first, first+count) of image n: Yᵀ = colsᵀ·Wᵀ into a tile, then transposed into place.</summary>
    private void TransposedProduct(Buffers io, int n, float* cols, int first, int count)
    {
        if (count <= 0) return;
        int p = _pixels;
        float* tile = Scratch(ref t_tile, p * count);
        Gemm.MultiplySerial(true, p, new ReadOnlySpan<float>(cols, _rows * p), p, _right!, first, count, new Span<float>(tile, p * count), count);
        long offset = ((long)n * _shape.OutChannels + first) * p;
        float* y = (float*)io.Output + offset;
        float* r = io.Residual != 0 ? (float*)io.Residual + offset : null;
        for (int k = 0; k < count; k++)
        {
            float b = _bias[first + k];
            float* yk = y + (long)k * p;
            for (int i = 0; i < p; i++)
            {
                float v = tile[i * count + k] + b;
                if (r != null) v += r[(long)k * p + i];
                yk[i] = io.Relu ? MathF.Max(v, 0f) : v; // branch-free: the sign of v is data, a branch on it mispredicts
            }
        }
    }

    /// <summary>Unfolds all of image n into this thread's column buffer (the buffer stays valid until the next Unfold).</summary>
    private float* Unfold(Buffers io, int n)
    {
        float* cols = Scratch(ref t_columns, _rows * _pixels);
        Im2Col.Unfold(_shape, new ReadOnlySpan<float>((float*)io.Input + (long)n * ImageLength, ImageLength), new Span<float>(cols, _rows * _pixels));
        return cols;
    }

    // Pinned, grown on demand, never shrunk: steady-state calls allocate nothing.
    private static float* Scratch(ref float[]? buffer, int floats)
    {
        if (buffer is null || buffer.Length < floats) buffer = GC.AllocateUninitializedArray<float>(Math.Max(floats, 1024), pinned: true);
        return (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(buffer));
    }
}
