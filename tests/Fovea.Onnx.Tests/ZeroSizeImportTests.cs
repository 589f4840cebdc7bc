using Fovea.Layers;
using Fovea.Models;
using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;
using G = Fovea.Onnx.Tests.GraphBuilder;
using Tensor = Fovea.Tensors.Tensor;

namespace Fovea.Onnx.Tests;

/// <summary>
/// Empty tensors through the importer: Reshape's allowzero (a 0 in the target is a real 0 with allowzero = 1, a copy of
/// the input's dimension with allowzero = 0), inputs declared with a 0 dimension, and empty batches through an imported
/// network, whose output shapes ONNX Runtime confirms.
/// </summary>
public class ZeroSizeImportTests
{
    private static G ReshapeGraph(long[] input, long[] target, long allowZero)
    {
        var g = new G(14, input).Longs("to", target);
        g.Node("Reshape", ["x", "to"], "y", G.Int("allowzero", allowZero));
        return g;
    }

    /// <summary>The shape ONNX Runtime gives for <paramref name="x"/>.</summary>
    private static int[] RuntimeShape(byte[] onnx, Tensor x)
    {
        using var session = new InferenceSession(onnx);
        var input = new DenseTensor(x.ToArray(), x.Shape);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.First(), input)]);
        return results.First().AsTensor<float>().Dimensions.ToArray();
    }

    [Fact]
    public void AllowZeroMakesAZeroTargetDimensionARealZero()
    {
        // [0, 3, 4] → [3, 4, 0], as the upstream case test_reshape_allowzero_reordered; the input's first axis is
        // reshaped with the others, so it is imported whole (one sample).
        var bytes = G.Bytes(ReshapeGraph([0, 3, 4], [3, 4, 0], allowZero: 1).Build("y", 3, 4, 0));
        Assert.Throws<OnnxBatchAxisException>(() => OnnxImporter.Import(bytes, "allowzero.onnx"));
        var model = OnnxImporter.Import(bytes, "allowzero.onnx", new OnnxImportOptions { FirstAxisIsBatch = false });
        Assert.Equal([0, 3, 4], model.InputShape);
        Assert.Equal([3, 4, 0], model.OutputShape);
        Assert.Equal([1, 3, 4, 0], model.Predict(new Tensor(1, 0, 3, 4)).Shape);
        Assert.Equal([3, 4, 0], RuntimeShape(bytes, new Tensor(0, 3, 4)));
    }

    [Fact]
    public void AllowZeroKeepsAFixedBatchAndGivesEmptySamples()
    {
        // A declared batch of 2 in the first position keeps the batch; the 0 then empties each sample.
        var bytes = G.Bytes(ReshapeGraph([2, 0, 4], [2, 4, 0], allowZero: 1).Build("y", 2, 4, 0));
        var model = OnnxImporter.Import(bytes, "batch.onnx");
        Assert.Equal([0, 4], model.InputShape);
        Assert.Equal([4, 0], model.OutputShape);
        Assert.Equal([2, 4, 0], model.Predict(new Tensor(2, 0, 4)).Shape);
        Assert.Equal([0, 4, 0], model.Predict(new Tensor(0, 0, 4)).Shape);
        Assert.Equal([2, 4, 0], RuntimeShape(bytes, new Tensor(2, 0, 4)));
    }

    [Fact]
    public void WithoutAllowZeroAZeroCopiesTheInputDimensionEvenWhenThatIsZero()
    {
        var bytes = G.Bytes(ReshapeGraph([-1, 0, 4], [0, 0, 2, 2], allowZero: 0).Build("y", -1, 0, 2, 2));
        var model = OnnxImporter.Import(bytes, "copy.onnx");
        Assert.Equal([0, 2, 2], model.OutputShape);
        Assert.Equal([3, 0, 2, 2], model.Predict(new Tensor(3, 0, 4)).Shape);
        Assert.Equal([3, 0, 2, 2], RuntimeShape(bytes, new Tensor(3, 0, 4)));
    }

    [Fact]
    public void AllowZeroOnValuesOrWithMinusOneIsRefusedNamingTheShape()
    {
        var whole = new OnnxImportOptions { FirstAxisIsBatch = false };
        // 24 values cannot take a shape with a real 0.
        var values = G.Bytes(ReshapeGraph([2, 3, 4], [0, 12], allowZero: 1).Build("y", 0, 12));
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(values, "values.onnx", whole));
        Assert.Contains("shape [0, 12] does not hold the 24 values of [2, 3, 4]", e.Message);
        // With allowzero = 1 a -1 next to a 0 has nothing to be inferred from (the specification forbids the pair).
        var both = G.Bytes(ReshapeGraph([0, 3, 4], [-1, 0], allowZero: 1).Build("y", 0, 0));
        Assert.Contains("cannot infer the -1 in [-1, 0]", Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(both, "both.onnx", whole)).Message);
    }

    [Fact]
    public void InputsWithNegativeOrSymbolicSampleDimensionsAreStillRefused()
    {
        // A symbolic size after the batch axis is refused, as before; a 0 is now a size.
        var symbolic = new G(14, -1, -1, 4);
        symbolic.Node("Relu", ["x"], "y");
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(G.Bytes(symbolic.Build("y", -1, -1, 4)), "symbolic.onnx"));
        Assert.Contains("fixed, non-negative sample dimensions", e.Message);
        var empty = new G(14, -1, 0, 4);
        empty.Node("Relu", ["x"], "y");
        Assert.Equal([0, 4], OnnxImporter.Import(G.Bytes(empty.Build("y", -1, 0, 4)), "empty.onnx").OutputShape);
    }

    [Theory]
    [InlineData(14)]
    [InlineData(OnnxExporter.MaxOpset)]
    public void AReshapeToEmptySamplesExportsWithAllowZeroAndImportsBack(int opset)
    {
        // [0, 3, 4] per sample to [3, 4, 0]: a 0 in the target would copy an input axis without allowzero = 1.
        var m = new Model([0, 3, 4], "empty-samples");
        m.Add(new Reshape([3, 4, 0]));
        var bytes = OnnxExporter.ToBytes(m, opset);
        var x = new Tensor(2, 0, 3, 4);
        Assert.Equal([2, 3, 4, 0], RuntimeShape(bytes, x));
        var back = OnnxImporter.Import(bytes, "empty-samples.onnx");
        Assert.Equal([3, 4, 0], back.OutputShape);
        Assert.Equal([2, 3, 4, 0], back.Predict(x).Shape);
        Assert.Equal([0, 3, 4, 0], back.Predict(new Tensor(0, 0, 3, 4)).Shape);
    }

    [Fact]
    public void AReshapeToEmptySamplesBeforeOpset14IsRefusedNamingTheLayer()
    {
        var m = new Model([0, 3, 4], "empty-samples");
        m.Add(new Reshape([3, 4, 0], name: "to_empty"));
        var e = Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(m, 13));
        Assert.Contains("'to_empty'", e.Message);
        Assert.Contains("opset 14", e.Message);
        Assert.Contains("(3, 4, 0)", e.Message);
    }

    [Fact]
    public void AnImportedNetworkRunsAnEmptyBatch()
    {
        var m = new Model([3, 12, 12], "cnn", seed: 4);
        m.Add(new Conv2D(8, 3, padding: 1));
        m.Add(new BatchNorm2D());
        m.Add(new ReLU());
        m.Add(new MaxPool2D(2));
        m.Add(new Flatten());
        m.AddTop(new Dense(5));
        var bytes = OnnxExporter.ToBytes(m);
        var imported = OnnxImporter.Import(bytes, "cnn.onnx");
        var empty = new Tensor(0, 3, 12, 12);
        Assert.Equal([0, 5], imported.Predict(empty).Shape);
        Assert.Equal([0, 5], imported.ToInference().Predict(empty).Shape);
        Assert.Equal([0, 5], RuntimeShape(bytes, empty));
    }
}
