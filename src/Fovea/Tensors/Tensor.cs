using System.Runtime.CompilerServices;

namespace Fovea.Tensors;

/// <summary>
/// A dense float32 tensor, row-major and contiguous (images are NCHW: batch, channels, height, width).
/// Holds its values, and — when it takes part in a recorded training step — its gradient.
/// Users never dispose tensors; intermediate buffers made during a recorded step are pooled by the tape.
/// </summary>
public sealed class Tensor
{
    private float[] _data;
    private readonly TensorArena? _arena;

    /// <summary>Dimensions, outermost first. A scalar has rank 0.</summary>
    public int[] Shape { get; }

    /// <summary>Number of elements (product of <see cref="Shape"/>).</summary>
    public int Length { get; }

    /// <summary>Gradient of the loss with respect to this tensor, filled by backward.
    /// Null until backward reaches this tensor.</summary>
    public Tensor? Grad { get; internal set; }

    /// <summary>True when backward should compute a gradient for this tensor (parameters, and results of ops on them).</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>Creates a zero-filled tensor of the given shape.</summary>
    public Tensor(params int[] shape) : this(shape, null) { }

    /// <summary>Wraps <paramref name="data"/> (not copied) with the given shape; data.Length must be at least the shape's size.</summary>
    public Tensor(int[] shape, float[]? data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"Tensor dimensions must be non-negative. Received shape {ShapeToString(shape)}.", nameof(shape));
            n *= d;
        }
        if (n > int.MaxValue) throw new ArgumentException($"Tensor of shape {ShapeToString(shape)} has {n} elements, more than {int.MaxValue}.", nameof(shape));
        Shape = (int[])shape.Clone();
        Length = (int)n;
        if (data is null)
        {
            _arena = TensorArena.Current;
            _data = _arena?.RentFloats(Length) ?? (Length == 0 ? [] : new float[Length]);
        }
        else
        {
            if (data.Length < Length) throw new ArgumentException($"Data holds {data.Length} values but shape {ShapeToString(shape)} needs {Length}.", nameof(data));
            _data = data;
        }
    }

    private Tensor(int[] shape, float[] data, TensorArena? arena) : this(shape, data) => _arena = arena;

    /// <summary>
    /// A tensor whose values are unspecified (arena buffers are not cleared): for op outputs that a kernel overwrites whole.
    /// </summary>
    internal static Tensor Uninitialized(params int[] shape)
    {
        var arena = TensorArena.Current;
        if (arena is null) return new Tensor(shape);
        long n = 1;
        foreach (int d in shape) n *= d;
        return new Tensor(shape, arena.RentFloatsUncleared((int)n), arena);
    }

    /// <summary>Creates a tensor of the given shape, copying <paramref name="values"/> (length must equal the shape's size).</summary>
    public static Tensor FromArray(ReadOnlySpan<float> values, params int[] shape)
    {
        var t = new Tensor(shape);
        if (values.Length != t.Length) throw new ArgumentException($"Got {values.Length} values for shape {ShapeToString(shape)}, which needs {t.Length}.", nameof(values));
        values.CopyTo(t.Span);
        return t;
    }

    /// <summary>The values, exactly <see cref="Length"/> long.</summary>
    public Span<float> Span
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _data.AsSpan(0, Length);
    }

    /// <summary>The backing array; may be longer than <see cref="Length"/> when it came from the pool.</summary>
    internal float[] Buffer => _data;

    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Length;

    /// <summary>
    /// Values per sample: the product of every axis after the first (the batch). Not Length / Dim(0), which loses the
    /// sample's size when the batch is empty.
    /// </summary>
    internal int SampleLength
    {
        get
        {
            int n = 1;
            for (int i = 1; i < Shape.Length; i++) n *= Shape[i];
            return n;
        }
    }

    /// <summary>Size of dimension <paramref name="axis"/>; negative axes count from the end.</summary>
    public int Dim(int axis) => Shape[axis < 0 ? Shape.Length + axis : axis];

    /// <summary>Element at a full index (slow; for tests and inspection).</summary>
    public float this[params int[] index]
    {
        get => _data[Offset(index)];
        set => _data[Offset(index)] = value;
    }

    private int Offset(int[] index)
    {
        if (index.Length != Shape.Length) throw new ArgumentException($"Index has {index.Length} coordinates but the tensor has rank {Shape.Length}.");
        int off = 0;
        for (int i = 0; i < index.Length; i++)
        {
            if ((uint)index[i] >= (uint)Shape[i]) throw new IndexOutOfRangeException($"Index {index[i]} is out of range for axis {i} of size {Shape[i]}.");
            off = off * Shape[i] + index[i];
        }
        return off;
    }

    /// <summary>A new tensor with the same values and shape, without gradient.</summary>
    public Tensor Clone()
    {
        var t = new Tensor(Shape);
        Span.CopyTo(t.Span);
        return t;
    }

    /// <summary>Copy of the values as a new array.</summary>
    public float[] ToArray() => Span.ToArray();

    /// <summary>A tensor sharing this one's values under another shape of the same size (no gradient link; use Ops.Reshape for that).</summary>
    public Tensor View(params int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        if (n != Length || shape.Any(d => d < 0)) throw new ArgumentException($"Cannot view shape {ShapeToString(Shape)} ({Length} values) as {ShapeToString(shape)} ({n} values).");
        return new Tensor(shape, _data, _arena);
    }

    /// <summary>Replaces the values with a copy of <paramref name="source"/> (same length required).</summary>
    public void CopyFrom(ReadOnlySpan<float> source)
    {
        if (source.Length != Length) throw new ArgumentException($"Source has {source.Length} values, tensor has {Length}.");
        source.CopyTo(Span);
    }

    /// <summary>Shape formatted as (a, b, c).</summary>
    public static string ShapeToString(ReadOnlySpan<int> shape) => "(" + string.Join(", ", shape.ToArray()) + ")";

    /// <inheritdoc/>
    public override string ToString() => $"Tensor{ShapeToString(Shape)}";

    internal void SetBuffer(float[] data) => _data = data;

    /// <summary>The gradient tensor, created zero-filled on first use (backward steps accumulate into it).
    /// Gradients live as long as their tensor: from the same arena, or the heap for parameters.</summary>
    internal Tensor GradOrCreate() => Grad ??= new Tensor(Shape, _arena?.RentFloats(Length) ?? new float[Length], _arena);

    /// <summary>
    /// The gradient buffer for a backward step to add its contribution into. When the gradient does not exist yet it
    /// is created with unspecified contents and <paramref name="accumulate"/> is false: the step must then overwrite
    /// every element instead of adding, which saves clearing the buffer first.
    /// </summary>
    internal Span<float> GradForWrite(out bool accumulate)
    {
        accumulate = Grad is not null;
        Grad ??= new Tensor(Shape, _arena?.RentFloatsUncleared(Length) ?? new float[Length], _arena);
        return Grad.Span;
    }

    /// <summary>Sets every gradient value to zero (keeps the buffer).</summary>
    public void ZeroGrad() => Grad?.Span.Clear();
}
