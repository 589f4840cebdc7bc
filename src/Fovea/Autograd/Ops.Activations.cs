using Fovea.Kernels;
using Fovea.Tensors;

namespace Fovea.Autograd;

public static partial class Ops
{
    /// <summary>max(x, 0), element-wise; any shape.</summary>
    public static Tensor Relu(Tensor x)
    {
        var y = Tensor.Uninitialized(x.Shape);
        Activations.ReluForward(x.Span, y.Span);
        RecordUnary(x, y, () => Activations.ReluBackward(x.Span, y.Grad!.Span, x.GradForWrite(out bool accumulate), accumulate));
        return y;
    }

    /// <summary>x for x &gt; 0, alpha·x otherwise; any shape.</summary>
    public static Tensor LeakyRelu(Tensor x, float alpha)
    {
        var y = Tensor.Uninitialized(x.Shape);
        Activations.LeakyReluForward(x.Span, y.Span, alpha);
        RecordUnary(x, y, () => Activations.LeakyReluBackward(x.Span, y.Grad!.Span, x.GradForWrite(out bool accumulate), alpha, accumulate));
        return y;
    }

    /// <summary>1 / (1 + e^-x), element-wise; any shape.</summary>
    public static Tensor Sigmoid(Tensor x)
    {
        var y = Tensor.Uninitialized(x.Shape);
        Activations.SigmoidForward(x.Span, y.Span);
        RecordUnary(x, y, () => Activations.SigmoidBackward(y.Span, y.Grad!.Span, x.GradForWrite(out bool accumulate), accumulate));
        return y;
    }

    /// <summary>Hyperbolic tangent, element-wise; any shape.</summary>
    public static Tensor Tanh(Tensor x)
    {
        var y = Tensor.Uninitialized(x.Shape);
        Activations.TanhForward(x.Span, y.Span);
        RecordUnary(x, y, () => Activations.TanhBackward(y.Span, y.Grad!.Span, x.GradForWrite(out bool accumulate), accumulate));
        return y;
    }

    /// <summary>Softmax over the last axis (rows = all leading axes).</summary>
    public static Tensor Softmax(Tensor x)
    {
        int cols = x.Dim(-1), rows = x.Length / Math.Max(1, cols);
        var y = Tensor.Uninitialized(x.Shape);
        Kernels.Softmax.Forward(rows, cols, x.Span, y.Span);
        RecordUnary(x, y, () => Kernels.Softmax.Backward(rows, cols, y.Span, y.Grad!.Span, x.GradOrCreate().Span));
        return y;
    }

    /// <summary>
    /// Inverted dropout: zeroes each element with probability <paramref name="rate"/> and scales the rest by 1/(1-rate).
    /// Identity when rate is 0; the Dropout layer calls it only in training.
    /// </summary>
    public static Tensor Dropout(Tensor x, float rate, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        return rate <= 0f ? x : Dropout(x, rate, random.NextInt64());
    }

    /// <summary>Inverted dropout with a mask fixed by <paramref name="maskSeed"/> (one draw of the layer's stream).</summary>
    internal static Tensor Dropout(Tensor x, float rate, long maskSeed)
    {
        if (rate <= 0f) return x;
        var mask = Scratch(x.Length);
        float keep = 1f / (1f - rate);
        // One draw from the layer's seeded stream starts a xorshift generator for this mask: Random per element would
        // cost more than the rest of the layer. Each 64-bit step gives two 32-bit uniforms compared with the rate.
        ulong state = (ulong)maskSeed | 1UL;
        uint threshold = (uint)Math.Min(uint.MaxValue, rate * 4294967296.0);
        for (int i = 0; i < mask.Length; i += 2)
        {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            mask[i] = (uint)state >= threshold ? keep : 0f;
            if (i + 1 < mask.Length) mask[i + 1] = (uint)(state >> 32) >= threshold ? keep : 0f;
        }
        var y = Tensor.Uninitialized(x.Shape);
        System.Numerics.Tensors.TensorPrimitives.Multiply(x.Span, mask, y.Span);
        RecordUnary(x, y, () => System.Numerics.Tensors.TensorPrimitives.FusedMultiplyAdd(y.Grad!.Span, mask, x.GradOrCreate().Span, x.Grad!.Span));
        return y;
    }

    private static void RecordUnary(Tensor x, Tensor y, Action backward)
    {
        if (!Tape.ShouldRecord(x)) return;
        y.RequiresGrad = true;
        Tape.Current!.Add(() =>
        {
            if (y.Grad is null) return;
            backward();
        });
    }
}
