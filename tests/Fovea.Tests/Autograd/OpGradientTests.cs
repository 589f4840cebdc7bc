using Fovea.Autograd;
using Fovea.Kernels;
using Fovea.Tensors;
using static Fovea.Tests.Autograd.GradientCheck;

namespace Fovea.Tests.Autograd;

/// <summary>Numerical gradient check of every differentiable op over a table of shapes.</summary>
public class OpGradientTests
{
    // N, C, H, W, K, R, S, stride, pads (t, l, b, r), dilation, groups
    public static TheoryData<int[]> ConvCases => new()
    {
        new[] { 2, 3, 5, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1 },   // odd sizes, same-ish padding
        new[] { 1, 2, 7, 6, 3, 3, 3, 2, 0, 0, 0, 0, 1, 1 },   // stride 2, no padding
        new[] { 2, 4, 6, 6, 4, 3, 3, 1, 2, 2, 2, 2, 2, 2 },   // dilation 2, groups 2
        new[] { 1, 4, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4 },   // depthwise
        new[] { 2, 3, 4, 5, 5, 1, 1, 1, 0, 0, 0, 0, 1, 1 },   // 1x1
        new[] { 1, 3, 6, 5, 2, 1, 1, 2, 0, 0, 0, 0, 1, 1 },   // 1x1 stride 2
        new[] { 1, 1, 5, 4, 2, 2, 3, 3, 1, 0, 2, 1, 1, 1 },   // asymmetric pads, rectangular kernel, stride 3
    };

    /// <summary>A row of <see cref="ConvCases"/>: the geometry, and random input, weight and bias of its shapes.</summary>
    private static (Conv2dShape Geometry, Tensor[] Inputs) ConvCase(int[] p, Random rng)
    {
        var (n, c, h, w, k, r, s) = (p[0], p[1], p[2], p[3], p[4], p[5], p[6]);
        var (stride, pt, pl, pb, pr, dilation, groups) = (p[7], p[8], p[9], p[10], p[11], p[12], p[13]);
        var geometry = new Conv2dShape(0, 0, 0, 0, 0, 0, 0, stride, stride, pt, pl, pb, pr, dilation, dilation, groups);
        return (geometry, [Random(rng, n, c, h, w), Random(rng, k, c / groups, r, s), Random(rng, k)]);
    }

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Conv2d(int[] p)
    {
        var (geometry, inputs) = ConvCase(p, new Random(p[0] * 7 + p[1] * 13 + p[2] + p[3] + p[4]));
        Check(t => Ops.Conv2d(t[0], t[1], t[2], geometry), inputs);
    }

    /// <summary>
    /// The fused ReLU: a numerical check would straddle the kinks of many outputs at once (each input reaches K·R·S
    /// of them), so its gradients are compared with those of the two checked ops composed, which they must equal exactly.
    /// </summary>
    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Conv2dWithFusedReluEqualsReluOfConv2d(int[] p)
    {
        var (geometry, inputs) = ConvCase(p, new Random(p[0] * 5 + p[1] * 11 + p[2] + p[3] + p[4]));
        (float[] Output, float[][] Grads) Run(Func<Tensor> f)
        {
            foreach (var t in inputs) { t.RequiresGrad = true; t.Grad = null; }
            var tape = new Tape();
            Tensor y;
            using (tape.Record()) y = f();
            var seed = Random(new Random(9), y.Shape);
            tape.Backward(y, seed.Span);
            return (y.ToArray(), inputs.Select(t => t.Grad!.ToArray()).ToArray());
        }
        var fused = Run(() => Ops.Conv2d(inputs[0], inputs[1], inputs[2], geometry, relu: true));
        var composed = Run(() => Ops.Relu(Ops.Conv2d(inputs[0], inputs[1], inputs[2], geometry)));
        Assert.Equal(composed.Output, fused.Output);
        Assert.Contains(fused.Output, v => v == 0f);
        for (int i = 0; i < inputs.Length; i++) Assert.Equal(composed.Grads[i], fused.Grads[i]);
    }

    [Fact]
    public void Conv2dWithoutBias() =>
        Check(t => Ops.Conv2d(t[0], t[1], null, new Conv2dShape(0, 0, 0, 0, 0, 0, 0, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
            [Random(new Random(3), 2, 2, 4, 4), Random(new Random(4), 3, 2, 3, 3)]);

    // window, stride, pads (t, l, b, r), ceil
    public static TheoryData<int, int, int, int, int, int, bool> PoolCases => new()
    {
        { 2, 2, 0, 0, 0, 0, false },
        { 3, 2, 0, 0, 0, 0, false },   // overlapping windows
        { 3, 1, 1, 1, 1, 1, false },
        { 2, 3, 1, 0, 0, 1, true },    // asymmetric pads, ceil mode
        { 3, 2, 1, 1, 1, 1, true },
    };

    [Theory]
    [MemberData(nameof(PoolCases))]
    public void MaxPool2d(int window, int stride, int pt, int pl, int pb, int pr, bool ceil)
    {
        var g = new Pool2dShape(0, 0, 0, 0, window, window, stride, stride, pt, pl, pb, pr, CeilMode: ceil);
        Check(t => Ops.MaxPool2d(t[0], g), [Distinct(new Random(window + stride), 0.05f, 2, 3, 7, 6)]);
    }

    [Theory]
    [MemberData(nameof(PoolCases))]
    public void AvgPool2d(int window, int stride, int pt, int pl, int pb, int pr, bool ceil)
    {
        foreach (bool includePad in new[] { false, true })
        {
            var g = new Pool2dShape(0, 0, 0, 0, window, window, stride, stride, pt, pl, pb, pr, CeilMode: ceil, CountIncludePad: includePad);
            Check(t => Ops.AvgPool2d(t[0], g), [Random(new Random(window * stride), 2, 3, 7, 6)]);
        }
    }

    [Fact]
    public void GlobalAvgPool2d() => Check(t => Ops.GlobalAvgPool2d(t[0]), [Random(new Random(5), 2, 3, 5, 4)]);

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 5, 4)]
    [InlineData(7, 17, 9)]
    public void Linear(int n, int inFeatures, int outFeatures)
    {
        var rng = new Random(n + inFeatures);
        Check(t => Ops.Linear(t[0], t[1], t[2]), [Random(rng, n, inFeatures), Random(rng, outFeatures, inFeatures), Random(rng, outFeatures)]);
    }

    [Fact]
    public void Relu() => Check(t => Ops.Relu(t[0]), [Distinct(new Random(6), 0.05f, 3, 5, 7)]);

    [Fact]
    public void LeakyRelu() => Check(t => Ops.LeakyRelu(t[0], 0.1f), [Distinct(new Random(7), 0.05f, 3, 5, 7)]);

    [Fact]
    public void LeakyReluWithNegativeAlpha() => Check(t => Ops.LeakyRelu(t[0], -0.3f), [Distinct(new Random(17), 0.05f, 3, 5, 7)]);

    [Fact]
    public void Sigmoid() => Check(t => Ops.Sigmoid(t[0]), [Random(new Random(8), -3f, 3f, 4, 9)]);

    [Fact]
    public void Tanh() => Check(t => Ops.Tanh(t[0]), [Random(new Random(9), -2f, 2f, 4, 9)]);

    [Fact]
    public void Softmax() => Check(t => Ops.Softmax(t[0]), [Random(new Random(10), -2f, 2f, 5, 7)]);

    [Fact]
    public void Dropout() => Check(t => Ops.Dropout(t[0], 0.4f, new Random(42)), [Random(new Random(11), 6, 9)]);

    [Fact]
    public void AddMultiplyReshape()
    {
        var rng = new Random(12);
        Check(t => Ops.Reshape(Ops.Multiply(Ops.Add(t[0], t[1]), t[1]), 6, 4), [Random(rng, 2, 3, 4), Random(rng, 2, 3, 4)]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BatchNorm2d(bool training)
    {
        var rng = new Random(13);
        var mean = Random(rng, 3); var variance = Random(rng, 0.5f, 2f, 3);
        Check(t => Ops.BatchNorm2d(t[0], t[1], t[2], mean.Clone(), variance.Clone(), training, 1e-5f, 0.1f),
            [Random(rng, 4, 3, 3, 5), Random(rng, 0.5f, 1.5f, 3), Random(rng, 3)], absoluteTolerance: 5e-3);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.1f)]
    public void SoftmaxCrossEntropy(float smoothing)
    {
        int[] labels = [2, 0, 4, 1];
        Check(t => Ops.SoftmaxCrossEntropy(t[0], labels, smoothing, out _), [Random(new Random(14), -2f, 2f, 4, 5)], absoluteTolerance: 5e-4);
    }

    [Fact]
    public void MeanSquaredError()
    {
        var target = Random(new Random(15), 3, 4);
        Check(t => Ops.MeanSquaredError(t[0], target), [Random(new Random(16), 3, 4)], absoluteTolerance: 5e-4);
    }

    [Fact]
    public void BinaryCrossEntropy()
    {
        var target = Random(new Random(17), 0f, 1f, 3, 4);
        Check(t => Ops.BinaryCrossEntropy(t[0], target), [Random(new Random(18), 0.2f, 0.8f, 3, 4)], absoluteTolerance: 5e-4);
    }
}
