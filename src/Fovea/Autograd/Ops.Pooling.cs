using Fovea.Kernels;
using Fovea.Tensors;

namespace Fovea.Autograd;

public static partial class Ops
{
    /// <summary>Max pooling per channel. x: [N, C, H, W] → [N, C, OH, OW]; window, strides, pads, dilation, ceil mode from <paramref name="geometry"/>.</summary>
    public static Tensor MaxPool2d(Tensor x, Pool2dShape geometry)
    {
        var s = PoolShapeFor(x, geometry);
        var y = Tensor.Uninitialized(s.Batch, s.Channels, s.OutHeight, s.OutWidth);
        bool record = Tape.ShouldRecord(x);
        // The argmax is what backward needs; inference skips it.
        var argmax = record ? ScratchIntsUncleared(y.Length) : null;
        Kernels.MaxPool2d.Forward(s, x.Span, y.Span, argmax);
        if (record)
        {
            y.RequiresGrad = true;
            Tape.Current!.Add(() =>
            {
                if (y.Grad is null) return;
                Kernels.MaxPool2d.Backward(s, y.Grad.Span, argmax, x.GradForWrite(out bool accumulate), accumulate);
            });
        }
        return y;
    }

    /// <summary>Average pooling per channel. x: [N, C, H, W] → [N, C, OH, OW]; count_include_pad from <paramref name="geometry"/>.</summary>
    public static Tensor AvgPool2d(Tensor x, Pool2dShape geometry)
    {
        var s = PoolShapeFor(x, geometry);
        var y = Tensor.Uninitialized(s.Batch, s.Channels, s.OutHeight, s.OutWidth);
        Kernels.AvgPool2d.Forward(s, x.Span, y.Span);
        if (Tape.ShouldRecord(x))
        {
            y.RequiresGrad = true;
            Tape.Current!.Add(() =>
            {
                if (y.Grad is null) return;
                Kernels.AvgPool2d.Backward(s, y.Grad.Span, x.GradOrCreate().Span);
            });
        }
        return y;
    }

    /// <summary>Mean over each channel's H x W plane. x: [N, C, H, W] → [N, C, 1, 1].</summary>
    public static Tensor GlobalAvgPool2d(Tensor x)
    {
        if (x.Rank != 4) throw new ArgumentException($"Global pooling expects input [N, C, H, W]; received shape {Tensor.ShapeToString(x.Shape)}.");
        int n = x.Dim(0), c = x.Dim(1), hw = x.Dim(2) * x.Dim(3);
        var y = Tensor.Uninitialized(n, c, 1, 1);
        Kernels.GlobalPool2d.AverageForward(n, c, hw, x.Span, y.Span);
        if (Tape.ShouldRecord(x))
        {
            y.RequiresGrad = true;
            Tape.Current!.Add(() =>
            {
                if (y.Grad is null) return;
                Kernels.GlobalPool2d.AverageBackward(n, c, hw, y.Grad.Span, x.GradOrCreate().Span);
            });
        }
        return y;
    }

    private static Pool2dShape PoolShapeFor(Tensor x, Pool2dShape geometry)
    {
        if (x.Rank != 4) throw new ArgumentException($"Pooling expects input [N, C, H, W]; received shape {Tensor.ShapeToString(x.Shape)}.");
        var s = geometry with { Batch = x.Dim(0), Channels = x.Dim(1), InHeight = x.Dim(2), InWidth = x.Dim(3) };
        s.Validate();
        return s;
    }
}
