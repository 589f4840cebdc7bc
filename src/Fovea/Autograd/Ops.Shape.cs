using Fovea.Tensors;

namespace Fovea.Autograd;

/// <summary>How <see cref="Ops.Pad"/> fills the border.</summary>
public enum PadMode
{
    /// <summary>A constant value.</summary>
    Constant,
    /// <summary>Mirror without repeating the edge (d c b | a b c d | c b a).</summary>
    Reflect,
    /// <summary>Repeat the edge value.</summary>
    Edge,
    /// <summary>Wrap around (periodic).</summary>
    Wrap,
}

public static partial class Ops
{
    /// <summary>Permutes the axes: output axis i is input axis perm[i].</summary>
    public static Tensor Transpose(Tensor x, ReadOnlySpan<int> perm)
    {
        int rank = x.Rank;
        if (perm.Length != rank) throw new ArgumentException($"Transpose needs a permutation of {rank} axes; received {perm.Length}.");
        var p = perm.ToArray();
        if (!p.Order().SequenceEqual(Enumerable.Range(0, rank))) throw new ArgumentException($"Transpose: [{string.Join(", ", p)}] is not a permutation of the {rank} axes.");
        var outShape = p.Select(i => x.Shape[i]).ToArray();
        var y = new Tensor(outShape);
        var map = TransposeMap(x.Shape, p);
        var xs = x.Span; var ys = y.Span;
        for (int i = 0; i < map.Length; i++) ys[i] = xs[map[i]];
        if (Tape.ShouldRecord(x))
        {
            y.RequiresGrad = true;
            Tape.Current!.Add(() =>
            {
                if (y.Grad is null) return;
                var gx = x.GradOrCreate().Span; var gy = y.Grad.Span;
                for (int i = 0; i < map.Length; i++) gx[map[i]] += gy[i];
            });
        }
        return y;
    }

    // For each output element (row-major), the offset of its source element.
    private static int[] TransposeMap(int[] shape, int[] perm)
    {
        int rank = shape.Length, total = shape.Aggregate(1, (a, b) => a * b);
        var inStrides = new int[rank];
        for (int i = rank - 1, s = 1; i >= 0; i--) { inStrides[i] = s; s *= shape[i]; }
        var outShape = perm.Select(i => shape[i]).ToArray();
        var strides = perm.Select(i => inStrides[i]).ToArray();
        var map = new int[total];
        var idx = new int[rank];
        int off = 0;
        for (int o = 0; o < total; o++)
        {
            map[o] = off;
            for (int d = rank - 1; d >= 0; d--)
            {
                idx[d]++; off += strides[d];
                if (idx[d] < outShape[d]) break;
                off -= strides[d] * outShape[d]; idx[d] = 0;
            }
        }
        return map;
    }

    /// <summary>Joins tensors along <paramref name="axis"/>; every other dimension must agree.</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> xs, int axis)
    {
        if (xs.Count == 0) throw new ArgumentException("Concat needs at least one tensor.");
        int rank = xs[0].Rank;
        if (axis < 0 || axis >= rank) throw new ArgumentException($"Concat axis {axis} is out of range for rank {rank}.");
        var shape = (int[])xs[0].Shape.Clone();
        shape[axis] = 0;
        foreach (var x in xs)
        {
            for (int d = 0; d < rank; d++)
                if (x.Rank != rank || (d != axis && x.Shape[d] != xs[0].Shape[d]))
                    throw new ArgumentException($"Concat along axis {axis}: shapes {string.Join(", ", xs.Select(t => Tensor.ShapeToString(t.Shape)))} do not agree on the other axes.");
            shape[axis] += x.Shape[axis];
        }
        var y = new Tensor(shape);
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= shape[d];
        for (int d = axis + 1; d < rank; d++) inner *= shape[d];
        int rowOut = shape[axis] * inner, start = 0;
        var starts = new int[xs.Count];
        for (int j = 0; j < xs.Count; j++)
        {
            starts[j] = start;
            int row = xs[j].Shape[axis] * inner;
            for (int o = 0; o < outer; o++) xs[j].Span.Slice(o * row, row).CopyTo(y.Span.Slice(o * rowOut + start, row));
            start += row;
        }
        if (xs.Any(t => t.RequiresGrad) && Tape.Current is not null)
        {
            y.RequiresGrad = true;
            var inputs = xs.ToArray();
            Tape.Current.Add(() =>
            {
                if (y.Grad is null) return;
                for (int j = 0; j < inputs.Length; j++)
                {
                    if (!inputs[j].RequiresGrad) continue;
                    int row = inputs[j].Shape[axis] * inner;
                    var gx = inputs[j].GradOrCreate().Span;
                    for (int o = 0; o < outer; o++) AccumulateInto(gx.Slice(o * row, row), y.Grad.Span.Slice(o * rowOut + starts[j], row));
                }
            });
        }
        return y;
    }

    /// <summary>The range of an axis of size <paramref name="n"/> left after negative amounts crop it.</summary>
    private static (int Start, int Count) Kept(int n, int before, int after) =>
        (Math.Max(0, -before), n - Math.Max(0, -before) - Math.Max(0, -after));

    /// <summary>
    /// Pads (or, with negative amounts, crops) every axis: <paramref name="before"/>[d] and <paramref name="after"/>[d] elements
    /// are added at the start and end of axis d, filled per <paramref name="mode"/>.
    /// Edge, reflect and wrap fill from the values left after cropping.
    /// </summary>
    public static Tensor Pad(Tensor x, ReadOnlySpan<int> before, ReadOnlySpan<int> after, PadMode mode = PadMode.Constant, float value = 0f)
    {
        int rank = x.Rank;
        if (before.Length != rank || after.Length != rank) throw new ArgumentException($"Pad needs amounts for all {rank} axes.");
        var b = before.ToArray();
        var shape = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            shape[d] = x.Shape[d] + before[d] + after[d];
            if (shape[d] < 0) throw new ArgumentException($"Pad: axis {d} of size {x.Shape[d]} cannot be cropped by {-before[d]} and {-after[d]}.");
            if (mode != PadMode.Constant && shape[d] > 0 && x.Shape[d] == 0) throw new ArgumentException($"Pad: {mode} padding needs a non-empty axis {d}.");
            if (mode == PadMode.Constant || (before[d] <= 0 && after[d] <= 0)) continue;
            int kept = Kept(x.Shape[d], before[d], after[d]).Count;
            if (kept <= 0)
                throw new ArgumentException($"Pad: {mode} padding of axis {d} (size {x.Shape[d]}) cropped by {Math.Max(0, -before[d])} and {Math.Max(0, -after[d])} has no values left to repeat.");
            if (mode == PadMode.Reflect && (before[d] >= kept || after[d] >= kept))
                throw new ArgumentException($"Pad: reflect padding of axis {d} (size {x.Shape[d]}{(kept < x.Shape[d] ? $", {kept} after cropping" : "")}) must be smaller than the axis.");
        }
        var y = new Tensor(shape);
        // Source offset of each output element, or -1 for a constant fill.
        var map = new int[y.Length];
        var inStrides = new int[rank];
        for (int i = rank - 1, s = 1; i >= 0; i--) { inStrides[i] = s; s *= x.Shape[i]; }
        var idx = new int[rank];
        for (int o = 0; o < map.Length; o++)
        {
            int off = 0;
            for (int d = 0; d < rank && off >= 0; d++)
            {
                int i = idx[d] - b[d], n = x.Shape[d];
                if (i < 0 || i >= n)
                {
                    if (mode == PadMode.Constant) { off = -1; continue; }
                    // Filled from the part of the axis the crop at its other end keeps (as ONNX Runtime does), not the whole axis.
                    var (start, count) = Kept(n, b[d], after[d]);
                    int j = i - start;
                    switch (mode)
                    {
                        case PadMode.Edge: j = Math.Clamp(j, 0, count - 1); break;
                        case PadMode.Wrap: j = ((j % count) + count) % count; break;
                        default:
                            int period = 2 * (count - 1);
                            j = period == 0 ? 0 : ((j % period) + period) % period;
                            if (j >= count) j = period - j;
                            break;
                    }
                    i = start + j;
                }
                off += i * inStrides[d];
            }
            map[o] = off;
            for (int d = rank - 1; d >= 0; d--) { if (++idx[d] < shape[d]) break; idx[d] = 0; }
        }
        var xs = x.Span; var ys = y.Span;
        for (int o = 0; o < map.Length; o++) ys[o] = map[o] < 0 ? value : xs[map[o]];
        if (Tape.ShouldRecord(x))
        {
            y.RequiresGrad = true;
            Tape.Current!.Add(() =>
            {
                if (y.Grad is null) return;
                var gx = x.GradOrCreate().Span; var gy = y.Grad.Span;
                for (int o = 0; o < map.Length; o++) if (map[o] >= 0) gx[map[o]] += gy[o];
            });
        }
        return y;
    }
}
