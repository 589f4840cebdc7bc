using Fovea.Kernels;
using Fovea.Tensors;

namespace Fovea.Autograd;

public static partial class Ops
{
    /// <summary>
    /// 2-D convolution. x: [N, C, H, W]; weight: [K, C/groups, R, S]; bias: [K] or null → [N, K, OH, OW].
    /// <paramref name="geometry"/> supplies strides, pads, dilations and groups; its batch and sizes are taken from the tensors.
    /// With <paramref name="relu"/> the result is max(0, conv) computed in the convolution's own output pass: the same
    /// values and gradients as Relu(Conv2d(...)) without a separate pass over the activation map forward and backward.
    /// </summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dShape geometry, bool relu = false)
    {
        if (x.Rank != 4) throw new ArgumentException($"Conv2d expects input [N, C, H, W]; received shape {Tensor.ShapeToString(x.Shape)}.");
        var s = geometry with
        {
            Batch = x.Dim(0), InChannels = x.Dim(1), InHeight = x.Dim(2), InWidth = x.Dim(3),
            OutChannels = weight.Dim(0), KernelHeight = weight.Dim(2), KernelWidth = weight.Dim(3),
        };
        s.Validate();
        if (weight.Dim(1) != s.InChannelsPerGroup)
            throw new ArgumentException($"Conv2d weight has {weight.Dim(1)} input channels per filter but the input has {s.InChannels} channels in {s.Groups} group(s) ({s.InChannelsPerGroup} per group).");
        var y = Tensor.Uninitialized(s.Batch, s.OutChannels, s.OutHeight, s.OutWidth);
        Kernels.Conv2d.Forward(s, x.Span, weight.Span, bias is null ? default : bias.Span, y.Span, relu);
        if (Tape.ShouldRecord(x, weight, bias))
        {
            y.RequiresGrad = true;
            Tape.Current!.Add(() =>
            {
                if (y.Grad is null) return;
                ReadOnlySpan<float> gy = y.Grad.Span;
                // After the fused ReLU the kernels mask dY themselves, item by item: y > 0 exactly where conv > 0.
                ReadOnlySpan<float> reluOutput = relu ? y.Span : default;
                if (weight.RequiresGrad || (bias?.RequiresGrad ?? false))
                {
                    var gw = weight.RequiresGrad ? weight.GradOrCreate().Span : Scratch(weight.Length);
                    var gb = bias is null ? default : bias.RequiresGrad ? bias.GradOrCreate().Span : Scratch(bias.Length);
                    Kernels.Conv2d.BackwardWeight(s, gy, x.Span, gw, gb, reluOutput);
                }
                if (x.RequiresGrad)
                {
                    var gx = x.GradForWrite(out bool accumulate);
                    Kernels.Conv2d.BackwardInput(s, gy, weight.Span, gx, accumulate, reluOutput);
                }
            });
        }
        return y;
    }

    /// <summary>
    /// Fully connected layer: x [N, in] · weightᵀ (weight [out, in], PyTorch/ONNX layout) + bias [out] → [N, out].
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        if (x.Rank != 2) throw new ArgumentException($"Linear expects input [N, features]; received shape {Tensor.ShapeToString(x.Shape)}.");
        int n = x.Dim(0), inFeatures = x.Dim(1), outFeatures = weight.Dim(0);
        if (weight.Dim(1) != inFeatures)
            throw new ArgumentException($"Linear weight expects {weight.Dim(1)} input features; received input of shape {Tensor.ShapeToString(x.Shape)}.");
        var y = Tensor.Uninitialized(n, outFeatures);
        Gemm.Multiply(false, true, n, outFeatures, inFeatures, x.Span, inFeatures, weight.Span, inFeatures, y.Span, outFeatures,
            columnBias: bias is null ? default : bias.Span);
        if (Tape.ShouldRecord(x, weight, bias))
        {
            y.RequiresGrad = true;
            Tape.Current!.Add(() =>
            {
                if (y.Grad is null) return;
                var gy = y.Grad.Span;
                // dW [out, in] += dYᵀ [out, N] · X [N, in]
                if (weight.RequiresGrad)
                    Gemm.Multiply(true, false, outFeatures, inFeatures, n, gy, outFeatures, x.Span, inFeatures, weight.GradOrCreate().Span, inFeatures, accumulate: true);
                if (bias is not null && bias.RequiresGrad)
                {
                    var gb = bias.GradOrCreate().Span;
                    for (int i = 0; i < n; i++) AccumulateInto(gb, gy.Slice(i * outFeatures, outFeatures));
                }
                // dX [N, in] += dY [N, out] · W [out, in]
                if (x.RequiresGrad)
                {
                    var gx = x.GradForWrite(out bool accumulate);
                    Gemm.Multiply(false, false, n, inFeatures, outFeatures, gy, outFeatures, weight.Span, inFeatures, gx, inFeatures, accumulate: accumulate);
                }
            });
        }
        return y;
    }
}
