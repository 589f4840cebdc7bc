using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Fovea.Tensors;

namespace Fovea.Autograd;

/// <summary>Element-wise arithmetic of <see cref="Ops.Broadcast"/>.</summary>
public enum BinaryOp
{
    /// <summary>a + b.</summary>
    Add,
    /// <summary>a - b.</summary>
    Subtract,
    /// <summary>a · b.</summary>
    Multiply,
    /// <summary>a / b.</summary>
    Divide,
    /// <summary>max(a, b); the gradient goes to a on ties.</summary>
    Maximum,
    /// <summary>1 where a &lt; b, else 0 (a comparison: no gradient).</summary>
    Less,
}

public static partial class Ops
{
    /// <summary>Output shape of NumPy-style broadcasting (shapes right-aligned; a dimension of 1 stretches); throws when they do not fit.</summary>
    public static int[] BroadcastShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var s = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"Shapes {Tensor.ShapeToString(a)} and {Tensor.ShapeToString(b)} cannot be broadcast together.");
            s[i] = da == 1 ? db : da;
        }
        return s;
    }

    /// <summary>
    /// a (op) b with NumPy-style broadcasting. Gradients flow to both operands, summed over the broadcast axes.
    /// </summary>
    public static Tensor Broadcast(Tensor a, Tensor b, BinaryOp op)
    {
        var shape = BroadcastShape(a.Shape, b.Shape);
        var y = Tensor.Uninitialized(shape);
        var plan = BroadcastPlan.Create(shape, a.Shape, b.Shape);
        plan.Forward(a.Span, b.Span, y.Span, op);
        if (Tape.ShouldRecord(a, b))
        {
            y.RequiresGrad = true;
            Tape.Current!.Add(() =>
            {
                if (y.Grad is null) return;
                plan.Backward(a, b, y.Grad.Span, op);
            });
        }
        return y;
    }

    /// <summary>Strides of both operands over the output's index space (0 on broadcast axes), for a plain odometer walk.</summary>
    private sealed class BroadcastPlan
    {
        private int[] _shape = [], _sa = [], _sb = [];
        private bool _same;

        public static BroadcastPlan Create(int[] shape, int[] a, int[] b)
        {
            var p = new BroadcastPlan { _shape = shape, _sa = Strides(shape, a), _sb = Strides(shape, b) };
            p._same = a.AsSpan().SequenceEqual(shape) && b.AsSpan().SequenceEqual(shape);
            return p;
        }

        private static int[] Strides(int[] outShape, int[] s)
        {
            var st = new int[outShape.Length];
            int stride = 1;
            for (int i = s.Length - 1; i >= 0; i--)
            {
                int o = outShape.Length - s.Length + i;
                st[o] = s[i] == 1 ? 0 : stride;
                stride *= s[i];
            }
            return st;
        }

        /// <summary>Calls <paramref name="visit"/> for each run of the innermost axis: (output offset, a offset, b offset, length, a step, b step).</summary>
        private void Walk(Action<int, int, int, int, int, int> visit)
        {
            int rank = _shape.Length;
            if (rank == 0) { visit(0, 0, 0, 1, 0, 0); return; }
            int inner = _shape[rank - 1], ia = _sa[rank - 1], ib = _sb[rank - 1];
            int outer = 1;
            for (int i = 0; i < rank - 1; i++) outer *= _shape[i];
            if (inner == 0) return;
            var idx = new int[rank];
            int oa = 0, ob = 0;
            for (int o = 0; o < outer; o++)
            {
                visit(o * inner, oa, ob, inner, ia, ib);
                for (int d = rank - 2; d >= 0; d--)
                {
                    idx[d]++; oa += _sa[d]; ob += _sb[d];
                    if (idx[d] < _shape[d]) break;
                    oa -= _sa[d] * _shape[d]; ob -= _sb[d] * _shape[d]; idx[d] = 0;
                }
            }
        }

        public void Forward(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, BinaryOp op)
        {
            if (_same && op <= BinaryOp.Divide)
            {
                switch (op)
                {
                    case BinaryOp.Add: TensorPrimitives.Add(a, b, y); break;
                    case BinaryOp.Subtract: TensorPrimitives.Subtract(a, b, y); break;
                    case BinaryOp.Multiply: TensorPrimitives.Multiply(a, b, y); break;
                    default: TensorPrimitives.Divide(a, b, y); break;
                }
                return;
            }
            // An odometer over the outer axes; each innermost run is one vector call (no copies, no closures).
            int rank = _shape.Length;
            if (rank == 0) { y[0] = Apply(a[0], b[0], op); return; }
            int inner = _shape[rank - 1], ia = _sa[rank - 1], ib = _sb[rank - 1];
            if (inner == 0) return;
            int outer = y.Length / inner;
            Span<int> idx = rank <= 16 ? stackalloc int[rank] : new int[rank];
            int oa = 0, ob = 0;
            for (int o = 0; o < outer; o++)
            {
                Span<float> ys = y.Slice(o * inner, inner);
                if (op > BinaryOp.Divide || (ia != 1 && ia != 0) || (ib != 1 && ib != 0) || (ia == 0 && ib == 0))
                    for (int i = 0; i < inner; i++) ys[i] = Apply(a[oa + i * ia], b[ob + i * ib], op);
                else if (ia == 1 && ib == 1) Contiguous(a.Slice(oa, inner), b.Slice(ob, inner), ys, op);
                else if (ia == 1) Scalar(a.Slice(oa, inner), b[ob], ys, op, reversed: false);
                else Scalar(b.Slice(ob, inner), a[oa], ys, op, reversed: true);
                for (int d = rank - 2; d >= 0; d--)
                {
                    idx[d]++; oa += _sa[d]; ob += _sb[d];
                    if (idx[d] < _shape[d]) break;
                    oa -= _sa[d] * _shape[d]; ob -= _sb[d] * _shape[d]; idx[d] = 0;
                }
            }
        }

        private static void Contiguous(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, BinaryOp op)
        {
            switch (op)
            {
                case BinaryOp.Add: TensorPrimitives.Add(a, b, y); break;
                case BinaryOp.Subtract: TensorPrimitives.Subtract(a, b, y); break;
                case BinaryOp.Multiply: TensorPrimitives.Multiply(a, b, y); break;
                default: TensorPrimitives.Divide(a, b, y); break;
            }
        }

        // x (op) s, or s (op) x when reversed.
        private static void Scalar(ReadOnlySpan<float> x, float s, Span<float> y, BinaryOp op, bool reversed)
        {
            switch (op)
            {
                case BinaryOp.Add: TensorPrimitives.Add(x, s, y); break;
                case BinaryOp.Multiply: TensorPrimitives.Multiply(x, s, y); break;
                case BinaryOp.Subtract:
                    if (reversed) TensorPrimitives.Subtract(s, x, y); else TensorPrimitives.Subtract(x, s, y);
                    break;
                default:
                    if (reversed) TensorPrimitives.Divide(s, x, y); else TensorPrimitives.Divide(x, s, y);
                    break;
            }
        }

        internal static float Apply(float a, float b, BinaryOp op) => op switch
        {
            BinaryOp.Add => a + b,
            BinaryOp.Subtract => a - b,
            BinaryOp.Multiply => a * b,
            BinaryOp.Divide => a / b,
            // NaN propagates, as ONNX Max does.
            BinaryOp.Maximum => float.IsNaN(a) || float.IsNaN(b) ? float.NaN : Math.Max(a, b),
            _ => a < b ? 1f : 0f,
        };

        public void Backward(Tensor a, Tensor b, ReadOnlySpan<float> gy, BinaryOp op)
        {
            var g = gy.ToArray();
            var av = a.ToArray(); var bv = b.ToArray();
            float[]? ga = a.RequiresGrad ? new float[a.Length] : null;
            float[]? gb = b.RequiresGrad ? new float[b.Length] : null;
            Walk((o, pa, pb, n, sa, sb) =>
            {
                for (int i = 0; i < n; i++)
                {
                    float gi = g[o + i], x = av[pa + i * sa], z = bv[pb + i * sb];
                    switch (op)
                    {
                        case BinaryOp.Add:
                            if (ga is not null) ga[pa + i * sa] += gi;
                            if (gb is not null) gb[pb + i * sb] += gi;
                            break;
                        case BinaryOp.Subtract:
                            if (ga is not null) ga[pa + i * sa] += gi;
                            if (gb is not null) gb[pb + i * sb] -= gi;
                            break;
                        case BinaryOp.Multiply:
                            if (ga is not null) ga[pa + i * sa] += gi * z;
                            if (gb is not null) gb[pb + i * sb] += gi * x;
                            break;
                        case BinaryOp.Divide:
                            if (ga is not null) ga[pa + i * sa] += gi / z;
                            if (gb is not null) gb[pb + i * sb] -= gi * x / (z * z);
                            break;
                        case BinaryOp.Maximum:
                            if (x >= z) { if (ga is not null) ga[pa + i * sa] += gi; }
                            else if (gb is not null) gb[pb + i * sb] += gi;
                            break;
                        default:
                            break; // a comparison is piecewise constant
                    }
                }
            });
            if (ga is not null) AccumulateInto(a, ga);
            if (gb is not null) AccumulateInto(b, gb);
        }
    }
}
