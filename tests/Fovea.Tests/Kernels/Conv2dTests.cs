using Fovea.Kernels;

namespace Fovea.Tests.Kernels;

[Collection(DegreeCollection.Name)]
public class Conv2dTests : TwoThreadKernelTests
{
    // Shapes chosen to hit every branch: odd sizes, strides 2/3, (a)symmetric pads, dilation, groups, depthwise,
    // pointwise (no im2col) and strided 1×1, batch 1 (GEMM/group parallel) and batch ≥ 2 (image parallel), C = 1 and 3.
    private static readonly (string Name, Conv2dShape Shape)[] Shapes =
    [
        ("3x3 valid 7x5 N1 C1", new Conv2dShape(1, 1, 7, 5, 2, 3, 3)),
        ("3x3 pad1 7x5 N3 C3", new Conv2dShape(3, 3, 7, 5, 4, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("3x3 stride2 pad1 N2 C3", new Conv2dShape(2, 3, 9, 8, 5, 3, 3, 2, 2, 1, 1, 1, 1)),
        ("3x2 stride(3,2) asym pad N1", new Conv2dShape(1, 2, 10, 11, 3, 3, 2, 3, 2, PadTop: 0, PadLeft: 1, PadBottom: 2, PadRight: 0)),
        ("3x3 stride3 asym pad N3", new Conv2dShape(3, 3, 11, 7, 4, 3, 3, 3, 3, PadTop: 2, PadLeft: 0, PadBottom: 1, PadRight: 2)),
        ("3x3 dilation2 pad2 N3", new Conv2dShape(3, 2, 9, 9, 3, 3, 3, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2, DilationHeight: 2, DilationWidth: 2)),
        ("2x3 stride(2,1) dilation(1,2) N2", new Conv2dShape(2, 3, 8, 9, 2, 2, 3, 2, 1, 1, 0, 0, 1, DilationHeight: 1, DilationWidth: 2)),
        ("groups2 pad1 N2", new Conv2dShape(2, 4, 6, 7, 6, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 2)),
        ("groups2 N1 stride2", new Conv2dShape(1, 4, 7, 5, 4, 3, 3, 2, 2, 1, 1, 1, 1, Groups: 2)),
        ("depthwise C3 N3", new Conv2dShape(3, 3, 7, 5, 3, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 3)),
        ("depthwise x2 multiplier N1", new Conv2dShape(1, 3, 6, 6, 6, 3, 3, 2, 2, 1, 1, 0, 0, Groups: 3)),
        ("1x1 stride1 N3 C5", new Conv2dShape(3, 5, 7, 5, 4, 1, 1)),
        ("1x1 stride1 N1 C3", new Conv2dShape(1, 3, 7, 5, 4, 1, 1)),
        ("1x1 stride2 N2 C3", new Conv2dShape(2, 3, 7, 5, 4, 1, 1, 2, 2)),
        ("1x1 pad1 N1", new Conv2dShape(1, 2, 5, 4, 3, 1, 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("1x1 groups2 N2", new Conv2dShape(2, 4, 5, 3, 6, 1, 1, Groups: 2)),
        ("C1 3x3 pad1 12x12 N3 K8", new Conv2dShape(3, 1, 12, 12, 8, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("5x5 pad2 on 4x4 N2", new Conv2dShape(2, 2, 4, 4, 3, 5, 5, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2)),
        ("2x2 stride3 N2", new Conv2dShape(2, 3, 8, 7, 2, 2, 2, 3, 3)),
        ("kernel = input N1", new Conv2dShape(1, 2, 3, 4, 5, 3, 4)),
        ("C1 3x3 pad1 20x17 N2 K6 (wide rows)", new Conv2dShape(2, 1, 20, 17, 6, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("depthwise dilation2 18x21 N1 (wide rows)", new Conv2dShape(1, 2, 18, 21, 2, 3, 3, PadTop: 2, PadLeft: 1, PadBottom: 0, PadRight: 2, DilationHeight: 2, DilationWidth: 2, Groups: 2)),
        ("1x1 stride1 C40 N2 K6", new Conv2dShape(2, 40, 5, 3, 6, 1, 1)),
        ("bigger 3x3 pad1 16x16 N4 C8 K16", new Conv2dShape(4, 8, 16, 16, 16, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        // Small maps with many filters take the transposed product (Yᵀ = colsᵀ·Wᵀ).
        ("small map many filters 7x7 N2 C16 K128", new Conv2dShape(2, 16, 7, 7, 128, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("1x1 on 4x4 N1 C8 K40", new Conv2dShape(1, 8, 4, 4, 40, 1, 1)),
        // Maps at most 16 wide unfold/fold through masked vector rows: the reference CNN's 14x14, a full 16-wide row,
        // and a 16-wide input whose 18-wide output is too wide for the gathered fold.
        ("3x3 pad1 14x14 N2 C5 K6 (narrow rows)", new Conv2dShape(2, 5, 14, 14, 6, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("3x3 pad1 16x16 N1 C2 K3 (16-wide rows)", new Conv2dShape(1, 2, 16, 16, 3, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("3x3 pad2 5x16 N1 C2 K3 (18-wide output)", new Conv2dShape(1, 2, 5, 16, 3, 3, 3, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2)),
        // Stride-2 rows long enough for the vectorised every-other-column unfolding.
        ("3x3 stride2 pad1 wide rows N2 C3 K4", new Conv2dShape(2, 3, 9, 41, 4, 3, 3, 2, 2, 1, 1, 1, 1)),
        ("7x7 stride2 pad3 wide rows N1 C3 K8", new Conv2dShape(1, 3, 12, 52, 8, 7, 7, 2, 2, 3, 3, 3, 3)),
        // The direct kernel split over threads (from 2M multiply-adds a call): by images and filter blocks, and by groups.
        ("direct split C1 3x3 pad1 28x28 N32 K16", new Conv2dShape(32, 1, 28, 28, 16, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("direct split depthwise 3x3 pad1 C24 64x60 N3", new Conv2dShape(3, 24, 64, 60, 24, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 24)),
    ];

    [Fact]
    public void DirectSplitShapesTakeTheThreadedDirectKernel()
    {
        // Conv2d.ForwardDirect splits its (image, group, 4-filter block) units over threads from SmallItemMacs = 2^21.
        foreach (var (name, s) in Shapes.Where(x => x.Name.StartsWith("direct split", StringComparison.Ordinal)))
        {
            Assert.True(!System.Numerics.Vector.IsHardwareAccelerated || Conv2d.UseDirectForward(s), name);
            long macs = (long)s.Batch * s.OutChannels * s.OutHeight * s.OutWidth * s.InChannelsPerGroup * s.KernelHeight * s.KernelWidth;
            Assert.True(macs >= 1L << 21, $"{name}: {macs} multiply-adds");
        }
    }

    public static TheoryData<int, string> ShapeCases()
    {
        var data = new TheoryData<int, string>();
        for (int i = 0; i < Shapes.Length; i++) data.Add(i, Shapes[i].Name);
        return data;
    }

    private static float[] Random(int length, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (!(Math.Abs(e - a) <= 1e-4f + 1e-4f * Math.Abs(e)))
                Assert.Fail($"{what}: element {i} expected {e} but got {a}.");
        }
    }

    [Theory]
    [MemberData(nameof(ShapeCases))]
    public void ForwardMatchesReference(int index, string name)
    {
        var s = Shapes[index].Shape;
        float[] x = Random(s.InputLength, 1), w = Random(s.WeightLength, 2), b = Random(s.OutChannels, 3);
        foreach (var (useBias, relu) in new[] { (false, false), (true, false), (true, true), (false, true) })
        {
            float[] bias = useBias ? b : [];
            var expected = new float[s.OutputLength];
            var actual = new float[s.OutputLength];
            Array.Fill(expected, float.NaN);
            Array.Fill(actual, float.NaN); // must be overwritten, never read
            Conv2d.ForwardReference(s, x, w, bias, expected, relu);
            Conv2d.Forward(s, x, w, bias, actual, relu);
            AssertClose(expected, actual, $"{name} bias={useBias} relu={relu}");

            // The dispatcher may pick the direct kernel; the im2col/GEMM path must agree too.
            Array.Fill(actual, float.NaN);
            Conv2d.ForwardViaGemm(s, x, w, bias, actual, relu);
            AssertClose(expected, actual, $"{name} via GEMM bias={useBias} relu={relu}");
        }
    }

    [Theory]
    [MemberData(nameof(ShapeCases))]
    public void BackwardInputMatchesReferenceAndAccumulates(int index, string name)
    {
        var s = Shapes[index].Shape;
        float[] dy = Random(s.OutputLength, 4), w = Random(s.WeightLength, 5);
        float[] expected = Random(s.InputLength, 6), actual = Random(s.InputLength, 6);
        Conv2d.BackwardInputReference(s, dy, w, expected);
        Conv2d.BackwardInput(s, dy, w, actual);
        AssertClose(expected, actual, name);
    }

    [Theory]
    [MemberData(nameof(ShapeCases))]
    public void OverwritingBackwardInputIgnoresThePreviousGradient(int index, string name)
    {
        var s = Shapes[index].Shape;
        float[] dy = Random(s.OutputLength, 4), w = Random(s.WeightLength, 5);
        float[] expected = new float[s.InputLength], actual = new float[s.InputLength];
        Array.Fill(actual, float.NaN);
        Conv2d.BackwardInputReference(s, dy, w, expected);
        Conv2d.BackwardInput(s, dy, w, actual, accumulate: false);
        AssertClose(expected, actual, name);
    }

    [Theory]
    [MemberData(nameof(ShapeCases))]
    public void BackwardAfterFusedReluMasksTheGradientByTheOutput(int index, string name)
    {
        // The kernels given the fused ReLU's output must equal the reference on dY zeroed where that output is not positive.
        var s = Shapes[index].Shape;
        float[] x = Random(s.InputLength, 11), w = Random(s.WeightLength, 12), b = Random(s.OutChannels, 13);
        float[] dy = Random(s.OutputLength, 14), y = new float[s.OutputLength];
        Conv2d.ForwardReference(s, x, w, b, y, relu: true);
        Assert.Contains(y, v => v == 0f); // the mask has something to do
        float[] masked = new float[dy.Length];
        for (int i = 0; i < dy.Length; i++) masked[i] = y[i] > 0 ? dy[i] : 0f;

        float[] expectedX = Random(s.InputLength, 15), actualX = (float[])expectedX.Clone();
        Conv2d.BackwardInputReference(s, masked, w, expectedX);
        Conv2d.BackwardInput(s, dy, w, actualX, reluOutput: y);
        AssertClose(expectedX, actualX, name + " input");

        float[] expectedW = Random(s.WeightLength, 16), actualW = (float[])expectedW.Clone();
        float[] expectedB = Random(s.OutChannels, 17), actualB = (float[])expectedB.Clone();
        Conv2d.BackwardWeightReference(s, masked, x, expectedW, expectedB);
        Conv2d.BackwardWeight(s, dy, x, actualW, actualB, reluOutput: y);
        AssertClose(expectedW, actualW, name + " weight");
        AssertClose(expectedB, actualB, name + " bias");
    }

    [Theory]
    [MemberData(nameof(ShapeCases))]
    public void BackwardWeightMatchesReferenceAndAccumulates(int index, string name)
    {
        var s = Shapes[index].Shape;
        float[] dy = Random(s.OutputLength, 7), x = Random(s.InputLength, 8);
        float[] expectedW = Random(s.WeightLength, 9), actualW = Random(s.WeightLength, 9);
        float[] expectedB = Random(s.OutChannels, 10), actualB = Random(s.OutChannels, 10);
        Conv2d.BackwardWeightReference(s, dy, x, expectedW, expectedB);
        Conv2d.BackwardWeight(s, dy, x, actualW, actualB);
        AssertClose(expectedW, actualW, name + " weight");
        AssertClose(expectedB, actualB, name + " bias");

        // Without a bias gradient the weight gradient is unchanged.
        float[] noBiasW = Random(s.WeightLength, 9);
        Conv2d.BackwardWeight(s, dy, x, noBiasW, []);
        AssertClose(expectedW, noBiasW, name + " weight, no bias");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(11)]
    public void BackwardCalledTwiceDoublesTheGradient(int index)
    {
        var s = Shapes[index].Shape;
        float[] dy = Random(s.OutputLength, 11), x = Random(s.InputLength, 12), w = Random(s.WeightLength, 13);
        var dxOnce = new float[s.InputLength];
        var dxTwice = new float[s.InputLength];
        Conv2d.BackwardInput(s, dy, w, dxOnce);
        Conv2d.BackwardInput(s, dy, w, dxTwice);
        Conv2d.BackwardInput(s, dy, w, dxTwice);
        AssertClose(dxOnce.Select(v => 2 * v).ToArray(), dxTwice, "gradInput");

        var dwOnce = new float[s.WeightLength];
        var dbOnce = new float[s.OutChannels];
        var dwTwice = new float[s.WeightLength];
        var dbTwice = new float[s.OutChannels];
        Conv2d.BackwardWeight(s, dy, x, dwOnce, dbOnce);
        Conv2d.BackwardWeight(s, dy, x, dwTwice, dbTwice);
        Conv2d.BackwardWeight(s, dy, x, dwTwice, dbTwice);
        AssertClose(dwOnce.Select(v => 2 * v).ToArray(), dwTwice, "gradWeight");
        AssertClose(dbOnce.Select(v => 2 * v).ToArray(), dbTwice, "gradBias");
    }

    [Fact]
    public void EmptyBatchIsANoOp()
    {
        var s = new Conv2dShape(0, 3, 5, 5, 4, 3, 3);
        var w = new float[s.WeightLength];
        Conv2d.Forward(s, [], w, [], []);
        Conv2d.BackwardInput(s, [], w, []);
        var dw = new float[s.WeightLength];
        Conv2d.BackwardWeight(s, [], [], dw, new float[4]);
        Assert.All(dw, v => Assert.Equal(0f, v));
    }
}
