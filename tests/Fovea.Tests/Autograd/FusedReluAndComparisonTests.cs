using Fovea.Autograd;
using Fovea.Kernels;
using Fovea.Tensors;
using static Fovea.Tests.Autograd.Double.DoubleGradientCheck;

namespace Fovea.Tests.Autograd;

/// <summary>Exact-equality checks that a numerical gradient check cannot make (kinks, piecewise-constant ops).</summary>
public class FusedReluAndComparisonTests
{
    /// <summary>
    /// The fused ReLU of Conv2d must give bit for bit the values and gradients of Relu(Conv2d(...)), including at the many
    /// outputs clamped to 0 (the double check covers the fused op too, but only away from the kinks).
    /// </summary>
    [Theory]
    [InlineData(1, 0, 1)]
    [InlineData(2, 1, 1)]
    [InlineData(1, 1, 2)]
    public void Conv2dWithFusedReluEqualsReluOfConv2dExactly(int stride, int pad, int groups)
    {
        var g = new Conv2dShape(0, 0, 0, 0, 0, 0, 0, stride, stride, pad, pad, pad, pad, Groups: groups);
        Tensor[] inputs = [Random(1, 2, 4, 7, 6), Random(2, 4, 4 / groups, 3, 3), Random(3, 4)];
        (float[] Output, float[][] Grads) Run(Func<Tensor> f)
        {
            foreach (var t in inputs) { t.RequiresGrad = true; t.Grad = null; }
            var tape = new Tape();
            Tensor y;
            using (tape.Record()) y = f();
            tape.Backward(y, Random(9, y.Shape).Span);
            return (y.ToArray(), inputs.Select(t => t.Grad!.ToArray()).ToArray());
        }
        var fused = Run(() => Ops.Conv2d(inputs[0], inputs[1], inputs[2], g, relu: true));
        var composed = Run(() => Ops.Relu(Ops.Conv2d(inputs[0], inputs[1], inputs[2], g)));
        Assert.Equal(composed.Output, fused.Output);
        Assert.Contains(fused.Output, v => v == 0f);
        for (int i = 0; i < inputs.Length; i++) Assert.Equal(composed.Grads[i], fused.Grads[i]);
    }

    [Fact]
    public void LessIsAComparisonWithoutGradient()
    {
        var a = Tensor.FromArray([1f, 5f, 3f], 3);
        a.RequiresGrad = true;
        var tape = new Tape();
        Tensor y;
        using (tape.Record()) y = Ops.Broadcast(a, Tensor.FromArray([2f], 1), BinaryOp.Less);
        Assert.Equal(new[] { 1f, 0f, 0f }, y.ToArray());
        tape.Backward(y, [1f, 1f, 1f]);
        Assert.All(a.Grad?.ToArray() ?? [0f, 0f, 0f], v => Assert.Equal(0f, v));
    }
}
