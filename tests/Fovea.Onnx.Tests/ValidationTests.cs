using Fovea.Onnx.Proto;
using G = Fovea.Onnx.Tests.GraphBuilder;

namespace Fovea.Onnx.Tests;

/// <summary>Malformed attributes and shapes are refused with an OnnxImportException naming the node and the received value.</summary>
public class ValidationTests
{
    private static OnnxImportException Refused(ModelProto m, string source = "bad.onnx") =>
        Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(G.Bytes(m), source));

    private static ModelProto Conv(params AttributeProto[] attributes)
    {
        var g = new G(13, -1, 2, 8, 8).Floats("w", new float[3 * 2 * 3 * 3], 3, 2, 3, 3);
        g.Node("Conv", ["x", "w"], "y", attributes);
        return g.Build("y", -1, 3, 8, 8);
    }

    private static ModelProto Pool(string op, params AttributeProto[] attributes)
    {
        var g = new G(13, -1, 2, 8, 8);
        g.Node(op, ["x"], "y", attributes);
        return g.Build("y", -1, 2, 8, 8);
    }

    [Fact]
    public void ZeroStridesWithSamePaddingAreRefusedNotDividedBy()
    {
        var e = Refused(Conv(G.Ints("strides", 0, 0), G.Str("auto_pad", "SAME_UPPER")));
        Assert.Contains("strides [0, 0] must be positive; received 0", e.Message);
        Assert.Contains("conv_0", e.Message);
        e = Refused(Pool("MaxPool", G.Ints("kernel_shape", 2, 2), G.Ints("strides", 0, 1), G.Str("auto_pad", "SAME_LOWER")));
        Assert.Contains("strides [0, 1]", e.Message);
        e = Refused(Pool("AveragePool", G.Ints("kernel_shape", 2, -3)));
        Assert.Contains("kernel_shape [2, -3] must be positive; received -3", e.Message);
        e = Refused(Conv(G.Ints("dilations", 1, 0)));
        Assert.Contains("dilations [1, 0]", e.Message);
        e = Refused(Conv(G.Int("group", 0)));
        Assert.Contains("group must be positive; received 0", e.Message);
    }

    [Fact]
    public void ConstantWithoutTensorIsRefused()
    {
        var g = new G(13, -1, 3);
        g.Node("Constant", [], "c", new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor });
        g.Node("Add", ["x", "c"], "y");
        var e = Refused(g.Build("y", -1, 3));
        Assert.Contains("'value' holds no tensor", e.Message);
        Assert.Contains("constant_0", e.Message);
    }

    [Theory]
    [InlineData("pads", 4294967296L)]
    [InlineData("group", 4294967297L)]
    [InlineData("strides", -4294967295L)]
    public void SixtyFourBitConvAttributesAreNotTruncated(string attribute, long value)
    {
        var attr = attribute == "group" ? G.Int(attribute, value) : attribute == "pads" ? G.Ints(attribute, value, 0, 0, 0) : G.Ints(attribute, value, 1);
        var e = Refused(Conv(attr));
        Assert.Contains($"{attribute} value {value} is outside the 32-bit integer range", e.Message);
        Assert.Contains("conv_0", e.Message);
    }

    [Fact]
    public void SixtyFourBitPoolAndPadValuesAreNotTruncated()
    {
        // 2^32 + 2 would silently become a 2 × 2 window.
        var e = Refused(Pool("MaxPool", G.Ints("kernel_shape", 4294967298L, 2)));
        Assert.Contains("kernel_shape value 4294967298", e.Message);
        var g = new G(13, -1, 2, 4).Longs("pads", 0, 0, 4294967297L, 0, 0, 1);
        g.Node("Pad", ["x", "pads"], "y");
        e = Refused(g.Build("y", -1, 2, 5));
        Assert.Contains("pads value 4294967297", e.Message);
        var t = new G(13, -1, 2, 4);
        t.Node("Transpose", ["x"], "y", G.Ints("perm", 0, 4294967298L, 1));
        Assert.Contains("perm value 4294967298", Refused(t.Build("y", -1, 4, 2)).Message);
    }

    [Fact]
    public void OversizedSamplesAreRefusedNotWrapped()
    {
        var g = new G(13, -1, 100000, 100000, 1000);
        g.Node("Flatten", ["x"], "y", G.Int("axis", 1));
        var e = Refused(g.Build("y", -1, 10000000000000L));
        Assert.Contains("10000000000000 values per sample", e.Message);

        // Each input fits; the concatenation does not.
        var c = new G(13, -1, 40000, 40000);
        c.Node("Concat", ["x", "x"], "y", G.Int("axis", 1));
        e = Refused(c.Build("y", -1, 80000, 40000));
        Assert.Contains("3200000000 values per sample", e.Message);
        Assert.Contains("concat_0", e.Message);

        var d = new G(13, -1, 3, 5000000000L);
        d.Node("Relu", ["x"], "y");
        Assert.Contains("5000000000", Refused(d.Build("y", -1, 3, 5000000000L)).Message);
    }

    /// <summary>Training mode normalises with batch statistics even with Y alone: refused batch-first, imported whole (ExtraOutputImportTests).</summary>
    [Fact]
    public void BatchNormInTrainingModeNeedsTheWholeInputEvenWithOneOutput()
    {
        var g = new G(15, 4, 2, 3, 3).Floats("s", [1, 1], 2).Floats("b", [0, 0], 2).Floats("m", [0, 0], 2).Floats("v", [1, 1], 2);
        g.Node("BatchNormalization", ["x", "s", "b", "m", "v"], "y", G.Int("training_mode", 1));
        var bytes = G.Bytes(g.Build("y", 4, 2, 3, 3));
        var e = Assert.Throws<OnnxBatchAxisException>(() => OnnxImporter.Import(bytes, "bad.onnx"));
        Assert.Contains("training_mode = 1", e.Message);
        Assert.Contains("batchnormalization_0", e.Message);
        var whole = OnnxImporter.Import(bytes, "bad.onnx", new OnnxImportOptions { FirstAxisIsBatch = false });
        Assert.Equal("InSampleBatchNorm", whole.Output.Layer!.TypeName);
    }

    [Fact]
    public void OpsetsAboveTheMaximumAreRefused()
    {
        var g = new G(OnnxImporter.MaxOpset + 1, -1, 3);
        g.Node("Relu", ["x"], "y");
        var e = Refused(g.Build("y", -1, 3), "new.onnx");
        Assert.Contains($"opset {OnnxImporter.MaxOpset + 1}", e.Message);
        Assert.Contains("new.onnx", e.Message);
        var ok = new G(OnnxImporter.MaxOpset, -1, 3);
        ok.Node("Relu", ["x"], "y");
        Assert.Equal([3], OnnxImporter.Import(G.Bytes(ok.Build("y", -1, 3)), "ok.onnx").OutputShape);
    }

    /// <summary>
    /// Constants folded at import (Expand of a constant, arithmetic of two constants) are sized by a few shape values, not
    /// by the file: a 100000 x 100000 Expand of one value took 14 s and 17 GB before it failed.
    /// </summary>
    [Theory]
    [InlineData("Expand")]
    [InlineData("Add")]
    public void HugeFoldedConstantsAreRefusedBeforeAllocating(string op)
    {
        var g = new G(13, -1, 3).Floats("one", [1f], 1).Longs("shape", 100000, 100000)
            .Floats("column", new float[40000], 40000, 1).Floats("row", new float[40000], 1, 40000);
        g.Node(op, op == "Expand" ? ["one", "shape"] : ["column", "row"], "big");
        g.Node("Add", ["x", "big"], "y");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Refused(g.Build("y", -1, 3), "big.onnx");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 100_000_000, $"{(GC.GetAllocatedBytesForCurrentThread() - before) / 1e6:F0} MB allocated");
        Assert.StartsWith($"'big.onnx', node '{op.ToLowerInvariant()}_0' ({op}): ", e.Message);
        Assert.Contains(op == "Expand" ? "[100000, 100000] (10000000000 values)" : "[40000, 40000] (1600000000 values)", e.Message);
    }

    /// <summary>
    /// Expand of a computed value adds zeros of the target shape; they were stored whole, so a 200-byte file expanding
    /// [1, 1] to [30000, 30000] took 3.6 GB to import (and would save as a 3.6 GB model). The zeros now span only the
    /// axes the input does not already fill, and are bounded like other constants made at import.
    /// </summary>
    [Fact]
    public void ExpandStoresZerosOnlyAlongExpandedAxes()
    {
        var small = new G(13, -1, 3, 1, 1).Longs("shape", 3, 5, 7);
        small.Node("Expand", ["x", "shape"], "y");
        var bytes = G.Bytes(small.Build("y", -1, 3, 5, 7));
        var x = RoundTripTests.RandomInput(4, 2, 3, 1, 1);
        var model = OnnxImporter.Import(bytes, "expand.onnx");
        Assert.True(RoundTripTests.MaxAbsDiff(RoundTripTests.Run(bytes, x), model.Predict(x).Span) == 0);
        Assert.Equal(5 * 7, model.Layers.OfType<Layers.ConstantTensor>().Single().Value.Length);

        var huge = new G(13, -1, 1, 1).Longs("shape", 1, 30000, 30000);
        huge.Node("Expand", ["x", "shape"], "y");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Refused(huge.Build("y", -1, 30000, 30000), "huge.onnx");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 100_000_000);
        Assert.StartsWith("'huge.onnx', node 'expand_0' (Expand): ", e.Message);
        Assert.Contains("[30000, 30000] (900000000 values)", e.Message);
    }

    /// <summary>A constant B whose K does not match the input's last axis is refused (its values were spread over the wrong weights).</summary>
    [Theory]
    [InlineData("Gemm", 0)]
    [InlineData("Gemm", 1)]
    [InlineData("MatMul", 0)]
    public void ProductWithMismatchedInnerSizeIsRefused(string op, int transB)
    {
        var g = new G(13, -1, 6).Floats("B", new float[4 * 3], transB == 1 ? [3, 4] : [4, 3]);
        g.Node(op, ["x", "B"], "y", op == "Gemm" ? [G.Int("transB", transB)] : []);
        var e = Refused(g.Build("y", -1, 3), "k.onnx");
        Assert.StartsWith($"'k.onnx', node '{op.ToLowerInvariant()}_0' ({op}): ", e.Message);
        Assert.Contains("B has 4 rows", e.Message);
        Assert.Contains("the input has 6 columns", e.Message);
    }

    /// <summary>
    /// A constant operand with more axes than the whole input puts axes in front of the batch axis (x [N, 3] + c [1, 1, 3]
    /// is [1, N, 3]); it was imported as [N, 3], so a later Softmax over axis 1 normalised features instead of the batch.
    /// </summary>
    [Theory]
    [InlineData("Add", true)]
    [InlineData("Mul", false)]
    [InlineData("Where", true)]
    public void ConstantsWithMoreAxesThanTheInputAreRefused(string op, bool constantFirst)
    {
        var g = new G(13, -1, 3).Floats("c", [0.5f, 1f, 2f], 1, 1, 3).Floats("t", [1f], 1);
        if (op == "Where") g.Node("Where", ["t", "x", "c"], "s");
        else g.Node(op, constantFirst ? ["c", "x"] : ["x", "c"], "s");
        g.Node("Softmax", ["s"], "y", G.Int("axis", 1));
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(G.Bytes(g.Build("y", 1, -1, 3)), "rank.onnx"));
        Assert.StartsWith($"'rank.onnx', node '{op.ToLowerInvariant()}_0' ({op}): ", e.Message);
        Assert.Contains("[1, 1, 3]", e.Message);
    }

    /// <summary>
    /// Imported whole (FirstAxisIsBatch = false), a rank-3 tensor is [N, C, L], not a sample [C, H, W]: BatchNormalization
    /// normalised the N axis as channels and the global pools averaged over C (ONNX Runtime: [N, C, 1], Fovea: [N, 1, 1]).
    /// Fovea's layers for these work per sample, so a whole-input import refuses them.
    /// </summary>
    [Theory]
    [InlineData("BatchNormalization")]
    [InlineData("GlobalAveragePool")]
    [InlineData("GlobalMaxPool")]
    public void ChannelOperatorsOnAWholeInputAreRefused(string op)
    {
        var g = new G(13, 2, 3, 4).Floats("s", [1f, 2f, 3f], 3).Floats("b", [0f, 1f, 2f], 3).Floats("m", [0f, 0.5f, 1f], 3).Floats("v", [1f, 2f, 3f], 3);
        g.Node(op, op == "BatchNormalization" ? ["x", "s", "b", "m", "v"] : ["x"], "y");
        var bytes = G.Bytes(g.Build("y", 2, 3, op == "BatchNormalization" ? 4 : 1));
        var e = Assert.ThrowsAny<OnnxImportException>(() => OnnxImporter.Import(bytes, "whole.onnx", new OnnxImportOptions { FirstAxisIsBatch = false }));
        Assert.StartsWith($"'whole.onnx', node '{op.ToLowerInvariant()}_0' ({op}): ", e.Message);
        Assert.Contains("(2, 3, 4)", e.Message);
    }

    /// <summary>A node with fewer inputs or outputs than its operator needs: the message said only "Specified argument was out of the range of valid values".</summary>
    [Theory]
    [InlineData("Relu", 0, true, "input 0 is missing; the node has 0 inputs")]
    [InlineData("Conv", 1, true, "weight W (input 1) is missing; the node has 1 input")]
    [InlineData("Add", 1, true, "input 1 is missing; the node has 1 input")]
    [InlineData("Reshape", 1, true, "shape (input 1) is missing; the node has 1 input")]
    [InlineData("Pad", 1, true, "pads (input 1) is missing; the node has 1 input")]
    [InlineData("Concat", 0, true, "has no inputs; Concat needs at least one")]
    [InlineData("Relu", 1, false, "has no output; its first output is required")]
    public void MissingInputsAndOutputsAreNamed(string op, int inputs, bool output, string message)
    {
        var g = new G(13, -1, 2, 4, 4).Floats("w", new float[2 * 2 * 9], 2, 2, 3, 3);
        var n = g.Node(op, new[] { "x", "w" }.Take(inputs).ToArray(), "y");
        if (!output) n.Output.Clear();
        var e = Refused(g.Build("y", -1, 2, 4, 4), "arity.onnx");
        Assert.Equal($"'arity.onnx', node '{op.ToLowerInvariant()}_0' ({op}): {message}.", e.Message);
    }

    /// <summary>Every attribute of every node of real exported models set to hostile values: a format error or a model, never a crash.</summary>
    [Fact]
    public void HostileAttributeValuesNeverEscapeAsOtherExceptions()
    {
        long[] hostile = [0, -1, -4294967296L, long.MaxValue, long.MinValue];
        foreach (var model in new[] { RoundTripTests.ResidualModel(), Models.ModelZoo.Reference([1, 28, 28], 10, seed: 1) })
        {
            var proto = OnnxExporter.Build(model, 13);
            for (int n = 0; n < proto.Graph.Node.Count; n++)
                for (int a = 0; a < proto.Graph.Node[n].Attribute.Count; a++)
                    foreach (long v in hostile)
                    {
                        var copy = proto.Clone();
                        var attr = copy.Graph.Node[n].Attribute[a];
                        attr.I = v;
                        for (int k = 0; k < attr.Ints.Count; k++) attr.Ints[k] = v;
                        attr.T = null;
                        var e = Record.Exception(() => OnnxImporter.Import(G.Bytes(copy), "hostile.onnx"));
                        Assert.True(e is null or OnnxImportException, $"{copy.Graph.Node[n].Name}.{attr.Name} = {v}: {e?.GetType().Name}: {e?.Message}");
                    }
        }
    }
}
