using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Tensors;
using static Fovea.Tests.Autograd.Double.DoubleGradientCheck;
using E = Fovea.Tests.Autograd.Double.ElementwiseTwins;

namespace Fovea.Tests.Autograd.Double;

/// <summary>
/// Layers (their own geometry resolution, parameter layout and per-sample axes) and a residual graph model, against double
/// twins at every input and parameter element. Twins receive d[0] = the batch and d[1..] = the trainable parameters in order.
/// </summary>
public class LayerDoubleGradientTests
{
    public sealed record Case(string Id, Func<Layer> Create, int[] SampleShape, bool DistinctInput, Func<Layer, int[], double[][], double[]> Twin)
    {
        public override string ToString() => Id;
    }

    private static LinearTwins.ConvSpec ConvSpec(Conv2D c, int[] x)
    {
        (int t, int b) = Pads(c.Padding, x[2], c.KernelSize.Height, c.Stride.Height, c.Dilation.Height, vertical: true);
        (int l, int r) = Pads(c.Padding, x[3], c.KernelSize.Width, c.Stride.Width, c.Dilation.Width, vertical: false);
        return new(c.Stride.Height, c.Stride.Width, t, l, b, r, c.Dilation.Height, c.Dilation.Width, c.Groups);
    }

    // "same" from the Keras definition (LinearTwins.SamePadding), explicit and valid as written.
    private static (int, int) Pads(Padding p, int input, int kernel, int stride, int dilation, bool vertical) => p.Mode switch
    {
        PaddingMode.Same => LinearTwins.SamePadding(input, kernel, stride, dilation),
        PaddingMode.Valid => (0, 0),
        _ => vertical ? (p.Top, p.Bottom) : (p.Left, p.Right),
    };

    private static double[] ConvTwin(Layer layer, int[] x, double[][] d)
    {
        var c = (Conv2D)layer;
        return LinearTwins.Conv2d(d[0], x, d[1], c.Weight.Shape, c.UseBias ? d[2] : null, ConvSpec(c, x));
    }

    private static PoolTwins.PoolSpec PoolSpec(Pool2DBase p, int[] x, bool includePad)
    {
        (int t, int b) = Pads(p.Padding, x[2], p.PoolSize.Height, p.Stride.Height, p.Dilation.Height, vertical: true);
        (int l, int r) = Pads(p.Padding, x[3], p.PoolSize.Width, p.Stride.Width, p.Dilation.Width, vertical: false);
        return new(p.PoolSize.Height, p.PoolSize.Width, p.Stride.Height, p.Stride.Width, t, l, b, r, p.Dilation.Height, p.Dilation.Width, p.CeilMode, includePad);
    }

    private static readonly Case[] s_cases =
    [
        new("conv same, odd input", () => new Conv2D(4, 3, padding: Padding.Same), [3, 7, 5], false, ConvTwin),
        new("conv same, stride 2 (asymmetric pads)", () => new Conv2D(3, (3, 2), (2, 2), Padding.Same, (1, 1)), [2, 6, 7], false, ConvTwin),
        new("conv explicit pads, stride 2, dilation 2, groups 2", () => new Conv2D(6, (3, 3), (2, 2), Padding.Of(1, 2, 0, 1), (2, 2), groups: 2), [4, 9, 8], false, ConvTwin),
        new("conv 1x1 without bias", () => new Conv2D(5, 1, useBias: false), [3, 4, 3], false, ConvTwin),
        new("conv depthwise same", () => new Conv2D(4, 3, padding: Padding.Same, groups: 4), [4, 5, 6], false, ConvTwin),
        new("maxpool 2", () => new MaxPool2D(2), [3, 7, 6], true, (l, x, d) => PoolTwins.MaxPool2d(d[0], x, PoolSpec((Pool2DBase)l, x, false))),
        new("maxpool 3 stride 2 pad 1 ceil", () => new MaxPool2D(3, stride: 2, padding: 1, ceilMode: true), [2, 8, 7], true, (l, x, d) => PoolTwins.MaxPool2d(d[0], x, PoolSpec((Pool2DBase)l, x, false))),
        new("maxpool same, dilation 2", () => new MaxPool2D(2, stride: 1, padding: Padding.Same) { Dilation = (2, 2) }, [2, 5, 6], true, (l, x, d) => PoolTwins.MaxPool2d(d[0], x, PoolSpec((Pool2DBase)l, x, false))),
        new("avgpool same", () => new AvgPool2D(2, padding: Padding.Same), [3, 5, 5], false, (l, x, d) => PoolTwins.AvgPool2d(d[0], x, PoolSpec((Pool2DBase)l, x, false))),
        new("avgpool count_include_pad", () => new AvgPool2D(3, stride: 1, padding: 1, countIncludePad: true), [2, 4, 5], false, (l, x, d) => PoolTwins.AvgPool2d(d[0], x, PoolSpec((Pool2DBase)l, x, true))),
        new("avgpool 3 stride 2 ceil include pad", () => new AvgPool2D(3, stride: 2, padding: 1, ceilMode: true, countIncludePad: true), [2, 6, 5], false, (l, x, d) => PoolTwins.AvgPool2d(d[0], x, PoolSpec((Pool2DBase)l, x, true))),
        new("global avg", () => new GlobalAvgPool2D(), [5, 3, 4], false, (l, x, d) => PoolTwins.GlobalPool(d[0], x, max: false)),
        new("global max keepdims", () => new GlobalMaxPool2D(keepDims: true), [3, 3, 4], true, (l, x, d) => PoolTwins.GlobalPool(d[0], x, max: true)),
        new("dense", () => new Dense(7), [11], false, (l, x, d) => LinearTwins.Linear(d[0], x[0], 11, d[1], 7, d[2])),
        new("dense without bias", () => new Dense(4, useBias: false), [6], false, (l, x, d) => LinearTwins.Linear(d[0], x[0], 6, d[1], 4, null)),
        new("batchnorm", () => new BatchNorm2D(), [3, 4, 3], false, (l, x, d) => BatchNorm((BatchNorm2D)l, x, d, true)),
        new("flatten", () => new Flatten(), [2, 3, 4], false, (l, x, d) => d[0]),
        new("reshape", () => new Fovea.Layers.Reshape([4, 6]), [2, 3, 4], false, (l, x, d) => d[0]),
        new("transpose", () => new Fovea.Layers.Transpose([2, 0, 1]), [2, 3, 4], false, (l, x, d) => ShapeTwins.Transpose(d[0], x, [0, 3, 1, 2])),
        new("pad reflect", () => new Fovea.Layers.Pad([0, 1, 2], [0, 2, 1], PadMode.Reflect), [2, 4, 3], false, (l, x, d) => ShapeTwins.Pad(d[0], x, [0, 0, 1, 2], [0, 0, 2, 1], PadMode.Reflect, 0)),
        new("reduce max over last axis", () => new Fovea.Layers.Reduce(ReduceKind.Max, [-1]), [3, 5], true, (l, x, d) => ShapeTwins.Reduce(d[0], x, [2], max: true)),
        new("log-softmax over channels", () => new AxisSoftmax(0, log: true), [4, 2, 3], false, (l, x, d) => E.Softmax(d[0], x, 1, log: true)),
        new("softmax", () => new Softmax(), [6], false, (l, x, d) => E.Softmax(d[0], x, 1)),
        new("relu", () => new ReLU(), [3, 4, 4], true, (l, x, d) => E.Map(d[0], E.Relu)),
        new("sigmoid", () => new Sigmoid(), [6], false, (l, x, d) => E.Map(d[0], E.Sigmoid)),
        new("tanh", () => new Tanh(), [6], false, (l, x, d) => E.Map(d[0], Math.Tanh)),
        new("leaky relu", () => new LeakyReLU(0.2f), [3, 4, 4], true, (l, x, d) => E.Map(d[0], v => E.LeakyRelu(v, 0.2f))),
        new("elu", () => new Fovea.Layers.Elu(1.3f), [3, 4], true, (l, x, d) => E.Map(d[0], v => E.Elu(v, 1.3f))),
        new("clip", () => new Fovea.Layers.Clip(-0.5f, 0.25f), [3, 4], true, (l, x, d) => E.Map(d[0], v => E.Clip(v, -0.5f, 0.25f))),
        new("learned constant, c / x", () => new ConstantArithmetic(BinaryOp.Divide, [3, 1, 1], constantFirst: true, learnConstant: true), [3, 2, 2], false,
            (l, x, d) => E.Broadcast(d[1], [3, 1, 1], d[0], x, BinaryOp.Divide)),
        new("matmul on samples of rank 2", () => new Fovea.Layers.MatMul([2, 4, 3]), [5, 4], false, (l, x, d) => LinearTwins.MatMul(d[0], [x[0], 1, 5, 4], d[1], [2, 4, 3], out _)),
        new("in-sample batchnorm", () => new InSampleBatchNorm(1e-3f), [3, 2, 2, 3], false, InSampleBatchNormTwin),
        new("in-sample batchnorm, [N, C] samples", () => new InSampleBatchNorm(), [4, 3], false, InSampleBatchNormTwin),
        new("in-sample mean", () => new InSampleBatchMoment(variance: false), [3, 2, 4], false, (l, x, d) => InSampleMomentTwin(x, d[0], variance: false)),
        new("in-sample variance", () => new InSampleBatchMoment(variance: true), [3, 2, 4], false, (l, x, d) => InSampleMomentTwin(x, d[0], variance: true)),
    ];

    /// <summary>Each sample [N, C, ...] is a whole batch normalised by its own statistics: the batch-norm twin in training mode, sample by sample.</summary>
    private static double[] InSampleBatchNormTwin(Layer layer, int[] x, double[][] d)
    {
        int size = d[0].Length / x[0], c = x[2];
        var y = new double[d[0].Length];
        for (int s = 0; s < x[0]; s++)
            NormalizationTwins.BatchNorm(d[0][(s * size)..((s + 1) * size)], x[1..], d[1], d[2], new double[c], new double[c], true, ((InSampleBatchNorm)layer).Epsilon)
                .CopyTo(y, s * size);
        return y;
    }

    /// <summary>Per sample and channel: the mean, or the biased variance, over N and the spatial positions.</summary>
    private static double[] InSampleMomentTwin(int[] x, double[] d, bool variance)
    {
        int b = x[0], n = x[1], c = x[2], hw = d.Length / (b * n * c);
        var y = new double[b * c];
        for (int s = 0; s < b; s++)
            for (int ch = 0; ch < c; ch++)
            {
                var values = Enumerable.Range(0, n).SelectMany(i => Enumerable.Range(0, hw).Select(j => d[((s * n + i) * c + ch) * hw + j])).ToArray();
                double mean = values.Average();
                y[s * c + ch] = variance ? values.Average(v => (v - mean) * (v - mean)) : mean;
            }
        return y;
    }

    private static double[] BatchNorm(BatchNorm2D bn, int[] x, double[][] d, bool training) =>
        NormalizationTwins.BatchNorm(d[0], x, d[1], d[2], ToDouble(bn.RunningMean), ToDouble(bn.RunningVariance), training, bn.Epsilon);

    public static TheoryData<Case> Cases { get { var t = new TheoryData<Case>(); foreach (var c in s_cases) t.Add(c); return t; } }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LayerMatchesItsDoubleTwin(Case c)
    {
        var layer = c.Create();
        layer.Build([c.SampleShape], new Random(3));
        int[] x = [2, .. c.SampleShape];
        var parameters = layer.Parameters.Where(p => !p.IsBuffer).Select(p => p.Value).ToArray();
        // Random parameters (not the initial zeros and ones), so every gradient is exercised.
        for (int i = 0; i < parameters.Length; i++) parameters[i].CopyFrom(Uniform(new Random(10 + i), 0.5f, 1.5f, parameters[i].Shape).Span);
        var input = c.DistinctInput ? Distinct(c.Id.Length, x) : Random(c.Id.Length, x);
        if (c.Id.StartsWith("learned constant")) input = Tensor.FromArray(input.ToArray().Select(v => v + 2).ToArray(), x); // divisor away from 0
        var inputCopy = input;
        Check(t => layer.Forward([t[0]], training: true), d => c.Twin(layer, x, d), [inputCopy, .. parameters]);
    }

    [Fact]
    public void BatchNormLayerInInferenceUsesRunningStatistics()
    {
        var bn = new BatchNorm2D();
        bn.Build([[3, 2, 5]], new Random(1));
        bn.RunningMean.CopyFrom(Random(2, 3).Span);
        bn.RunningVariance.CopyFrom(Uniform(new Random(3), 0.5f, 2f, 3).Span);
        bn.Gamma.CopyFrom(Uniform(new Random(4), 0.5f, 1.5f, 3).Span);
        int[] x = [4, 3, 2, 5];
        Check(t => bn.Forward([t[0]], training: false), d => BatchNorm(bn, x, d, training: false), [Random(5, x), bn.Gamma, bn.Beta]);
    }

    [Fact]
    public void ConcatAndAddLayersOnTwoInputs()
    {
        var concat = new Fovea.Layers.Concat(-1);
        concat.Build([[2, 3, 2], [2, 3, 4]], new Random(1));
        Check(t => concat.Forward([t[0], t[1]], training: true), d => ShapeTwins.Concat(d, [[2, 2, 3, 2], [2, 2, 3, 4]], 3), [Random(1, 2, 2, 3, 2), Random(2, 2, 2, 3, 4)]);
        var add = new Fovea.Layers.Add();
        add.Build([[3, 4], [3, 4]], new Random(1));
        Check(t => add.Forward([t[0], t[1]], training: true), d => d[0].Select((v, i) => v + d[1][i]).ToArray(), [Random(3, 2, 3, 4), Random(4, 2, 3, 4)]);
    }

    /// <summary>
    /// MatMulPair, gradients to both computed inputs. The twin sees the per-sample operands as the layer lays them out:
    /// a vector becomes a row (a) or a column (b) with 1s behind the batch axis, so batch axes pair with batch axes.
    /// </summary>
    [Theory]
    [InlineData(new[] { 3, 4 }, new[] { 4, 2 }, new[] { 3, 4 }, new[] { 4, 2 })]
    [InlineData(new[] { 2, 3, 4 }, new[] { 4 }, new[] { 2, 3, 4 }, new[] { 1, 4, 1 })]
    [InlineData(new[] { 4 }, new[] { 2, 4, 3 }, new[] { 1, 1, 4 }, new[] { 2, 4, 3 })]
    [InlineData(new[] { 2, 1, 3, 4 }, new[] { 3, 4, 5 }, new[] { 2, 1, 3, 4 }, new[] { 1, 3, 4, 5 })]
    [InlineData(new[] { 4 }, new[] { 4 }, new[] { 1, 4 }, new[] { 4, 1 })] // a dot product: one scalar per sample
    public void MatMulPairOfTwoComputedInputs(int[] a, int[] b, int[] twinA, int[] twinB)
    {
        const int n = 2;
        var layer = new MatMulPair();
        layer.Build([a, b], new Random(1));
        var expectedShape = layer.ComputeOutputShape([a, b]);
        Check(t =>
        {
            var y = layer.Forward([t[0], t[1]], training: true);
            Assert.Equal([n, .. expectedShape], y.Shape);
            return y;
        }, d => LinearTwins.MatMul(d[0], [n, .. twinA], d[1], [n, .. twinB], out _), [Random(5, [n, .. a]), Random(6, [n, .. b])]);
    }

    /// <summary>
    /// A residual graph checked end to end: a = ReLU(Conv(x)) (the model fuses this pair), b = ReLU(BN(Conv(a))),
    /// c = Add(a, b) — a feeds two layers, so its gradient is the sum of two paths — then AvgPool, Flatten, Dense.
    /// BatchNorm in training mode, so its batch statistics are part of the function.
    /// </summary>
    [Fact]
    public void ResidualGraphWithBatchNormReluAndAddMatchesItsDoubleTwin()
    {
        var model = new Model([3, 6, 5], "residual", seed: 7);
        var conv1 = new Conv2D(4, 3, padding: Padding.Same);
        var conv2 = new Conv2D(4, (3, 3), (1, 1), Padding.Of(1, 0, 1, 2), (1, 1));
        var bn = new BatchNorm2D();
        var dense = new Dense(3);
        model.Add(conv1);
        var a = model.Add(new ReLU());
        model.Add(conv2, a);
        model.Add(bn);
        var b = model.Add(new ReLU());
        model.Add(new Fovea.Layers.Add(), a, b);
        model.Add(new AvgPool2D(2));
        model.Add(new Flatten());
        model.Add(dense);
        var parameters = model.Parameters.Where(p => !p.IsBuffer).Select(p => p.Value).ToArray();
        for (int i = 0; i < parameters.Length; i++) parameters[i].CopyFrom(Uniform(new Random(20 + i), -0.6f, 0.6f, parameters[i].Shape).Span);
        Assert.Equal([conv1.Weight, conv1.Bias!, conv2.Weight, conv2.Bias!, bn.Gamma, bn.Beta, dense.Weight, dense.Bias!], parameters);

        int[] xs = [2, 3, 6, 5], fs = [2, 4, 6, 5];
        double[] Twin(double[][] d)
        {
            var ya = LinearTwins.Conv2d(d[0], xs, d[1], [4, 3, 3, 3], d[2], new(1, 1, 1, 1, 1, 1, 1, 1, 1), relu: true);
            var yc = LinearTwins.Conv2d(ya, fs, d[3], [4, 4, 3, 3], d[4], new(1, 1, 1, 0, 1, 2, 1, 1, 1));
            var yb = E.Map(NormalizationTwins.BatchNorm(yc, fs, d[5], d[6], new double[4], new double[4], true, bn.Epsilon), E.Relu);
            var sum = ya.Select((v, i) => v + yb[i]).ToArray();
            var pooled = PoolTwins.AvgPool2d(sum, fs, new(2, 2, 2, 2));
            return LinearTwins.Linear(pooled, 2, 4 * 3 * 2, d[7], 3, d[8]);
        }
        Check(t => model.Forward(t[0], training: true), Twin, [Random(8, xs), .. parameters]);
    }
}
