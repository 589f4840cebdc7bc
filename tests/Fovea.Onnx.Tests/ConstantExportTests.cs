using Fovea.Layers;
using Fovea.Models;

namespace Fovea.Onnx.Tests;

/// <summary>
/// ConstantTensor layers (which the importer makes for a constant operand of Concat or Where) export as an initializer
/// expanded to the batch, and ONNX Runtime gives Fovea's outputs at every batch size.
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

    [Fact]
    public void TheConstantIsOneInitializerNotABatchOfCopies()
    {
        var proto = OnnxExporter.Build(ConstantConcatModel(), 13);
        var value = proto.Graph.Initializer.Single(t => t.Name == "const_map.value");
        Assert.Equal([1L, 2, 5, 5], value.Dims);
        Assert.Contains(proto.Graph.Node, n => n.OpType == "Expand" && n.Output[0] == "const_map");
    }
}
