using Fovea.Layers;
using G = Fovea.Onnx.Tests.GraphBuilder;

namespace Fovea.Onnx.Tests;

/// <summary>HardSigmoid, HardSwish and PRelu (no shared conformance cases) imported as a few Fovea layers and checked
/// against ONNX Runtime, in the blocks they appear in: a MobileNetV3-style squeeze-and-excitation block and a PReLU CNN.</summary>
public class CompositeOperatorTests
{
    private static Models.Model Check(Proto.ModelProto proto, int[] inputShape)
    {
        var bytes = G.Bytes(proto);
        var x = RoundTripTests.RandomInput(21, inputShape);
        for (int i = 0; i < x.Length; i++) x.Span[i] *= 4; // past both bends of the hard sigmoid
        var model = OnnxImporter.Import(bytes, "composite");
        var expected = RoundTripTests.Run(bytes, x);
        Assert.Equal(expected.Length, model.Predict(x).Length);
        Assert.True(RoundTripTests.MaxAbsDiff(expected, model.Predict(x).Span) <= 1e-5);
        Assert.True(RoundTripTests.MaxAbsDiff(expected, RoundTripTests.Run(OnnxExporter.ToBytes(model), x)) <= 1e-5, "exported again");
        return model;
    }

    [Fact]
    public void SqueezeAndExcitationWithHardActivationsMatchesOnnxRuntime()
    {
        // x → HardSwish → (GlobalAveragePool → HardSigmoid) scales the channels of the same tensor.
        var g = new G(14, -1, 4, 5, 6);
        g.Node("HardSwish", ["x"], "h");
        g.Node("GlobalAveragePool", ["h"], "pooled");
        g.Node("HardSigmoid", ["pooled"], "gate", G.Float("alpha", 0.3f), G.Float("beta", 0.4f));
        g.Node("Mul", ["h", "gate"], "y");
        Check(g.Build("y", -1, 4, 5, 6), [3, 4, 5, 6]);
    }

    [Theory]
    [InlineData(new long[] { 3, 1, 1 })]    // PyTorch's nn.PReLU(3)
    [InlineData(new long[] { 1 })]          // nn.PReLU(): one slope
    [InlineData(new long[] { 1, 3, 1, 1 })] // the batch axis spelt out
    public void PReluMatchesOnnxRuntimeAndItsSlopeIsLearned(long[] slopeShape)
    {
        int count = (int)slopeShape.Aggregate(1L, (p, d) => p * d);
        var g = new G(13, -1, 3, 4, 4).Floats("slope", Enumerable.Range(0, count).Select(i => 0.1f + 0.2f * i).ToArray(), slopeShape);
        g.Node("PRelu", ["x", "slope"], "y");
        var model = Check(g.Build("y", -1, 3, 4, 4), [2, 3, 4, 4]);
        var slope = Assert.Single(model.Layers.OfType<ConstantArithmetic>(), l => l.LearnConstant);
        Assert.Equal(count, slope.Constant.Length);
        Assert.Contains(model.TrainableParameters, p => p.Value.Length == count);
    }

    [Fact]
    public void APReluSlopeAcrossTheBatchIsRefused()
    {
        var g = new G(13, -1, 3).Floats("slope", [0.1f, 0.2f], 2, 1);
        g.Node("PRelu", ["x", "slope"], "y");
        Assert.Throws<OnnxBatchAxisException>(() => OnnxImporter.Import(G.Bytes(g.Build("y", -1, 3)), "prelu.onnx"));
    }
}

/// <summary>1-D convolution (a 2-D one over [C, 1, L]) checked against ONNX Runtime; the shared cases are all 2-D.</summary>
public class Conv1dTests
{
    [Theory]
    [InlineData(1, 1, 1, "NOTSET", 1, 2)]
    [InlineData(2, 1, 1, "SAME_UPPER", 0, 0)]
    [InlineData(1, 2, 1, "NOTSET", 2, 0)]
    [InlineData(2, 1, 3, "SAME_LOWER", 0, 0)] // depthwise
    public void Conv1dMatchesOnnxRuntime(int stride, int dilation, int group, string autoPad, int padBegin, int padEnd)
    {
        var rng = new Random(stride * 7 + dilation * 3 + group);
        int filters = group == 3 ? 6 : 4, perGroup = 3 / group;
        var g = new G(13, -1, 3, 11)
            .Floats("w", Enumerable.Range(0, filters * perGroup * 3).Select(_ => rng.NextSingle() - 0.5f).ToArray(), filters, perGroup, 3)
            .Floats("b", Enumerable.Range(0, filters).Select(_ => rng.NextSingle()).ToArray(), filters);
        var conv = g.Node("Conv", ["x", "w", "b"], "c", G.Ints("strides", stride), G.Ints("dilations", dilation), G.Int("group", group), G.Str("auto_pad", autoPad));
        if (autoPad == "NOTSET") conv.Attribute.Add(G.Ints("pads", padBegin, padEnd));
        g.Node("Relu", ["c"], "y");
        var bytes = G.Bytes(g.Build("y", -1, filters, -1));
        var x = RoundTripTests.RandomInput(5, 2, 3, 11);
        var model = OnnxImporter.Import(bytes, "conv1d");
        var expected = RoundTripTests.Run(bytes, x);
        Assert.Equal(expected.Length, model.Predict(x).Length);
        Assert.True(RoundTripTests.MaxAbsDiff(expected, model.Predict(x).Span) <= 1e-5);
        Assert.True(RoundTripTests.MaxAbsDiff(expected, RoundTripTests.Run(OnnxExporter.ToBytes(model), x)) <= 1e-5, "exported again");
    }

    [Fact]
    public void AWeightOfOtherRankThanTheDataIsRefused()
    {
        var g = new G(13, -1, 3, 11).Floats("w", new float[4 * 3 * 3 * 3], 4, 3, 3, 3);
        g.Node("Conv", ["x", "w"], "y");
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(G.Bytes(g.Build("y", -1, 4, 9)), "conv.onnx"));
        Assert.Contains("is for 2-D data but a sample has shape", e.Message);
    }
}
