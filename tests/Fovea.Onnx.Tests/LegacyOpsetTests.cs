using Fovea.Onnx.Proto;
using G = Fovea.Onnx.Tests.GraphBuilder;

namespace Fovea.Onnx.Tests;

/// <summary>Hand-built models at opsets below 11 (attribute forms of Clip, Pad, Dropout; BatchNormalization spatial;
/// Softmax and LogSoftmax coerced to 2-D) imported by Fovea and checked against ONNX Runtime's outputs.</summary>
public class LegacyOpsetTests(ITestOutputHelper output)
{
    private void Check(ModelProto proto, long[] inputShape, int seed)
    {
        var bytes = G.Bytes(proto);
        var x = RoundTripTests.RandomInput(seed, inputShape.Select(d => (int)d).ToArray());
        for (int i = 0; i < x.Length; i++) x.Span[i] *= 3; // reach both sides of the clip and activation kinks
        var expected = RoundTripTests.Run(bytes, x);
        var model = OnnxImporter.Import(bytes, $"opset{proto.OpsetImport[0].Version}");
        double diff = RoundTripTests.MaxAbsDiff(expected, model.Predict(x).Span);
        output.WriteLine($"opset {proto.OpsetImport[0].Version}: max |diff| vs ONNX Runtime {diff:G3}");
        Assert.True(diff <= 1e-5, $"max |diff| {diff}");
    }

    /// <summary>Pad (attributes) → BatchNormalization → Clip (attributes) → Dropout (ratio attribute) → LeakyRelu → Elu → Softmax.</summary>
    private static ModelProto Chain(int opset, string padMode, long softmaxAxis, bool spatialAttribute)
    {
        var g = new G(opset, -1, 2, 4, 5)
            .Floats("scale", [1.5f, 0.5f], 2).Floats("bias", [0.1f, -0.2f], 2).Floats("mean", [0.3f, -0.1f], 2).Floats("var", [0.8f, 1.4f], 2);
        g.Node("Pad", ["x"], "p", G.Ints("pads", 0, 0, 1, 2, 0, 0, 2, 1), G.Str("mode", padMode), G.Float("value", 0.25f));
        var bn = g.Node("BatchNormalization", ["p", "scale", "bias", "mean", "var"], "b", G.Float("epsilon", 1e-3f));
        if (spatialAttribute) bn.Attribute.Add(G.Int("spatial", 1));
        g.Node("Clip", ["b"], "c", G.Float("min", -0.5f), G.Float("max", 0.7f));
        g.Node("Dropout", ["c"], "d", G.Float("ratio", 0.3f));
        g.Node("LeakyRelu", ["d"], "l", G.Float("alpha", -0.5f));
        g.Node("Elu", ["l"], "e", G.Float("alpha", -0.7f));
        g.Node("Softmax", ["e"], "y", G.Int("axis", softmaxAxis));
        return g.Build("y", -1, 2, 7, 8);
    }

    [Theory]
    [InlineData(7, "constant", 1L)]
    [InlineData(7, "edge", 2L)]
    [InlineData(9, "reflect", 1L)]
    [InlineData(9, "constant", 3L)]
    [InlineData(10, "edge", 1L)]
    [InlineData(10, "reflect", 2L)]
    public void AttributeFormsMatchOnnxRuntime(int opset, string padMode, long softmaxAxis)
    {
        // BatchNormalization's spatial attribute exists until opset 8.
        Check(Chain(opset, padMode, softmaxAxis, spatialAttribute: opset < 9), [3, 2, 4, 5], seed: opset * 10 + (int)softmaxAxis);
    }

    /// <summary>
    /// LogSoftmax before opset 13 coerces its input to 2-D: [prod(dims[..axis]), prod(dims[axis..])], axis 1 by default, so
    /// it normalises over every axis from <c>axis</c> on together (not over one axis as from opset 13).
    /// </summary>
    [Theory]
    [InlineData(7, null)]
    [InlineData(9, 2L)]
    [InlineData(10, 3L)]
    [InlineData(11, 1L)]
    [InlineData(11, -2L)]
    [InlineData(12, -1L)]
    [InlineData(12, null)]
    public void LogSoftmaxCoercedTo2DMatchesOnnxRuntime(int opset, long? axis)
    {
        var g = new G(opset, -1, 2, 3, 4);
        // A scale first, so the log-probabilities differ in size and the coerced axis groups really matter.
        g.Floats("scale", [1f, 2f, -1.5f, 0.5f], 4);
        g.Node("Mul", ["x", "scale"], "m");
        var node = g.Node("LogSoftmax", ["m"], "y");
        if (axis is { } a) node.Attribute.Add(G.Int("axis", a));
        Check(g.Build("y", -1, 2, 3, 4), [3, 2, 3, 4], seed: opset * 10 + (int)(axis ?? 0));
    }

    [Fact]
    public void LogSoftmaxOverTheBatchBeforeOpset13IsRefused()
    {
        var g = new G(11, -1, 3);
        g.Node("LogSoftmax", ["x"], "y", G.Int("axis", 0));
        Assert.Throws<OnnxBatchAxisException>(() => OnnxImporter.Import(G.Bytes(g.Build("y", -1, 3)), "batch.onnx"));
    }

    [Theory]
    [InlineData(7)]
    [InlineData(8)]
    public void BatchNormSpatialZeroUsesOneStatisticPerActivation(int opset)
    {
        // scale, B, mean and var shaped like a sample [2, 3, 3]: every activation has its own statistics.
        var rng = new Random(opset);
        float[] Values(float low, float high) => Enumerable.Range(0, 18).Select(_ => low + (high - low) * rng.NextSingle()).ToArray();
        var g = new G(opset, -1, 2, 3, 3).Floats("s", Values(0.5f, 1.5f), 2, 3, 3).Floats("b", Values(-1, 1), 2, 3, 3)
            .Floats("m", Values(-1, 1), 2, 3, 3).Floats("v", Values(0.2f, 2f), 2, 3, 3);
        g.Node("BatchNormalization", ["x", "s", "b", "m", "v"], "y", G.Int("spatial", 0), G.Float("epsilon", 1e-3f));
        Check(g.Build("y", -1, 2, 3, 3), [4, 2, 3, 3], seed: opset);

        // Per-channel statistics ([2]) under spatial = 0 do not describe every activation: refused, naming the shapes.
        var h = new G(opset, -1, 2, 3, 3).Floats("s", [1, 1], 2).Floats("b", [0, 0], 2).Floats("m", [0, 0], 2).Floats("v", [1, 1], 2);
        h.Node("BatchNormalization", ["x", "s", "b", "m", "v"], "y", G.Int("spatial", 0));
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(G.Bytes(h.Build("y", -1, 2, 3, 3)), "spatial.onnx"));
        Assert.Contains("spatial = 0: scale has shape [2]; one value per activation of a sample (2, 3, 3) expected", e.Message);

        // A negative variance would give NaN constants: refused, naming the entry.
        var v = Enumerable.Repeat(1f, 18).ToArray();
        v[5] = -2f;
        var n = new G(opset, -1, 2, 3, 3).Floats("s", Values(0.5f, 1.5f), 2, 3, 3).Floats("b", Values(-1, 1), 2, 3, 3)
            .Floats("m", Values(-1, 1), 2, 3, 3).Floats("v", v, 2, 3, 3);
        n.Node("BatchNormalization", ["x", "s", "b", "m", "v"], "y", G.Int("spatial", 0));
        var negative = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(G.Bytes(n.Build("y", -1, 2, 3, 3)), "negative.onnx"));
        Assert.Contains("var[5] = -2", negative.Message);
    }

    [Fact]
    public void NegativeAlphasMatchOnnxRuntimeAtCurrentOpsets()
    {
        var g = new G(13, -1, 6);
        g.Node("LeakyRelu", ["x"], "l", G.Float("alpha", -1.5f));
        g.Node("Elu", ["l"], "y", G.Float("alpha", -0.4f));
        Check(g.Build("y", -1, 6), [4, 6], seed: 3);
    }
}

/// <summary>Batch-first imports of forms that keep the batch axis once resolved, checked against ONNX Runtime.</summary>
public class BatchAxisFormTests
{
    private static void Check(Proto.ModelProto proto, int[] inputShape)
    {
        var bytes = G.Bytes(proto);
        var x = RoundTripTests.RandomInput(9, inputShape);
        var model = OnnxImporter.Import(bytes, "forms");
        Assert.True(RoundTripTests.MaxAbsDiff(RoundTripTests.Run(bytes, x), model.Predict(x).Span) <= 1e-5);
    }

    [Fact]
    public void MatMulWithALeadingOneInBIsPerSample()
    {
        var rng = new Random(2);
        var g = new G(13, -1, 3, 4).Floats("b", Enumerable.Range(0, 8).Select(_ => rng.NextSingle()).ToArray(), 1, 4, 2);
        g.Node("MatMul", ["x", "b"], "y");
        Check(g.Build("y", -1, 3, 2), [5, 3, 4]);
        // Two leading axes would move the batch axis: still refused.
        var h = new G(13, -1, 3, 4).Floats("b", new float[8], 1, 1, 4, 2);
        h.Node("MatMul", ["x", "b"], "y");
        Assert.Throws<OnnxBatchAxisException>(() => OnnxImporter.Import(G.Bytes(h.Build("y", 1, -1, 3, 2)), "two.onnx"));
    }

    [Fact]
    public void AGraphMixingItsDynamicBatchAxisImportsWholeAsOneSample()
    {
        // Softmax over axis 0 mixes the batch: refused batch-first, with the way out named for library and command line.
        var g = new G(13, -1, 4);
        g.Node("Softmax", ["x"], "y", G.Int("axis", 0));
        var bytes = G.Bytes(g.Build("y", -1, 4));
        var e = Assert.Throws<OnnxBatchAxisException>(() => OnnxImporter.Import(bytes, "mix.onnx"));
        Assert.Contains("FirstAxisIsBatch = false (command line: fovea import --whole-input)", e.Message);
        // Taken whole, the symbolic batch axis is 1: the sample is [1, 4], as ONNX Runtime runs it with one row.
        var model = OnnxImporter.Import(bytes, "mix.onnx", new OnnxImportOptions { FirstAxisIsBatch = false });
        Assert.Equal([1, 4], model.InputShape);
        var x = RoundTripTests.RandomInput(4, 1, 1, 4);
        Assert.True(RoundTripTests.MaxAbsDiff(RoundTripTests.Run(bytes, x.View(1, 4)), model.Predict(x).Span) <= 1e-6);
    }

    [Fact]
    public void ReshapeZeroEntriesResolveBeforeTheBatchCheck()
    {
        var g = new G(13, -1, 2, 3, 4).Longs("shape", -1, 0, 12);
        g.Node("Reshape", ["x", "shape"], "y");
        Check(g.Build("y", -1, 2, 12), [3, 2, 3, 4]);
    }
}
