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
    public void MeanDownToOneValuePerSampleMatchesOnnxRuntime()
    {
        var g = new G(13, -1, 3);
        g.Node("ReduceMean", ["x"], "m", G.Ints("axes", -1), G.Int("keepdims", 0));
        g.Node("Unsqueeze", ["m", "one"], "y");
        g.Longs("one", 1);
        Check(g.Build("y", -1, 1), [4, 3], seed: 6);
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

/// <summary>Shape arithmetic folded at import: the dynamic flatten PyTorch writes for x.view(x.size(0), -1).</summary>
public class ShapeValueTests
{
    private static void Check(Proto.ModelProto proto, int[] inputShape)
    {
        var bytes = G.Bytes(proto);
        var x = RoundTripTests.RandomInput(11, inputShape);
        var model = OnnxImporter.Import(bytes, "view");
        var expected = RoundTripTests.Run(bytes, x);
        Assert.Equal(expected.Length, model.Predict(x).Length);
        Assert.True(RoundTripTests.MaxAbsDiff(expected, model.Predict(x).Span) <= 1e-6);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(13)]
    public void ViewBySizeOfTheBatchMatchesOnnxRuntimeForAnyBatch(int opset)
    {
        var g = new G(opset, -1, 2, 3, 4).Longs("minus_one", -1);
        g.Node("Shape", ["x"], "shape");
        g.Node("Constant", [], "zero").Attribute.Add(new Proto.AttributeProto
        {
            Name = "value", Type = Proto.AttributeProto.Types.AttributeType.Tensor, T = OnnxTensor.FromLongs("zero", [0]),
        });
        g.Node("Gather", ["shape", "zero"], "n", G.Int("axis", 0));
        if (opset >= 13) g.Longs("axes0", 0);
        var unsqueeze = g.Node("Unsqueeze", opset >= 13 ? ["n", "axes0"] : ["n"], "n1");
        if (opset < 13) unsqueeze.Attribute.Add(G.Ints("axes", 0));
        g.Node("Cast", ["n1"], "n1_long", G.Int("to", OnnxTensor.Int64));
        g.Node("Concat", ["n1_long", "minus_one"], "target", G.Int("axis", 0));
        g.Node("Reshape", ["x", "target"], "flat");
        g.Node("Relu", ["flat"], "y");
        var proto = g.Build("y", -1, 24);
        Check(proto, [1, 2, 3, 4]);
        Check(proto, [5, 2, 3, 4]);
    }

    [Fact]
    public void ShapeWithStartAndEndSlicesTheShape()
    {
        // opset 15: Shape(start = -2) gives [3, 4]; Concat([batch], [-1]) keeps the batch as before.
        var g = new G(15, -1, 2, 3, 4).Longs("minus_one", -1);
        g.Node("Shape", ["x"], "batch", G.Int("end", 1));
        g.Node("Shape", ["x"], "last2", G.Int("start", -2));
        g.Node("Concat", ["batch", "minus_one", "last2"], "target", G.Int("axis", 0));
        g.Node("Reshape", ["x", "target"], "y");
        Check(g.Build("y", -1, 2, 3, 4), [3, 2, 3, 4]);
    }

    [Fact]
    public void TheBatchSizeAnywhereButFirstInAReshapeOrAGatherOfComputedValuesIsRefused()
    {
        var g = new G(13, -1, 2, 3).Longs("two", 2).Longs("first", 0);
        g.Node("Shape", ["x"], "shape");
        g.Node("Gather", ["shape", "first"], "n", G.Int("axis", 0));
        g.Node("Concat", ["two", "n"], "target", G.Int("axis", 0));
        g.Node("Reshape", ["x", "target"], "y");
        var e = Assert.Throws<OnnxBatchAxisException>(() => OnnxImporter.Import(G.Bytes(g.Build("y", 2, -1)), "batch.onnx"));
        Assert.Contains("position 1", e.Message);

        // Arithmetic on the batch size, or a float cast of it, is refused in words, not with its internal stand-in value.
        var m = new G(13, -1, 2, 3).Longs("first", 0).Longs("two", 2).Longs("minus_one", -1);
        m.Node("Shape", ["x"], "shape");
        m.Node("Gather", ["shape", "first"], "n", G.Int("axis", 0));
        m.Node("Mul", ["n", "two"], "n2");
        m.Node("Concat", ["n2", "minus_one"], "target", G.Int("axis", 0));
        m.Node("Reshape", ["x", "target"], "y");
        var arithmetic = Assert.Throws<OnnxBatchAxisException>(() => OnnxImporter.Import(G.Bytes(m.Build("y", -1, 3)), "mul.onnx"));
        Assert.Contains("the batch size (unknown when importing) used as arithmetic", arithmetic.Message);
        Assert.DoesNotContain("4000000000000017", arithmetic.Message);

        var h = new G(13, -1, 4).Longs("i", 1);
        h.Node("Gather", ["x", "i"], "y", G.Int("axis", 1));
        Assert.Contains("Gather of computed values", Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(G.Bytes(h.Build("y", -1, 1)), "gather.onnx")).Message);
    }
}
