using Fovea.Layers;
using Fovea.Models;

namespace Fovea.Onnx.Tests;

/// <summary>
/// ConstantTensor layers (which the importer makes for a constant operand of Concat or Where) export as an initializer
/// expanded to the batch, ONNX Runtime gives Fovea's outputs at every batch size, and the file imports back; Expand of a
/// computed tensor and of a constant to a fixed shape import too.
/// </summary>
public class ConstantExportTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    private static void Fill(ConstantTensor layer, int seed)
    {
        var rng = new Random(seed);
        for (int i = 0; i < layer.Value.Length; i++) layer.Value.Span[i] = rng.NextSingle() * 4 - 2;
    }

    /// <summary>A constant feature map concatenated to computed channels, and a constant vector to computed scores.</summary>
    internal static Model ConstantConcatModel()
    {
        var m = new Model([2, 5, 5], "constant_concat", seed: 11);
        var conv = m.Add(new Conv2D(3, 3, padding: 1));
        var constMap = m.Add(new ConstantTensor([2, 5, 5], name: "const_map"), m.Input);
        var maps = m.Add(new Concat(0), conv, constMap);
        var relu = m.Add(new ReLU(), maps);
        var flat = m.Add(new Layers.Flatten(), relu);
        var dense = m.Add(new Dense(4), flat);
        // Anchored on a computed tensor, not the input: N comes from whichever tensor the layer is fed.
        var constVector = m.Add(new ConstantTensor([3], name: "const_vector"), dense);
        m.Add(new Concat(-1), constVector, dense);
        Fill((ConstantTensor)m.Nodes.Single(n => n.Name == "const_map").Layer!, 1);
        Fill((ConstantTensor)m.Nodes.Single(n => n.Name == "const_vector").Layer!, 2);
        return m;
    }

    private void CompareWithOnnxRuntime(Model model, int opset, int batch, int seed)
    {
        var bytes = OnnxExporter.ToBytes(model, opset);
        var x = RoundTripTests.RandomInput(seed, [batch, .. model.InputShape]);
        var expected = model.Predict(x);
        Assert.Equal([batch, .. model.OutputShape], expected.Shape);
        var actual = RoundTripTests.Run(bytes, x);
        double diff = RoundTripTests.MaxAbsDiff(expected.Span, actual);
        output.WriteLine($"{model.Name}, opset {opset}, batch {batch}: ONNX Runtime vs Fovea max |diff| = {diff:G3}");
        Assert.True(diff <= Tolerance, $"{model.Name}, opset {opset}, batch {batch}: max |diff| {diff} > {Tolerance}");
        // Imported again, the Expand of the initializer becomes a ConstantTensor with the same values.
        var back = OnnxImporter.Import(bytes, model.Name);
        Assert.True(RoundTripTests.MaxAbsDiff(expected.Span, back.Predict(x).Span) <= Tolerance);
        Assert.Equal(model.Layers.Count(l => l is ConstantTensor), back.Layers.Count(l => l is ConstantTensor));
    }

    [Theory]
    [InlineData(11)]
    [InlineData(13)]
    [InlineData(18)]
    [InlineData(25)]
    public void ConstantConcatenatedToComputedTensorsMatchesOnnxRuntime(int opset)
    {
        var model = ConstantConcatModel();
        CompareWithOnnxRuntime(model, opset, batch: 1, seed: 3);
        CompareWithOnnxRuntime(model, opset, batch: 3, seed: 4);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(25)]
    public void ConstantAsTheWholeOutputRepeatsPerSample(int opset)
    {
        // The constant alone, of rank 0 (one value per sample) and of rank 2: ONNX Runtime must give N copies.
        foreach (int[] shape in new[] { Array.Empty<int>(), [2, 3] })
        {
            var model = new Model([4], $"constant_rank{shape.Length}");
            var layer = new ConstantTensor(shape);
            model.Add(layer);
            Fill(layer, shape.Length);
            CompareWithOnnxRuntime(model, opset, batch: 1, seed: 5);
            CompareWithOnnxRuntime(model, opset, batch: 3, seed: 6);
        }
    }

    [Theory]
    [InlineData(8)]
    [InlineData(13)]
    public void ExpandOfComputedAndConstantTensorsMatchesOnnxRuntime(int opset)
    {
        // x [N, 3, 1] expanded to [N, 3, 4] (a batch-first target written with 1 for the batch), plus a constant [4]
        // expanded to a fixed [3, 4] and folded at import.
        var g = new GraphBuilder(opset, -1, 3, 1).Longs("to", 1, 3, 4).Longs("fixed", 3, 4).Floats("row", [1f, -2f, 0.5f, 3f], 4);
        g.Node("Expand", ["x", "to"], "e");
        g.Node("Expand", ["row", "fixed"], "c");
        g.Node("Mul", ["e", "c"], "y");
        var bytes = GraphBuilder.Bytes(g.Build("y", -1, 3, 4));
        var x = RoundTripTests.RandomInput(7, 2, 3, 1);
        var model = OnnxImporter.Import(bytes, "expand");
        Assert.True(RoundTripTests.MaxAbsDiff(RoundTripTests.Run(bytes, x), model.Predict(x).Span) <= 1e-6);

        // A target longer than [batch, ...sample] would move the batch axis: refused.
        var h = new GraphBuilder(opset, -1, 3).Longs("to", 2, 1, 3);
        h.Node("Expand", ["x", "to"], "y");
        Assert.Throws<OnnxBatchAxisException>(() => OnnxImporter.Import(GraphBuilder.Bytes(h.Build("y", 2, -1, 3)), "long.onnx"));

        // The batch size at a sample axis (a target [batch] right-aligned against [batch, 3]) is refused, not read as a size.
        var b = new GraphBuilder(opset, -1, 3).Longs("first", 0);
        b.Node("Shape", ["x"], "shape");
        b.Node("Gather", ["shape", "first"], "n", GraphBuilder.Int("axis", 0));
        var unsqueeze = b.Node("Unsqueeze", opset >= 13 ? ["n", "first"] : ["n"], "target");
        if (opset < 13) unsqueeze.Attribute.Add(GraphBuilder.Ints("axes", 0));
        b.Node("Expand", ["x", "target"], "y");
        Assert.Throws<OnnxBatchAxisException>(() => OnnxImporter.Import(GraphBuilder.Bytes(b.Build("y", -1, -1)), "batch.onnx"));

        // A zero size would make an empty sample: refused naming the shape.
        var z = new GraphBuilder(opset, -1, 3).Longs("to", 1, 0);
        z.Node("Expand", ["x", "to"], "y");
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(GraphBuilder.Bytes(z.Build("y", -1, 0)), "zero.onnx"));
        Assert.Contains("shape [1, 0] has a zero dimension", e.Message);
    }

    [Fact]
    public void TheConstantIsOneInitializerNotABatchOfCopies()
    {
        var proto = OnnxExporter.Build(ConstantConcatModel(), 13);
        var value = proto.Graph.Initializer.Single(t => t.Name == "const_map.value");
        Assert.Equal([1L, 2, 5, 5], value.Dims);
        Assert.Contains(proto.Graph.Node, n => n.OpType == "Expand" && n.Output[0] == "const_map");
    }
}
