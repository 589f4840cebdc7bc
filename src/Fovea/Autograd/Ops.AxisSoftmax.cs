using Fovea.Tensors;

namespace Fovea.Autograd;

public static partial class Ops
{
    /// <summary>
    /// Softmax (or log-softmax) along <paramref name="axis"/> of any tensor. With <paramref name="flattenFrom"/> the axes from
    /// <paramref name="axis"/> to the end are treated as one (ONNX opsets before 13).
    /// </summary>
    public static Tensor SoftmaxAlong(Tensor x, int axis, bool log = false, bool flattenFrom = false)
    {
        int rank = x.Rank;
        if (axis < 0 || axis >= Math.Max(1, rank)) throw new ArgumentException($"Softmax axis {axis} is out of range for shape {Tensor.ShapeToString(x.Shape)}.");
        int inner = 1;
        if (!flattenFrom) for (int d = axis + 1; d < rank; d++) inner *= x.Shape[d];
        int cols = 1;
        for (int d = axis; d < (flattenFrom ? rank : axis + 1); d++) cols *= x.Shape[d];
        int rows = x.Length / Math.Max(1, cols);
        if (inner == 1)
        {
            var y = new Tensor(x.Shape);
            if (log) Kernels.Softmax.LogForward(rows, cols, x.Span, y.Span); else Kernels.Softmax.Forward(rows, cols, x.Span, y.Span);
            RecordUnary(x, y, () =>
            {
                if (log) Kernels.Softmax.LogBackward(rows, cols, y.Span, y.Grad!.Span, x.GradOrCreate().Span);
                else Kernels.Softmax.Backward(rows, cols, y.Span, y.Grad!.Span, x.GradOrCreate().Span);
            });
            return y;
        }
        // Move the axis last, run row-wise, move it back; the transposes carry the gradient.
        var perm = Enumerable.Range(0, rank).Where(d => d != axis).Append(axis).ToArray();
        var inverse = new int[rank];
        for (int i = 0; i < rank; i++) inverse[perm[i]] = i;
        return Transpose(SoftmaxAlong(Transpose(x, perm), rank - 1, log), inverse);
    }

    /// <summary>y = min(max(x, min), max), as ONNX Clip (when min &gt; max every output is max).</summary>
    public static Tensor Clip(Tensor x, float min, float max)
    {
        var y = new Tensor(x.Shape);
        if (min <= max) Kernels.Activations.ClipForward(x.Span, y.Span, min, max);
        else y.Span.Fill(max);
        RecordUnary(x, y, () =>
        {
            if (min <= max) Kernels.Activations.ClipBackward(x.Span, y.Grad!.Span, x.GradForWrite(out bool accumulate), min, max, accumulate);
        });
        return y;
    }

    /// <summary>ELU: y = x &gt; 0 ? x : alpha·(exp(x) - 1).</summary>
    public static Tensor Elu(Tensor x, float alpha)
    {
        var y = new Tensor(x.Shape);
        Kernels.Activations.EluForward(x.Span, y.Span, alpha);
        // The output-based backward saves an exp but needs alpha ≥ 0; a negative alpha takes the input-based one.
        if (alpha >= 0) RecordUnary(x, y, () => Kernels.Activations.EluBackward(y.Span, y.Grad!.Span, x.GradForWrite(out bool accumulate), alpha, accumulate));
        else RecordUnary(x, y, () => Kernels.Activations.EluBackwardFromInput(x.Span, y.Grad!.Span, x.GradForWrite(out bool accumulate), alpha, accumulate));
        return y;
    }

    /// <summary>Maximum over each channel's H x W plane. x: [N, C, H, W] → [N, C, 1, 1].</summary>
    public static Tensor GlobalMaxPool2d(Tensor x)
    {
        if (x.Rank != 4) throw new ArgumentException($"Global pooling expects input [N, C, H, W]; received shape {Tensor.ShapeToString(x.Shape)}.");
        int n = x.Dim(0), c = x.Dim(1), hw = x.Dim(2) * x.Dim(3);
        var y = new Tensor(n, c, 1, 1);
        var argmax = new int[n * c];
        Kernels.GlobalPool2d.MaxForward(n, c, hw, x.Span, y.Span, argmax);
        RecordUnary(x, y, () => Kernels.GlobalPool2d.MaxBackward(n, c, hw, y.Grad!.Span, argmax, x.GradOrCreate().Span));
        return y;
    }
}
