using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Tensors;
using static Fovea.Tests.Autograd.GradientCheck;

namespace Fovea.Tests.Autograd;

/// <summary>Numerical gradient checks of the ops added for ONNX interoperability (broadcasting, MatMul, shape ops, axis softmax, ...).</summary>
public class InteropOpGradientTests
{
    public static TheoryData<int[], int[], BinaryOp> BroadcastCases => new()
    {
        { [2, 3, 4], [2, 3, 4], BinaryOp.Add },
        { [2, 3, 4], [4], BinaryOp.Subtract },
        { [2, 3, 1], [1, 4], BinaryOp.Multiply },
        { [2, 1, 4], [3, 1], BinaryOp.Divide },
        { [3], [2, 3], BinaryOp.Multiply },
    };

    [Theory]
    [MemberData(nameof(BroadcastCases))]
    public void Broadcast(int[] a, int[] b, BinaryOp op)
    {
        var rng = new Random(a.Length * 10 + b.Length);
        // Divisors kept away from zero.
        var tb = op == BinaryOp.Divide ? Random(rng, 0.5f, 1.5f, b) : Random(rng, b);
        Check(t => Ops.Broadcast(t[0], t[1], op), [Random(rng, a), tb]);
    }

    [Theory]
    [InlineData(new[] { 3, 4 }, new[] { 4, 5 })]
    [InlineData(new[] { 2, 3, 4 }, new[] { 4, 2 })]
    [InlineData(new[] { 2, 3, 4 }, new[] { 2, 4, 3 })]
    [InlineData(new[] { 3, 1, 2, 4 }, new[] { 1, 2, 4, 2 })]
    [InlineData(new[] { 4 }, new[] { 2, 4, 3 })]
    [InlineData(new[] { 2, 3, 4 }, new[] { 4 })]
    public void MatMul(int[] a, int[] b)
    {
        var rng = new Random(a.Sum() * 7 + b.Sum());
        Check(t => Ops.MatMul(t[0], t[1]), [Random(rng, a), Random(rng, b)]);
    }

    [Fact]
    public void Transpose() => Check(t => Ops.Transpose(t[0], [2, 0, 3, 1]), [Random(new Random(1), 2, 3, 4, 2)]);

    [Fact]
    public void Concat()
    {
        var rng = new Random(2);
        Check(t => Ops.Concat([t[0], t[1], t[2]], 1), [Random(rng, 2, 1, 3), Random(rng, 2, 3, 3), Random(rng, 2, 2, 3)]);
    }

    [Theory]
    [InlineData(PadMode.Constant)]
    [InlineData(PadMode.Reflect)]
    [InlineData(PadMode.Edge)]
    [InlineData(PadMode.Wrap)]
    public void Pad(PadMode mode) =>
        Check(t => Ops.Pad(t[0], [0, 1, 2, 0], [0, 2, 1, -1], mode, 0.5f), [Random(new Random(3), 2, 3, 4, 5)]);

    [Theory]
    [InlineData(1, false, false)]
    [InlineData(1, true, false)]
    [InlineData(2, false, false)]
    [InlineData(3, true, false)]
    [InlineData(1, false, true)]
    [InlineData(2, true, true)]
    public void SoftmaxAlong(int axis, bool log, bool flatten) =>
        Check(t => Ops.SoftmaxAlong(t[0], axis, log, flatten), [Random(new Random(4), 2, 3, 4, 2)]);

    [Fact]
    public void Clip() => Check(t => Ops.Clip(t[0], -0.3f, 0.4f), [Distinct(new Random(5), 0.07f, 3, 7)]);

    [Fact]
    public void Elu() => Check(t => Ops.Elu(t[0], 0.8f), [Distinct(new Random(6), 0.1f, 2, 9)]);

    [Fact]
    public void EluWithNegativeAlpha() => Check(t => Ops.Elu(t[0], -0.6f), [Distinct(new Random(16), 0.1f, 2, 9)]);

    [Fact]
    public void GlobalMaxPool2d() => Check(t => Ops.GlobalMaxPool2d(t[0]), [Distinct(new Random(7), 0.05f, 2, 3, 3, 4)]);

    [Fact]
    public void MatMulLayerOnSamplesOfAnyRank()
    {
        var layer = new Fovea.Layers.MatMul([2, 4, 3]);
        layer.Build([[5, 4]], new Random(1));
        var x = Random(new Random(8), 3, 5, 4);
        Check(t => layer.Forward([t[0]], training: true), [x]);
        Assert.Equal(new[] { 2, 5, 3 }, layer.OutputShape);
    }

    [Fact]
    public void ConstantArithmeticTrainsItsConstant()
    {
        var layer = new ConstantArithmetic(BinaryOp.Multiply, [3, 1, 1], learnConstant: true);
        layer.Build([[3, 2, 2]], new Random(1));
        Random(new Random(2), 3, 1, 1).Span.CopyTo(layer.Constant.Span);
        Check(t => layer.Forward([t[0]], training: true), [Random(new Random(9), 2, 3, 2, 2), layer.Constant]);
    }
}

/// <summary>Gradient checks of the reduction, selection and comparison ops (the operators of ONNX function bodies).</summary>
public class ReduceSelectGradientTests
{
    [Theory]
    [InlineData(ReduceKind.Sum, true)]
    [InlineData(ReduceKind.Sum, false)]
    [InlineData(ReduceKind.Max, true)]
    [InlineData(ReduceKind.Max, false)]
    public void Reduce(ReduceKind kind, bool keepDims) =>
        Check(t => Ops.Reduce(t[0], [1, 3], keepDims, kind), [Distinct(new Random(1), 0.05f, 2, 3, 2, 4)]);

    [Fact]
    public void Where()
    {
        var rng = new Random(2);
        var cond = new Tensor(2, 1, 4);
        for (int i = 0; i < cond.Length; i++) cond.Span[i] = rng.Next(2);
        Check(t => Ops.Where(cond, t[0], t[1]), [Random(rng, 2, 3, 4), Random(rng, 3, 1)]);
    }

    [Fact]
    public void ExpAndLog()
    {
        Check(t => Ops.Exp(t[0]), [Random(new Random(3), 3, 5)]);
        Check(t => Ops.Log(t[0]), [Random(new Random(4), 0.5f, 2f, 3, 5)]);
    }

    [Fact]
    public void MaximumAndLess()
    {
        var rng = new Random(5);
        Check(t => Ops.Broadcast(t[0], t[1], BinaryOp.Maximum), [Distinct(rng, 0.1f, 2, 3), Distinct(new Random(6), 0.13f, 3)]);
        var y = Ops.Broadcast(Tensor.FromArray([1f, 5f, 3f], 3), Tensor.FromArray([2f], 1), BinaryOp.Less);
        Assert.Equal(new[] { 1f, 0f, 0f }, y.ToArray());
    }
}
