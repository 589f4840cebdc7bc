using G = Fovea.Onnx.Tests.GraphBuilder;

namespace Fovea.Onnx.Tests;

/// <summary>ReduceMean, Squeeze and Unsqueeze (the shared conformance set has no cases for them): hand-built models in
/// their attribute and input forms, checked against ONNX Runtime, and the forms that would mix the batch axis refused.</summary>
public class ReduceSqueezeTests
{
    private static void Check(Proto.ModelProto proto, int[] inputShape, int seed)
    {
        var bytes = G.Bytes(proto);
        var x = RoundTripTests.RandomInput(seed, inputShape);
        var model = OnnxImporter.Import(bytes, "reduce-squeeze");
        var expected = RoundTripTests.Run(bytes, x);
        Assert.Equal(expected.Length, model.Predict(x).Length);
        Assert.True(RoundTripTests.MaxAbsDiff(expected, model.Predict(x).Span) <= 1e-5);
        // Exported again (ReduceSum and Mul, Reshape) it still gives ONNX Runtime's values.
        var exported = OnnxExporter.ToBytes(model);
        Assert.True(RoundTripTests.MaxAbsDiff(expected, RoundTripTests.Run(exported, x)) <= 1e-5);
    }

    [Theory]
    [InlineData(11)] // every axes list an attribute
    [InlineData(13)] // Squeeze/Unsqueeze axes an input, ReduceMean's still an attribute
    [InlineData(18)] // ReduceMean's axes an input too
    public void GlobalMeanSqueezedAndUnsqueezedMatchesOnnxRuntime(int opset)
    {
        var g = new G(opset, -1, 3, 4, 5);
        bool axesInput = opset >= 13, reduceAxesInput = opset >= 18;
        if (reduceAxesInput) g.Longs("mean_axes", 2, 3);
        if (axesInput) g.Longs("squeeze_axes", -1, 2).Longs("unsqueeze_axes", 2);
        var mean = g.Node("ReduceMean", reduceAxesInput ? ["x", "mean_axes"] : ["x"], "m", G.Int("keepdims", 1));
        if (!reduceAxesInput) mean.Attribute.Add(G.Ints("axes", 2, 3));
        var squeeze = g.Node("Squeeze", axesInput ? ["m", "squeeze_axes"] : ["m"], "s");
        if (!axesInput) squeeze.Attribute.Add(G.Ints("axes", -1, 2));
        var unsqueeze = g.Node("Unsqueeze", axesInput ? ["s", "unsqueeze_axes"] : ["s"], "u");
        if (!axesInput) unsqueeze.Attribute.Add(G.Ints("axes", 2));
        g.Node("Relu", ["u"], "y");
        Check(g.Build("y", -1, 3, 1), [2, 3, 4, 5], seed: opset);
    }

    [Fact]
    public void MeanOverTheLastAxisWithoutKeepingItMatchesOnnxRuntime()
    {
        var g = new G(13, -1, 3, 7);
        g.Node("ReduceMean", ["x"], "y", G.Ints("axes", -1), G.Int("keepdims", 0));
        Check(g.Build("y", -1, 3), [4, 3, 7], seed: 5);
    }

    [Fact]
    public void FormsThatWouldMixTheBatchAxisOrAreWrongAreRefusedNamingThem()
    {
        static Exception Import(Action<G> build, params long[] outputShape)
        {
            var g = new G(13, -1, 3, 1);
            build(g);
            return Assert.ThrowsAny<OnnxImportException>(() => OnnxImporter.Import(G.Bytes(g.Build("y", outputShape)), "bad.onnx"));
        }
        Assert.IsType<OnnxBatchAxisException>(Import(g => g.Longs("a", 0).Node("Squeeze", ["x", "a"], "y"), 3, 1));
        Assert.IsType<OnnxBatchAxisException>(Import(g => g.Node("Squeeze", ["x"], "y"), 3));
        Assert.IsType<OnnxBatchAxisException>(Import(g => g.Longs("a", 0).Node("Unsqueeze", ["x", "a"], "y"), 1, -1, 3, 1));
        Assert.Contains("axis 1 has size 3", Import(g => g.Longs("a", 1).Node("Squeeze", ["x", "a"], "y"), -1, 1).Message);
        Assert.Contains("axis 4 is out of range for rank 3", Import(g => g.Longs("a", 4).Node("Squeeze", ["x", "a"], "y"), -1, 3).Message);
        Assert.Contains("axis 2 is given twice", Import(g => g.Longs("a", 2, 2).Node("Unsqueeze", ["x", "a"], "y"), -1, 3, 1, 1, 1).Message);
    }
}
