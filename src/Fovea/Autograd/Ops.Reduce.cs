using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Fovea.Tensors;

namespace Fovea.Autograd;

/// <summary>Reduction of <see cref="Ops.Reduce"/>.</summary>
public enum ReduceKind
{
    /// <summary>Sum of the elements.</summary>
    Sum,
    /// <summary>Largest element (the gradient goes to the first maximum).</summary>
    Max,
}

public static partial class Ops
{
    /// <summary>Sums or maximises over <paramref name="axes"/>; with <paramref name="keepDims"/> they stay as size-1 axes.</summary>
    public static Tensor Reduce(Tensor x, ReadOnlySpan<int> axes, bool keepDims, ReduceKind kind)
    {
        int rank = x.Rank;
        var reduced = new bool[rank];
        foreach (int a in axes)
        {
            if (a < 0 || a >= rank) throw new ArgumentException($"Reduce axis {a} is out of range for shape {Tensor.ShapeToString(x.Shape)}.");
            reduced[a] = true;
        }
        var kept = Enumerable.Range(0, rank).Select(d => reduced[d] ? 1 : x.Shape[d]).ToArray();
        var outShape = keepDims ? kept : Enumerable.Range(0, rank).Where(d => !reduced[d]).Select(d => x.Shape[d]).ToArray();
        var y = new Tensor(outShape);
        // map[i] = output element that input element i reduces into.
        var map = BroadcastMap(kept, x.Shape);
        var xs = x.Span; var ys = y.Span;
        int[]? argmax = null;
        if (kind == ReduceKind.Sum) for (int i = 0; i < map.Length; i++) ys[map[i]] += xs[i];
        else
        {
            // An empty output (e.g. an empty batch) needs no value; a non-empty one reduced over an empty axis has none.
            if (x.Length == 0 && y.Length > 0)
                throw new ArgumentException($"ReduceMax over an empty axis has no value: input {Tensor.ShapeToString(x.Shape)} reduced over axes [{string.Join(", ", axes.ToArray())}].");
            argmax = new int[y.Length];
            Array.Fill(argmax, -1);
            for (int i = 0; i < map.Length; i++)
            {
                int o = map[i];
                if (argmax[o] < 0 || xs[i] > ys[o] || (float.IsNaN(xs[i]) && !float.IsNaN(ys[o]))) { ys[o] = xs[i]; argmax[o] = i; }
            }
        }
        RecordUnary(x, y, () =>
        {
            var gx = x.GradOrCreate().Span; var gy = y.Grad!.Span;
            if (argmax is null) for (int i = 0; i < map.Length; i++) gx[i] += gy[map[i]];
            else for (int o = 0; o < argmax.Length; o++) if (argmax[o] >= 0) gx[argmax[o]] += gy[o];
        });
        return y;
    }

    /// <summary>
    /// For each element (row-major) of a tensor of shape <paramref name="full"/>, the offset of the element it reads in a tensor of
    /// shape <paramref name="small"/> broadcast to it (same rank; size-1 axes repeat).
    /// </summary>
    internal static int[] BroadcastMap(int[] small, int[] full)
    {
        int rank = full.Length, total = full.Aggregate(1, (p, d) => p * d);
        var strides = new int[rank];
        for (int d = rank - 1, s = 1; d >= 0; d--) { strides[d] = small[d] == 1 ? 0 : s; s *= small[d]; }
        var map = new int[total];
        var idx = new int[rank];
        int off = 0;
        for (int i = 0; i < total; i++)
        {
            map[i] = off;
            for (int d = rank - 1; d >= 0; d--)
            {
                idx[d]++; off += strides[d];
                if (idx[d] < full[d]) break;
                off -= strides[d] * full[d]; idx[d] = 0;
            }
        }
        return map;
    }

    /// <summary>cond ≠ 0 ? a : b element-wise, all three broadcast (NumPy rules). Gradients flow to a and b, not to cond.</summary>
    public static Tensor Where(Tensor cond, Tensor a, Tensor b)
    {
        var shape = BroadcastShape(BroadcastShape(cond.Shape, a.Shape), b.Shape);
        var y = new Tensor(shape);
        int[] mc = BroadcastMap(Lift(cond.Shape, shape.Length), shape), ma = BroadcastMap(Lift(a.Shape, shape.Length), shape), mb = BroadcastMap(Lift(b.Shape, shape.Length), shape);
        var cs = cond.Span; var av = a.Span; var bv = b.Span; var ys = y.Span;
        for (int i = 0; i < ys.Length; i++) ys[i] = cs[mc[i]] != 0f ? av[ma[i]] : bv[mb[i]];
        if (Tape.ShouldRecord(a, b))
        {
            y.RequiresGrad = true;
            Tape.Current!.Add(() =>
            {
                if (y.Grad is null) return;
                var gy = y.Grad.Span; var c = cond.Span;
                Span<float> ga = a.RequiresGrad ? a.GradOrCreate().Span : default, gb = b.RequiresGrad ? b.GradOrCreate().Span : default;
                for (int i = 0; i < gy.Length; i++)
                {
                    if (c[mc[i]] != 0f) { if (!ga.IsEmpty) ga[ma[i]] += gy[i]; }
                    else if (!gb.IsEmpty) gb[mb[i]] += gy[i];
                }
            });
        }
        return y;
    }

    private static int[] Lift(int[] shape, int rank) => [.. Enumerable.Repeat(1, rank - shape.Length), .. shape];

    /// <summary>e^x element-wise.</summary>
    public static Tensor Exp(Tensor x)
    {
        var y = new Tensor(x.Shape);
        TensorPrimitives.Exp(x.Span, y.Span);
        RecordUnary(x, y, () => TensorPrimitives.FusedMultiplyAdd(y.Grad!.Span, y.Span, x.GradOrCreate().Span, x.Grad!.Span));
        return y;
    }

    /// <summary>Natural logarithm element-wise.</summary>
    public static Tensor Log(Tensor x)
    {
        var y = new Tensor(x.Shape);
        TensorPrimitives.Log(x.Span, y.Span);
        RecordUnary(x, y, () =>
        {
            var gx = x.GradOrCreate().Span; var gy = y.Grad!.Span; var xs = x.Span;
            for (int i = 0; i < gx.Length; i++) gx[i] += gy[i] / xs[i];
        });
        return y;
    }
}
