using Fovea.Autograd;
using Fovea.Kernels;
using Fovea.Tensors;
using static Fovea.Tests.Autograd.Double.DoubleGradientCheck;
using E = Fovea.Tests.Autograd.Double.ElementwiseTwins;

namespace Fovea.Tests.Autograd.Double;

/// <summary>
/// Branches of the ops that the shapes in <see cref="ElementwiseDoubleGradientTests"/> and
/// <see cref="ConvAndPoolDoubleGradientTests"/> do not reach: broadcast runs where the scalar is the left operand or both
/// operands repeat, a clip whose bounds cross, pads beside crops on every axis, long softmax rows, class weights without
/// smoothing, batch norm on vector-sized planes, convolutions that take the transposed and pointwise GEMM forwards, and
/// pooling on rows longer than a vector. Each against its double twin at every input element.
/// </summary>
public class BranchDoubleGradientTests
{
    public static TheoryData<string, int[], int[], BinaryOp> BroadcastBranches => new()
    {
        // a's innermost axis repeats, b's runs: the run is s (op) b (the "reversed" scalar kernel).
        { "scalar on the left, subtract", [2, 3, 1], [1, 5], BinaryOp.Subtract },
        { "scalar on the left, divide", [2, 3, 1], [1, 5], BinaryOp.Divide },
        { "scalar on the left, add", [3, 1], [2, 1, 9], BinaryOp.Add },
        // Both innermost axes repeat: the element-by-element run.
        { "both repeat innermost, multiply", [2, 3, 1], [3, 1], BinaryOp.Multiply },
        { "both repeat innermost, divide", [4, 1], [2, 1, 1], BinaryOp.Divide },
        // Same shapes: the whole-tensor vector kernel.
        { "same shape, subtract", [3, 11], [3, 11], BinaryOp.Subtract },
        { "same shape, multiply", [3, 11], [3, 11], BinaryOp.Multiply },
        { "same shape, divide", [3, 11], [3, 11], BinaryOp.Divide },
        { "same shape, maximum", [3, 11], [3, 11], BinaryOp.Maximum },
        { "scalar on the right, maximum", [2, 9], [2, 1], BinaryOp.Maximum },
    };

    [Theory]
    [MemberData(nameof(BroadcastBranches))]
    public void BroadcastRunKinds(string name, int[] a, int[] b, BinaryOp op)
    {
        // Divisors in [0.5, 1.5]; maximum on two disjoint halves of one distinct set (no ties).
        Tensor ta, tb;
        if (op == BinaryOp.Maximum)
        {
            int na = Nd.Size(a), nb = Nd.Size(b);
            var all = Distinct(name.Length, na + nb).ToArray();
            ta = Tensor.FromArray(all[..na], a);
            tb = Tensor.FromArray(all[na..], b);
        }
        else
        {
            ta = Random(name.Length, a);
            tb = op == BinaryOp.Divide ? Uniform(new Random(name.Length + 1), 0.5f, 1.5f, b) : Random(name.Length + 1, b);
        }
        Check(t => Ops.Broadcast(t[0], t[1], op), d => E.Broadcast(d[0], a, d[1], b, op), [ta, tb]);
    }

    [Fact]
    public void LessIsAComparisonWithoutGradient()
    {
        int[] a = [2, 3, 4], b = [3, 1];
        var all = Distinct(8, 27).ToArray();
        double[] Twin(double[][] d)
        {
            var shape = Nd.BroadcastShape(a, b);
            var y = new double[Nd.Size(shape)];
            for (int i = 0; i < y.Length; i++)
            {
                var idx = Nd.Unravel(i, shape);
                y[i] = d[0][Nd.BroadcastOffset(idx, a)] < d[1][Nd.BroadcastOffset(idx, b)] ? 1 : 0;
            }
            return y;
        }
        Check(t => Ops.Broadcast(t[0], t[1], BinaryOp.Less), Twin, [Tensor.FromArray(all[..24], a), Tensor.FromArray(all[24..], b)]);
    }

    [Fact]
    public void ClipWithCrossedBoundsIsTheConstantMax() =>
        // ONNX Clip: min > max gives max everywhere, so no gradient reaches x.
        Check(t => Ops.Clip(t[0], 0.4f, -0.2f), d => E.Map(d[0], _ => -0.2f), [Distinct(3, 4, 5)]);

    public static TheoryData<PadMode> Modes => new() { PadMode.Constant, PadMode.Reflect, PadMode.Edge, PadMode.Wrap };

    [Theory]
    [MemberData(nameof(Modes))]
    public void PadBesideACropOnEveryAxis(PadMode mode)
    {
        // Axis 0 only cropped at the end; axis 1 cropped at the start, padded at the end; axes 2 and 3 padded at the start
        // and cropped at the end (the other way round from ElementwiseDoubleGradientTests), by more than one element.
        int[] shape = [2, 4, 5, 6], before = [0, -1, 2, 1], after = [-1, 2, -2, -3];
        Check(t => Ops.Pad(t[0], before, after, mode, -0.75f), d => ShapeTwins.Pad(d[0], shape, before, after, mode, -0.75), [Random(21, shape)]);
    }

    [Fact]
    public void PadThatOnlyCropsBothEnds()
    {
        int[] shape = [3, 7], before = [-1, -2], after = [0, -3];
        foreach (var mode in new[] { PadMode.Constant, PadMode.Reflect })
            Check(t => Ops.Pad(t[0], before, after, mode), d => ShapeTwins.Pad(d[0], shape, before, after, mode, 0), [Random(22, shape)]);
    }

    [Theory]
    [InlineData(1, 37)]
    [InlineData(3, 64)]
    [InlineData(4, 1)]
    public void SoftmaxAndLogSoftmaxOnLongRows(int rows, int cols)
    {
        // Rows longer than a vector (with a tail), and a single column (softmax 1, gradient 0).
        Check(t => Ops.Softmax(t[0]), d => E.Softmax(d[0], [rows, cols], 1), [Uniform(new Random(cols), -3f, 3f, rows, cols)]);
        Check(t => Ops.SoftmaxAlong(t[0], 1, log: true), d => E.Softmax(d[0], [rows, cols], 1, log: true), [Uniform(new Random(cols + 1), -3f, 3f, rows, cols)]);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.2f)]
    public void ClassWeightedCrossEntropyOnRowsLongerThanAVector(float smoothing)
    {
        // 19 classes (two vectors and a tail), a class of weight 0 present in the batch and a weight-1 default elsewhere.
        int[] labels = [3, 18, 0, 3, 7, 11, 18];
        var weights = Enumerable.Range(0, 19).Select(k => k == 0 ? 0f : k % 3 == 0 ? 2.5f : 1f).ToArray();
        weights[18] = 0.25f;
        Check(t => Ops.SoftmaxCrossEntropy(t[0], labels, smoothing, weights, out _),
            d => [LossTwins.SoftmaxCrossEntropy(d[0], 7, 19, labels, smoothing, weights)], [Uniform(new Random(19), -2f, 2f, 7, 19)]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BatchNormOnPlanesLongerThanAVector(bool training)
    {
        int[] shape = [3, 2, 5, 7];
        var rng = new Random(31);
        var mean = Uniform(rng, -0.5f, 0.5f, 2); var variance = Uniform(rng, 0.5f, 2f, 2);
        double[] m = ToDouble(mean), v = ToDouble(variance);
        Check(t => Ops.BatchNorm2d(t[0], t[1], t[2], mean.Clone(), variance.Clone(), training, 1e-5f, 0.1f),
            d => NormalizationTwins.BatchNorm(d[0], shape, d[1], d[2], m, v, training, 1e-5f),
            [Random(32, shape), Uniform(rng, 0.5f, 1.5f, 2), Random(33, 2)]);
    }

    // N, C, H, W, K, R, S, strideH, strideW, pads (t, l, b, r), dilationH, dilationW, groups
    public static TheoryData<string, int[]> ConvForwardPaths => new()
    {
        // 36 taps (> the direct kernel's 32), 9 pixels, 20 filters: the transposed product Yᵀ = colsᵀ·Wᵀ.
        { "transposed product", [1, 4, 3, 3, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1] },
        // 1x1 stride 1 with 40 channels: the pointwise GEMM straight on the input (no im2col).
        { "pointwise GEMM", [2, 40, 3, 4, 6, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1] },
        // Stride 1, 5 channels x 3x3 = 45 taps: im2col + GEMM on a stride-1 layer.
        { "im2col stride 1, 45 taps", [2, 5, 5, 6, 3, 3, 3, 1, 1, 1, 0, 1, 2, 1, 1, 1] },
        // Direct kernel on a row longer than two vectors (flat plane with junk columns).
        { "direct, wide row", [1, 2, 4, 21, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1] },
    };

    [Theory]
    [MemberData(nameof(ConvForwardPaths))]
    public void Conv2dForwardPaths(string name, int[] p)
    {
        var g = new Conv2dShape(0, 0, 0, 0, 0, 0, 0, p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]);
        var spec = new LinearTwins.ConvSpec(p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]);
        int seed = name.Length;
        Tensor[] inputs = [Random(seed, p[0], p[1], p[2], p[3]), Random(seed + 1, p[4], p[1] / p[15], p[5], p[6]), Random(seed + 2, p[4])];
        Check(t => Ops.Conv2d(t[0], t[1], t[2], g), d => LinearTwins.Conv2d(d[0], inputs[0].Shape, d[1], inputs[1].Shape, d[2], spec), inputs);
        Check(t => Ops.Conv2d(t[0], t[1], null, g, relu: true),
            d => LinearTwins.Conv2d(d[0], inputs[0].Shape, d[1], inputs[1].Shape, null, spec, relu: true), inputs[..2]);
    }

    [Theory]
    [InlineData(2, 2, 2, 2, 0)] // the vectorised 2x2 stride-2 kernel, rows of 18 outputs (vector steps and a tail)
    [InlineData(3, 3, 2, 2, 1)] // overlapping windows with padding
    [InlineData(3, 2, 1, 3, 0)] // stride 3 across the row, windows of 2
    public void PoolingOnRowsLongerThanAVector(int kh, int kw, int sh, int sw, int pad)
    {
        int[] shape = [2, 2, 6, 37];
        var max = new Pool2dShape(0, 0, 0, 0, kh, kw, sh, sw, pad, pad, pad, pad);
        var avg = max with { CountIncludePad = false };
        var spec = new PoolTwins.PoolSpec(kh, kw, sh, sw, pad, pad, pad, pad);
        var x = Distinct(kh * 10 + sw, shape);
        Check(t => Ops.MaxPool2d(t[0], max), d => PoolTwins.MaxPool2d(d[0], shape, spec), [x]);
        Check(t => Ops.AvgPool2d(t[0], avg), d => PoolTwins.AvgPool2d(d[0], shape, spec), [Random(kh + sw, shape)]);
    }

    [Fact]
    public void ReduceOverEveryAxisAndOverTheBatchAxis()
    {
        int[] shape = [3, 4, 5];
        var x = Distinct(40, shape);
        Check(t => Ops.Reduce(t[0], [0, 1, 2], keepDims: false, ReduceKind.Sum), d => ShapeTwins.Reduce(d[0], shape, [0, 1, 2], max: false), [x]);
        Check(t => Ops.Reduce(t[0], [0, 1, 2], keepDims: true, ReduceKind.Max), d => ShapeTwins.Reduce(d[0], shape, [0, 1, 2], max: true), [x]);
        Check(t => Ops.Reduce(t[0], [0], keepDims: false, ReduceKind.Max), d => ShapeTwins.Reduce(d[0], shape, [0], max: true), [x]);
    }
}
