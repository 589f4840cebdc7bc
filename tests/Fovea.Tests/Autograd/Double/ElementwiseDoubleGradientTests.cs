using Fovea.Autograd;
using Fovea.Tensors;
using static Fovea.Tests.Autograd.Double.DoubleGradientCheck;
using E = Fovea.Tests.Autograd.Double.ElementwiseTwins;

namespace Fovea.Tests.Autograd.Double;

/// <summary>Activations, softmax, arithmetic, normalisation, shape ops and losses against their double twins.</summary>
public class ElementwiseDoubleGradientTests
{
    private static readonly int[] s_shape = [3, 5, 7];

    // Kinked functions (ReLU, leaky ReLU, ELU, clip) get distinct inputs that stay clear of the kinks; smooth ones plain random inputs.
    public static TheoryData<string> Unary => new() { "relu", "leaky 0.1", "leaky -0.3", "sigmoid", "tanh", "elu 0.8", "elu -0.6", "clip", "exp", "log" };

    [Theory]
    [MemberData(nameof(Unary))]
    public void UnaryOp(string name)
    {
        (Func<Tensor, Tensor> Op, Func<double, double> Twin) pair = name switch
        {
            "relu" => (x => Ops.Relu(x), E.Relu),
            "leaky 0.1" => (x => Ops.LeakyRelu(x, 0.1f), v => E.LeakyRelu(v, 0.1f)),
            "leaky -0.3" => (x => Ops.LeakyRelu(x, -0.3f), v => E.LeakyRelu(v, -0.3f)),
            "sigmoid" => (x => Ops.Sigmoid(Ops.Multiply(x, Tensor.FromArray(Enumerable.Repeat(3f, x.Length).ToArray(), x.Shape))), v => E.Sigmoid(3 * v)),
            "tanh" => (x => Ops.Tanh(x), Math.Tanh),
            "elu 0.8" => (x => Ops.Elu(x, 0.8f), v => E.Elu(v, 0.8f)),
            "elu -0.6" => (x => Ops.Elu(x, -0.6f), v => E.Elu(v, -0.6f)),
            "clip" => (x => Ops.Clip(x, -0.3f, 0.4f), v => E.Clip(v, -0.3f, 0.4f)),
            "exp" => (x => Ops.Exp(x), Math.Exp),
            "log" => (x => Ops.Log(Ops.Add(x, Tensor.FromArray(Enumerable.Repeat(1.5f, x.Length).ToArray(), x.Shape))), v => Math.Log(v + 1.5f)),
            _ => throw new ArgumentException(name),
        };
        Check(t => pair.Op(t[0]), d => E.Map(d[0], pair.Twin), [Distinct(name.Length, s_shape)]);
    }

    [Fact]
    public void DropoutWithItsFixedMask()
    {
        // The mask is the one the seeded generator draws: Dropout of ones with the same seed reveals it.
        var mask = ToDouble(Ops.Dropout(Tensor.FromArray(Enumerable.Repeat(1f, 54).ToArray(), 6, 9), 0.4f, new Random(42)));
        Assert.Contains(0.0, mask);
        Check(t => Ops.Dropout(t[0], 0.4f, new Random(42)), d => d[0].Select((v, i) => v * mask[i]).ToArray(), [Random(11, 6, 9)]);
    }

    [Theory]
    [InlineData(1, false, false)]
    [InlineData(1, true, false)]
    [InlineData(2, false, false)]
    [InlineData(3, true, false)]
    [InlineData(1, false, true)]
    [InlineData(2, true, true)]
    public void SoftmaxAndLogSoftmaxAlongAxis(int axis, bool log, bool flatten)
    {
        int[] shape = [2, 3, 4, 3];
        Check(t => Ops.SoftmaxAlong(t[0], axis, log, flatten), d => E.Softmax(d[0], shape, axis, log, flatten), [Random(4, shape)]);
    }

    [Fact]
    public void SoftmaxOverLastAxis() =>
        Check(t => Ops.Softmax(t[0]), d => E.Softmax(d[0], [5, 7], 1), [Random(10, 5, 7)]);

    public static TheoryData<int[], int[], BinaryOp> BroadcastCases => new()
    {
        { [2, 3, 4], [2, 3, 4], BinaryOp.Add },
        { [2, 3, 4], [4], BinaryOp.Subtract },
        { [2, 3, 1], [1, 4], BinaryOp.Multiply },
        { [2, 1, 4], [3, 1], BinaryOp.Divide },
        { [3], [2, 3], BinaryOp.Multiply },
        { [2, 3], [3], BinaryOp.Maximum },
    };

    [Theory]
    [MemberData(nameof(BroadcastCases))]
    public void BroadcastArithmetic(int[] a, int[] b, BinaryOp op)
    {
        // Divisors in [0.5, 1.5]; Maximum on distinct values (no ties between a and b).
        var tb = op == BinaryOp.Divide ? Uniform(new Random(2), 0.5f, 1.5f, b) : op == BinaryOp.Maximum ? Distinct(3, b) : Random(2, b);
        var ta = op == BinaryOp.Maximum ? Tensor.FromArray(Distinct(4, 2 * a.Aggregate(1, (p, q) => p * q)).ToArray().Where((_, i) => i % 2 == 0).ToArray(), a) : Random(1, a);
        Check(t => Ops.Broadcast(t[0], t[1], op), d => E.Broadcast(d[0], a, d[1], b, op), [ta, tb]);
    }

    [Fact]
    public void AddMultiplyAndReshape() =>
        Check(t => Ops.Reshape(Ops.Multiply(Ops.Add(t[0], t[1]), t[1]), 6, 4),
            d => d[0].Select((v, i) => (v + d[1][i]) * d[1][i]).ToArray(), [Random(12, 2, 3, 4), Random(13, 2, 3, 4)]);

    [Fact]
    public void Where()
    {
        var rng = new Random(2);
        var cond = new Tensor(2, 1, 4);
        for (int i = 0; i < cond.Length; i++) cond.Span[i] = rng.Next(2);
        var c = ToDouble(cond);
        Check(t => Ops.Where(cond, t[0], t[1]), d => E.Where(c, cond.Shape, d[0], [2, 3, 4], d[1], [3, 1]), [Random(3, 2, 3, 4), Random(4, 3, 1)]);
    }

    [Theory]
    [InlineData(true, new[] { 4, 3, 3, 5 })]
    [InlineData(false, new[] { 4, 3, 3, 5 })]
    [InlineData(true, new[] { 3, 2, 1, 1 })]
    [InlineData(true, new[] { 5, 3 })]
    [InlineData(false, new[] { 2, 2, 3, 1 })]
    public void BatchNormTrainingAndInference(bool training, int[] shape)
    {
        var rng = new Random(13);
        int c = shape[1];
        var mean = Uniform(rng, -0.5f, 0.5f, c); var variance = Uniform(rng, 0.5f, 2f, c);
        double[] m = ToDouble(mean), v = ToDouble(variance);
        Check(t => Ops.BatchNorm2d(t[0], t[1], t[2], mean.Clone(), variance.Clone(), training, 1e-5f, 0.1f),
            d => NormalizationTwins.BatchNorm(d[0], shape, d[1], d[2], m, v, training, 1e-5f),
            [Random(shape.Sum(), shape), Uniform(rng, 0.5f, 1.5f, c), Random(14, c)]);
    }

    [Fact]
    public void TransposeConcatAndPad()
    {
        Check(t => Ops.Transpose(t[0], [2, 0, 3, 1]), d => ShapeTwins.Transpose(d[0], [2, 3, 4, 2], [2, 0, 3, 1]), [Random(1, 2, 3, 4, 2)]);
        int[][] shapes = [[2, 1, 3], [2, 3, 3], [2, 2, 3]];
        Check(t => Ops.Concat([t[0], t[1], t[2]], 1), d => ShapeTwins.Concat(d, shapes, 1), [.. shapes.Select((s, i) => Random(i, s))]);
        int[][] lastAxis = [[1, 2, 3], [1, 2, 1]];
        Check(t => Ops.Concat([t[0], t[1]], 2), d => ShapeTwins.Concat(d, lastAxis, 2), [Random(5, lastAxis[0]), Random(6, lastAxis[1])]);
    }

    [Theory]
    [InlineData(PadMode.Constant)]
    [InlineData(PadMode.Reflect)]
    [InlineData(PadMode.Edge)]
    [InlineData(PadMode.Wrap)]
    public void PadIncludingCrop(PadMode mode)
    {
        // The last axis is cropped at one end and padded at the other (wrap repeats only the kept values).
        int[] shape = [2, 3, 4, 5], before = [0, 1, 2, -2], after = [0, 2, 1, 2];
        Check(t => Ops.Pad(t[0], before, after, mode, 0.5f), d => ShapeTwins.Pad(d[0], shape, before, after, mode, 0.5), [Random(3, shape)]);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(true, false)]
    public void ReduceSumAndMax(bool max, bool keepDims)
    {
        int[] shape = [2, 3, 2, 4];
        Check(t => Ops.Reduce(t[0], [1, 3], keepDims, max ? ReduceKind.Max : ReduceKind.Sum),
            d => ShapeTwins.Reduce(d[0], shape, [1, 3], max), [Distinct(1, shape)]);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.1f)]
    public void SoftmaxCrossEntropyWithAndWithoutLabelSmoothing(float smoothing)
    {
        int[] labels = [2, 0, 4, 1];
        Check(t => Ops.SoftmaxCrossEntropy(t[0], labels, smoothing, out _),
            d => [LossTwins.SoftmaxCrossEntropy(d[0], 4, 5, labels, smoothing)], [Uniform(new Random(14), -2f, 2f, 4, 5)]);
    }

    [Fact]
    public void ClassWeightedSoftmaxCrossEntropy()
    {
        int[] labels = [2, 0, 4, 1, 2];
        float[] weights = [0.5f, 2f, 1.25f, 0f, 3f];
        Check(t => Ops.SoftmaxCrossEntropy(t[0], labels, 0.1f, weights, out _),
            d => [LossTwins.SoftmaxCrossEntropy(d[0], 5, 5, labels, 0.1f, weights)], [Uniform(new Random(15), -2f, 2f, 5, 5)]);
    }

    [Fact]
    public void BinaryCrossEntropyAndMeanSquaredError()
    {
        var target = Uniform(new Random(17), 0f, 1f, 3, 4);
        var t = ToDouble(target);
        Check(x => Ops.BinaryCrossEntropy(x[0], target), d => [LossTwins.BinaryCrossEntropy(d[0], t)], [Uniform(new Random(18), 0.2f, 0.8f, 3, 4)]);
        Check(x => Ops.MeanSquaredError(x[0], target), d => [LossTwins.MeanSquaredError(d[0], t)], [Random(16, 3, 4)]);
    }
}
