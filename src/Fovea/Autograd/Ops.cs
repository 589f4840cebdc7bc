using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Fovea.Tensors;

namespace Fovea.Autograd;

// Every primitive op: compute forward with a kernel, and — when a tape is recording and an input needs a
// gradient — record one backward step that accumulates into the inputs' gradients. Composite layers
// (Dense = Linear, residual blocks, ...) are built from these and need no gradient code of their own.

/// <summary>Differentiable primitive operations on tensors. This folder holds every gradient rule of Fovea.</summary>
public static partial class Ops
{
    /// <summary>Element-wise sum of two tensors of the same shape (the residual connection).</summary>
    public static Tensor Add(Tensor a, Tensor b)
    {
        if (!a.Shape.AsSpan().SequenceEqual(b.Shape))
            throw new ArgumentException($"Add needs tensors of the same shape. Received {Tensor.ShapeToString(a.Shape)} and {Tensor.ShapeToString(b.Shape)}.");
        var y = Tensor.Uninitialized(a.Shape);
        TensorPrimitives.Add(a.Span, b.Span, y.Span);
        if (Tape.ShouldRecord(a, b))
        {
            y.RequiresGrad = true;
            Tape.Current!.Add(() =>
            {
                if (y.Grad is null) return;
                if (a.RequiresGrad) AccumulateInto(a, y.Grad.Span);
                if (b.RequiresGrad) AccumulateInto(b, y.Grad.Span);
            });
        }
        return y;
    }

    /// <summary>Element-wise product of two tensors of the same shape.</summary>
    public static Tensor Multiply(Tensor a, Tensor b)
    {
        if (!a.Shape.AsSpan().SequenceEqual(b.Shape))
            throw new ArgumentException($"Multiply needs tensors of the same shape. Received {Tensor.ShapeToString(a.Shape)} and {Tensor.ShapeToString(b.Shape)}.");
        var y = Tensor.Uninitialized(a.Shape);
        TensorPrimitives.Multiply(a.Span, b.Span, y.Span);
        if (Tape.ShouldRecord(a, b))
        {
            y.RequiresGrad = true;
            Tape.Current!.Add(() =>
            {
                if (y.Grad is null) return;
                if (a.RequiresGrad) TensorPrimitives.FusedMultiplyAdd(y.Grad.Span, b.Span, a.GradOrCreate().Span, a.Grad!.Span);
                if (b.RequiresGrad) TensorPrimitives.FusedMultiplyAdd(y.Grad.Span, a.Span, b.GradOrCreate().Span, b.Grad!.Span);
            });
        }
        return y;
    }

    /// <summary>Same values under a new shape of equal size (Flatten, Reshape). The gradient flows back unchanged.</summary>
    public static Tensor Reshape(Tensor x, params int[] shape)
    {
        var y = x.View(shape);
        if (Tape.ShouldRecord(x))
        {
            y.RequiresGrad = true;
            Tape.Current!.Add(() =>
            {
                if (y.Grad is null) return;
                AccumulateInto(x, y.Grad.Span);
            });
        }
        return y;
    }

    /// <summary>(x - mean[c]) / std[c] per channel of an NCHW tensor; not differentiated (applied to data).</summary>
    public static Tensor NormalizeChannels(Tensor x, ReadOnlySpan<float> mean, ReadOnlySpan<float> std)
    {
        int n = x.Dim(0), c = x.Dim(1), plane = x.Length / Math.Max(1, n * c);
        if (mean.Length != c || std.Length != c)
            throw new ArgumentException($"Normalization has {mean.Length} means and {std.Length} deviations but the input has {c} channels.");
        var y = Tensor.Uninitialized(x.Shape);
        for (int i = 0; i < n * c; i++)
        {
            int ch = i % c;
            var src = x.Span.Slice(i * plane, plane);
            var dst = y.Span.Slice(i * plane, plane);
            TensorPrimitives.Subtract(src, mean[ch], dst);
            TensorPrimitives.Multiply(dst, 1f / std[ch], dst);
        }
        return y;
    }

    /// <summary>A zero-filled scratch buffer from the active arena (recycled with the step's tensors), or the heap.</summary>
    internal static float[] Scratch(int length) => TensorArena.Current?.RentFloats(length) ?? new float[length];

    /// <summary>A float scratch buffer with unspecified contents (every element is written before it is read).</summary>
    internal static float[] ScratchUncleared(int length) => TensorArena.Current?.RentFloatsUncleared(length) ?? new float[length];

    /// <summary>A zero-filled int scratch buffer from the active arena, or the heap.</summary>
    internal static int[] ScratchInts(int length) => TensorArena.Current?.RentInts(length) ?? new int[length];

    /// <summary>An int scratch buffer with unspecified contents (every element is written before it is read).</summary>
    internal static int[] ScratchIntsUncleared(int length) => TensorArena.Current?.RentIntsUncleared(length) ?? new int[length];

    /// <summary>target += source.</summary>
    internal static void AccumulateInto(Span<float> target, ReadOnlySpan<float> source) => TensorPrimitives.Add(target, source, target);

    /// <summary>x.Grad += source, copying instead when the gradient is created here (no clearing pass).</summary>
    internal static void AccumulateInto(Tensor x, ReadOnlySpan<float> source)
    {
        var target = x.GradForWrite(out bool accumulate);
        if (accumulate) TensorPrimitives.Add(target, source, target);
        else source.CopyTo(target);
    }
}
