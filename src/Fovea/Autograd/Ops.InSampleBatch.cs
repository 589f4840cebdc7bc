using Fovea.Tensors;

namespace Fovea.Autograd;

// Samples that are themselves a batch: x [B, N, C, ...] holds B samples, each a whole [N, C, ...] tensor (a graph
// imported "whole input as one sample"). Statistics are per sample and channel, over the sample's N and spatial positions.

public static partial class Ops
{
    /// <summary>
    /// Batch normalisation of each sample by its own statistics: x [B, N, C, ...] → y of the same shape,
    /// y = γ[c]·(x − μ)/sqrt(σ² + ε) + β[c] with μ and σ² the mean and biased (population) variance of channel c of
    /// that sample over its N·(spatial) values, which must be more than one. γ, β: [C]. Gradients flow to x, γ and β
    /// through the statistics, as in training-mode batch normalisation (the same kernels, one sample at a time).
    /// </summary>
    public static Tensor InSampleBatchNorm(Tensor x, Tensor gamma, Tensor beta, float epsilon)
    {
        var (b, n, c, hw) = InSampleLayout(x, "InSampleBatchNorm");
        if (gamma.Length != c || beta.Length != c)
            throw new ArgumentException($"InSampleBatchNorm has {gamma.Length} scales and {beta.Length} shifts for input {Tensor.ShapeToString(x.Shape)} with {c} channels (axis 2).");
        if ((long)n * hw <= 1)
            throw new ArgumentException($"InSampleBatchNorm needs more than one value per channel of a sample; input {Tensor.ShapeToString(x.Shape)} has {(long)n * hw}.");
        int size = n * c * hw;
        var y = Tensor.Uninitialized(x.Shape);
        float[] savedMean = Scratch(b * c), savedInvStd = Scratch(b * c);
        // The kernel also blends running statistics; momentum 0 leaves these throw-away ones as they are.
        float[] unusedMean = Scratch(c), unusedVar = Scratch(c);
        for (int s = 0; s < b; s++)
            Kernels.BatchNorm2d.ForwardTraining(n, c, hw, x.Span.Slice(s * size, size), gamma.Span, beta.Span, epsilon, 0f,
                unusedMean, unusedVar, y.Span.Slice(s * size, size), savedMean.AsSpan(s * c, c), savedInvStd.AsSpan(s * c, c));
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
                for (int s = 0; s < b; s++)
                    Kernels.BatchNorm2d.Backward(n, c, hw, x.Span.Slice(s * size, size), y.Grad.Span.Slice(s * size, size), gamma.Span,
                        savedMean.AsSpan(s * c, c), savedInvStd.AsSpan(s * c, c), gx.Slice(s * size, size), gg, gb, accumulate);
            });
        }
        return y;
    }

    /// <summary>
    /// Per sample and channel, the mean (or, with <paramref name="variance"/>, the biased population variance) over the
    /// sample's N and spatial positions: x [B, N, C, ...] → [B, C]. Accumulated in double, variance in two passes.
    /// Gradient: ∂mean/∂x = 1/M, ∂variance/∂x = 2·(x − mean)/M, with M = N·(spatial).
    /// </summary>
    public static Tensor InSampleBatchMoment(Tensor x, bool variance)
    {
        var (b, n, c, hw) = InSampleLayout(x, "InSampleBatchMoment");
        long m = (long)n * hw;
        var y = new Tensor(b, c);
        var means = new double[b * c];
        var xs = x.Span;
        for (int s = 0; s < b; s++)
            for (int ch = 0; ch < c; ch++)
            {
                double sum = 0;
                for (int i = 0; i < n; i++)
                    foreach (float v in xs.Slice(((s * n + i) * c + ch) * hw, hw)) sum += v;
                double mean = sum / m, squares = 0;
                if (variance)
                    for (int i = 0; i < n; i++)
                        foreach (float v in xs.Slice(((s * n + i) * c + ch) * hw, hw)) squares += (v - mean) * (v - mean);
                means[s * c + ch] = mean;
                y.Span[s * c + ch] = (float)(variance ? squares / m : mean);
            }
        RecordUnary(x, y, () =>
        {
            var gx = x.GradOrCreate().Span;
            var gy = y.Grad!.Span;
            for (int s = 0; s < b; s++)
                for (int ch = 0; ch < c; ch++)
                {
                    double g = gy[s * c + ch] / (double)m, mean = means[s * c + ch];
                    for (int i = 0; i < n; i++)
                    {
                        int offset = ((s * n + i) * c + ch) * hw;
                        for (int j = offset; j < offset + hw; j++) gx[j] += (float)(variance ? 2 * g * (x.Span[j] - mean) : g);
                    }
                }
        });
        return y;
    }

    /// <summary>x [B, N, C, ...] read as B samples of N × C planes of hw values each.</summary>
    private static (int B, int N, int C, int Hw) InSampleLayout(Tensor x, string op)
    {
        if (x.Rank < 3)
            throw new ArgumentException($"{op} expects input [B, N, C, ...] (samples that are themselves a batch [N, C, ...]); received shape {Tensor.ShapeToString(x.Shape)}.");
        int b = x.Dim(0), n = x.Dim(1), c = x.Dim(2);
        int hw = 1;
        for (int d = 3; d < x.Rank; d++) hw *= x.Dim(d);
        return (b, n, c, hw);
    }
}
