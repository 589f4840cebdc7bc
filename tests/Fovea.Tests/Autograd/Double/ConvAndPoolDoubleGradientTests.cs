using Fovea.Autograd;
using Fovea.Kernels;
using Fovea.Tensors;
using static Fovea.Tests.Autograd.Double.DoubleGradientCheck;

namespace Fovea.Tests.Autograd.Double;

/// <summary>Convolution, dense and pooling ops against their double twins at every input, weight and bias element.</summary>
public class ConvAndPoolDoubleGradientTests
{
    // N, C, H, W, K, R, S, strideH, strideW, pads (t, l, b, r), dilationH, dilationW, groups
    public static TheoryData<string, int[]> ConvCases => new()
    {
        { "odd sizes, batch 2, pad 1", [2, 3, 5, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1] },
        { "stride 2, valid", [1, 2, 7, 6, 3, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1] },
        { "dilation 2, groups 2, pad 2", [2, 4, 6, 6, 4, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 2] },
        { "depthwise", [1, 4, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4] },
        { "depthwise x2 multiplier, stride 2", [2, 2, 7, 5, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2] },
        { "1x1", [2, 3, 4, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1] },
        { "1x1 stride 2", [1, 3, 6, 5, 2, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1] },
        { "asymmetric pads, 2x3 kernel, stride 3", [1, 1, 5, 4, 2, 2, 3, 3, 3, 1, 0, 2, 1, 1, 1, 1] },
        { "non-square stride and dilation, groups 2", [2, 2, 7, 5, 4, 3, 2, 2, 1, 0, 1, 1, 0, 1, 2, 2] },
        { "kernel as large as the input", [2, 2, 3, 4, 3, 3, 4, 1, 1, 0, 0, 0, 0, 1, 1, 1] },
    };

    private static (Conv2dShape Geometry, LinearTwins.ConvSpec Spec, Tensor[] Inputs) Conv(int[] p, int seed)
    {
        var g = new Conv2dShape(0, 0, 0, 0, 0, 0, 0, p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]);
        var spec = new LinearTwins.ConvSpec(p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]);
        return (g, spec, [Random(seed, p[0], p[1], p[2], p[3]), Random(seed + 1, p[4], p[1] / p[15], p[5], p[6]), Random(seed + 2, p[4])]);
    }

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Conv2dWithBias(string name, int[] p)
    {
        var (g, spec, inputs) = Conv(p, name.Length);
        Check(t => Ops.Conv2d(t[0], t[1], t[2], g),
            d => LinearTwins.Conv2d(d[0], inputs[0].Shape, d[1], inputs[1].Shape, d[2], spec), inputs);
    }

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Conv2dWithoutBiasAndFusedRelu(string name, int[] p)
    {
        var (g, spec, inputs) = Conv(p, name.Length + 100);
        Check(t => Ops.Conv2d(t[0], t[1], null, g, relu: true),
            d => LinearTwins.Conv2d(d[0], inputs[0].Shape, d[1], inputs[1].Shape, null, spec, relu: true), inputs[..2]);
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 5, 4)]
    [InlineData(7, 17, 9)]
    public void Linear(int n, int inFeatures, int outFeatures)
    {
        Tensor[] inputs = [Random(n, n, inFeatures), Random(n + 1, outFeatures, inFeatures), Random(n + 2, outFeatures)];
        Check(t => Ops.Linear(t[0], t[1], t[2]), d => LinearTwins.Linear(d[0], n, inFeatures, d[1], outFeatures, d[2]), inputs);
        Check(t => Ops.Linear(t[0], t[1], null), d => LinearTwins.Linear(d[0], n, inFeatures, d[1], outFeatures, null), inputs[..2]);
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
        Tensor[] inputs = [Random(a.Sum(), a), Random(b.Sum() + 50, b)];
        Check(t => Ops.MatMul(t[0], t[1]), d => LinearTwins.MatMul(d[0], a, d[1], b, out _), inputs);
    }

    // window (h, w), stride (h, w), pads (t, l, b, r), dilation (h, w), ceil
    public static TheoryData<string, int[], bool> PoolCases => new()
    {
        { "2x2 stride 2", [2, 2, 2, 2, 0, 0, 0, 0, 1, 1], false },
        { "3x3 stride 2, overlapping", [3, 3, 2, 2, 0, 0, 0, 0, 1, 1], false },
        { "3x3 stride 1, pad 1", [3, 3, 1, 1, 1, 1, 1, 1, 1, 1], false },
        { "2x2 stride 3, asymmetric pads, ceil", [2, 2, 3, 3, 1, 0, 0, 1, 1, 1], true },
        { "3x3 stride 2, pad 1, ceil", [3, 3, 2, 2, 1, 1, 1, 1, 1, 1], true },
        { "2x3 window, stride (1, 2), dilation (2, 1)", [2, 3, 1, 2, 0, 1, 1, 0, 2, 1], false },
        { "1x1 window, stride 2", [1, 1, 2, 2, 0, 0, 0, 0, 1, 1], false },
    };

    private static (Pool2dShape, PoolTwins.PoolSpec) Pool(int[] p, bool ceil, bool includePad) =>
        (new Pool2dShape(0, 0, 0, 0, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], ceil, includePad),
         new PoolTwins.PoolSpec(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], ceil, includePad));

    [Theory]
    [MemberData(nameof(PoolCases))]
    public void MaxPool2dOnDistinctValues(string name, int[] p, bool ceil)
    {
        var (g, spec) = Pool(p, ceil, false);
        var x = Distinct(name.Length, 2, 3, 7, 6);
        Check(t => Ops.MaxPool2d(t[0], g), d => PoolTwins.MaxPool2d(d[0], x.Shape, spec), [x]);
    }

    [Theory]
    [MemberData(nameof(PoolCases))]
    public void AvgPool2dWithAndWithoutCountIncludePad(string name, int[] p, bool ceil)
    {
        foreach (bool includePad in new[] { false, true })
        {
            var (g, spec) = Pool(p, ceil, includePad);
            var x = Random(name.Length, 2, 3, 7, 6);
            Check(t => Ops.AvgPool2d(t[0], g), d => PoolTwins.AvgPool2d(d[0], x.Shape, spec), [x]);
        }
    }

    [Fact]
    public void GlobalAvgAndMaxPool2d()
    {
        var x = Distinct(5, 2, 3, 5, 4);
        Check(t => Ops.GlobalAvgPool2d(t[0]), d => PoolTwins.GlobalPool(d[0], x.Shape, max: false), [x]);
        Check(t => Ops.GlobalMaxPool2d(t[0]), d => PoolTwins.GlobalPool(d[0], x.Shape, max: true), [x]);
    }
}
