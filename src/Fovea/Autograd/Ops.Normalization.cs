using Fovea.Kernels;
using Fovea.Tensors;

namespace Fovea.Autograd;

public static partial class Ops
{
    /// <summary>
    /// Batch normalisation per channel of x [N, C, H, W] (or [N, C]). Training mode normalises with the batch
    /// statistics and updates the running ones (running = (1 - momentum)·running + momentum·batch);
    /// inference mode uses the running statistics. gamma, beta, runningMean, runningVar: [C].
    /// </summary>
    public static Tensor BatchNorm2d(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
        bool training, float epsilon, float momentum)
    {
        if (x.Rank < 2) throw new ArgumentException($"BatchNorm expects input [N, C, ...]; received shape {Tensor.ShapeToString(x.Shape)}.");
        int n = x.Dim(0), c = x.Dim(1), hw = x.Shape.Skip(2).Aggregate(1, (p, d) => p * d);
        if (gamma.Length != c) throw new ArgumentException($"BatchNorm was built for {gamma.Length} channels; received input with {c} channels (shape {Tensor.ShapeToString(x.Shape)}).");
        // Batch statistics of no values would be NaN and would spoil the running statistics for good.
        if (training && c > 0 && (long)n * hw == 0)
            throw new ArgumentException($"BatchNorm in training mode needs at least one value per channel for the batch statistics; received input of shape {Tensor.ShapeToString(x.Shape)}. Run an empty batch in inference mode instead.");
        var y = Tensor.Uninitialized(x.Shape);
        if (!training)
        {
            Kernels.BatchNorm2d.ForwardInference(n, c, hw, x.Span, gamma.Span, beta.Span, runningMean.Span, runningVar.Span, epsilon, y.Span);
            // Frozen statistics: the op is affine per channel, so gradients still flow to x (and gamma/beta if trainable).
            if (Tape.ShouldRecord(x, gamma, beta))
            {
                y.RequiresGrad = true;
                Tape.Current!.Add(() =>
                {
                    if (y.Grad is null) return;
                    var gy = y.Grad.Span;
                    for (int ch = 0; ch < c; ch++)
                    {
                        float invStd = 1f / MathF.Sqrt(runningVar.Span[ch] + epsilon);
                        float scale = gamma.Span[ch] * invStd, mean = runningMean.Span[ch];
                        double sumG = 0, sumGx = 0;
                        for (int i = 0; i < n; i++)
                        {
                            int off = (i * c + ch) * hw;
                            for (int j = 0; j < hw; j++)
                            {
                                float g = gy[off + j];
                                sumG += g;
                                sumGx += g * (x.Span[off + j] - mean) * invStd;
                                if (x.RequiresGrad) x.GradOrCreate().Span[off + j] += g * scale;
                            }
                        }
                        if (gamma.RequiresGrad) gamma.GradOrCreate().Span[ch] += (float)sumGx;
                        if (beta.RequiresGrad) beta.GradOrCreate().Span[ch] += (float)sumG;
                    }
                });
            }
            return y;
        }
        var savedMean = Scratch(c);
        var savedInvStd = Scratch(c);
        Kernels.BatchNorm2d.ForwardTraining(n, c, hw, x.Span, gamma.Span, beta.Span, epsilon, momentum, runningMean.Span, runningVar.Span, y.Span, savedMean, savedInvStd);
        if (Tape.ShouldRecord(x, gamma, beta))
        {
            y.RequiresGrad = true;
            Tape.Current!.Add(() =>
            {
                if (y.Grad is null) return;
                bool accumulate = false;
                var gx = x.RequiresGrad ? x.GradForWrite(out accumulate) : ScratchUncleared(x.Length);
                var gg = gamma.RequiresGrad ? gamma.GradOrCreate().Span : Scratch(c);
                var gb = beta.RequiresGrad ? beta.GradOrCreate().Span : Scratch(c);
                Kernels.BatchNorm2d.Backward(n, c, hw, x.Span, y.Grad.Span, gamma.Span, savedMean, savedInvStd, gx, gg, gb, accumulate);
            });
        }
        return y;
    }
}
