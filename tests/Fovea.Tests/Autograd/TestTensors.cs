using Fovea.Tensors;

namespace Fovea.Tests.Autograd;

/// <summary>
/// Random test tensors. (Gradients are checked by <see cref="Double.DoubleGradientCheck"/> against double-precision twins.)
/// </summary>
internal static class TestTensors
{
    public static Tensor Random(Random rng, params int[] shape) => Random(rng, -1f, 1f, shape);

    public static Tensor Random(Random rng, float low, float high, params int[] shape)
    {
        var t = new Tensor(shape);
        for (int i = 0; i < t.Length; i++) t.Span[i] = low + (high - low) * rng.NextSingle();
        return t;
    }
}
