using Fovea.Onnx.Proto;
using Fovea.Serialization;
using Microsoft.ML.OnnxRuntime;
using OrtTensors = Microsoft.ML.OnnxRuntime.Tensors;
using G = Fovea.Onnx.Tests.GraphBuilder;
using Tensor = Fovea.Tensors.Tensor;

namespace Fovea.Onnx.Tests;

/// <summary>
/// Graphs with more than one output (OnnxImporter.ImportGraph): MaxPool's Indices and Dropout's mask against ONNX
/// Runtime on batches, BatchNormalization with training_mode = 1, the lookup API, refusals and model files.
/// </summary>
public class ExtraOutputImportTests(ITestOutputHelper output)
{
    /// <summary>Every output of <paramref name="onnx"/> run in ONNX Runtime, by name, converted to float (int64 as is, bool as 1/0).</summary>
    internal static Dictionary<string, float[]> RunAll(byte[] onnx, Tensor x)
    {
        using var session = new InferenceSession(onnx);
        var input = new OrtTensors.DenseTensor<float>(x.ToArray(), x.Shape);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.First(), input)]);
        return results.ToDictionary(r => r.Name, r => r.Value switch
        {
            OrtTensors.Tensor<float> f => f.ToArray(),
            OrtTensors.Tensor<long> l => l.Select(v => (float)v).ToArray(),
            OrtTensors.Tensor<bool> b => b.Select(v => v ? 1f : 0f).ToArray(),
            var other => throw new InvalidOperationException($"output '{r.Name}' is a {other?.GetType().Name}"),
        });
    }

    /// <summary>A graph output of the given element type without a declared shape.</summary>
    private static ValueInfoProto Declared(string name, int elementType) =>
        new() { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elementType } } };

    private static ModelProto WithOutputs(G g, params (string Name, int Type)[] outputs)
    {
        var proto = g.Build(outputs[0].Name);
        proto.Graph.Output.Clear();
        foreach (var (name, type) in outputs) proto.Graph.Output.Add(Declared(name, type));
        return proto;
    }

    private void Matches(ModelProto proto, Tensor x, string source)
    {
        var bytes = G.Bytes(proto);
        var expected = RunAll(bytes, x);
        var graph = OnnxImporter.ImportGraph(bytes, source);
        Assert.Same(graph.Model.Output, graph.Outputs[0].Node);
        foreach (var o in graph.Outputs)
        {
            var actual = graph.Model.Predict(x, o.Node).ToArray();
            Assert.Equal(expected[o.Name], actual);
            output.WriteLine($"{source}: output '{o.Name}' ({o.DeclaredType}) equals ONNX Runtime's, {actual.Length} values.");
        }
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, false)]
    [InlineData(0, true)]
    [InlineData(1, true)]
    public void MaxPoolIndicesOfABatchMatchOnnxRuntime(long storageOrder, bool dilatedAndCeil)
    {
        var g = new G(12, -1, 3, 7, 8);
        var attributes = new List<AttributeProto> { G.Ints("kernel_shape", 3, 2), G.Ints("pads", 1, 0, 1, 1), G.Int("storage_order", storageOrder) };
        attributes.AddRange(dilatedAndCeil ? [G.Ints("dilations", 1, 2), G.Int("ceil_mode", 1), G.Ints("strides", 2, 2)] : [G.Ints("strides", 2, 1)]);
        var pool = g.Node("MaxPool", ["x"], "y", attributes.ToArray());
        pool.Output.Add("indices");
        var x = RoundTripTests.RandomInput((int)storageOrder + 5, 2, 3, 7, 8);
        Matches(WithOutputs(g, ("y", OnnxTensor.Float), ("indices", OnnxTensor.Int64)), x, $"maxpool storage_order {storageOrder}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void OneDimensionalMaxPoolIndicesMatchOnnxRuntime(long storageOrder)
    {
        var g = new G(12, -1, 2, 9);
        var pool = g.Node("MaxPool", ["x"], "y", G.Ints("kernel_shape", 3), G.Ints("strides", 2), G.Ints("pads", 1, 1), G.Int("storage_order", storageOrder));
        pool.Output.Add("indices");
        // Only the indices are a graph output: the pooled values are computed but not asked for.
        Matches(WithOutputs(g, ("indices", OnnxTensor.Int64)), RoundTripTests.RandomInput(8, 3, 2, 9), "maxpool 1-D");
    }

    private static ModelProto DropoutWithMask(int opset)
    {
        var g = new G(opset, -1, 3, 4);
        if (opset >= 12) g.Floats("ratio", [0.3f]);
        var dropout = opset >= 12 ? g.Node("Dropout", ["x", "ratio"], "y") : g.Node("Dropout", ["x"], "y", G.Float("ratio", 0.3f));
        dropout.Output.Add("mask");
        g.Node("Relu", ["y"], "r");
        return WithOutputs(g, ("r", OnnxTensor.Float), ("mask", (int)TensorProto.Types.DataType.Bool));
    }

    [Theory]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(22)]
    public void DropoutMaskIsAllTrueAsInOnnxRuntime(int opset) =>
        Matches(DropoutWithMask(opset), RoundTripTests.RandomInput(opset, 2, 3, 4), $"dropout opset {opset}");

    /// <summary>
    /// Before opset 12 the specification leaves the inference mask unsaid; ONNX's reference implementation returns all
    /// true at every opset and so does Fovea, while ONNX Runtime 1.31 writes all false for opsets 7 to 11.
    /// </summary>
    [Theory]
    [InlineData(7)]
    [InlineData(10)]
    public void OlderDropoutMaskIsAllTrueAsInTheOnnxReference(int opset)
    {
        var graph = OnnxImporter.ImportGraph(G.Bytes(DropoutWithMask(opset)), "dropout");
        var x = RoundTripTests.RandomInput(opset, 2, 3, 4);
        Assert.All(graph.Model.Predict(x, graph.GetOutput("mask")).ToArray(), v => Assert.Equal(1f, v));
        Assert.Equal("bool", graph.Outputs[1].DeclaredType);
    }

    private static G TrainingBatchNorm(int opset, long mode, params string[] outputs)
    {
        var g = new G(opset, 2, 3, 4, 5).Floats("s", [1.5f, 0.5f, 1f], 3).Floats("b", [0.1f, -0.2f, 0f], 3)
            .Floats("m", [0.3f, -0.1f, 0f], 3).Floats("v", [0.8f, 1.4f, 1f], 3);
        var bn = g.Node("BatchNormalization", ["x", "s", "b", "m", "v"], "y", G.Int("training_mode", mode), G.Float("momentum", 0.8f));
        foreach (var o in outputs) bn.Output.Add(o);
        return g;
    }

    /// <summary>Y with the batch statistics, running_mean = mean·momentum + batch mean·(1 − momentum), running_var likewise (biased batch variance).</summary>
    [Fact]
    public void TrainingModeBatchNormNeedsTheWholeInputAndComputesTheStatistics()
    {
        var proto = WithOutputs(TrainingBatchNorm(15, 1, "rm", "rv"), ("y", OnnxTensor.Float), ("rm", OnnxTensor.Float), ("rv", OnnxTensor.Float));
        var e = Assert.Throws<OnnxBatchAxisException>(() => OnnxImporter.ImportGraph(G.Bytes(proto), "bn.onnx"));
        Assert.Contains("training_mode = 1", e.Message);
        var graph = OnnxImporter.ImportGraph(G.Bytes(proto), "bn.onnx", new OnnxImportOptions { FirstAxisIsBatch = false });
        Assert.Equal(["y", "rm", "rv"], graph.Outputs.Select(o => o.Name));
        var x = RoundTripTests.RandomInput(3, 1, 2, 3, 4, 5);
        float[] y = graph.Model.Predict(x).ToArray(), rm = graph.Model.Predict(x, graph.GetOutput("rm")).ToArray(), rv = graph.Model.Predict(x, graph.GetOutput("rv")).ToArray();
        Assert.Equal([1, 3], graph.Model.Predict(x, graph.GetOutput("rv")).Shape);
        float[] scale = [1.5f, 0.5f, 1f], bias = [0.1f, -0.2f, 0f], mean = [0.3f, -0.1f, 0f], variance = [0.8f, 1.4f, 1f];
        for (int c = 0; c < 3; c++)
        {
            var at = Enumerable.Range(0, 2).SelectMany(n => Enumerable.Range(0, 20).Select(j => (n * 3 + c) * 20 + j)).ToArray();
            double mu = at.Average(i => (double)x.Span[i]), sigma2 = at.Average(i => (x.Span[i] - mu) * (x.Span[i] - mu));
            Assert.Equal(mean[c] * 0.8 + mu * 0.2, rm[c], 5);
            Assert.Equal(variance[c] * 0.8 + sigma2 * 0.2, rv[c], 5);
            foreach (int i in at) Assert.Equal(scale[c] * (x.Span[i] - mu) / Math.Sqrt(sigma2 + 1e-5) + bias[c], y[i], 4);
        }
    }

    [Fact]
    public void ImportedModelsWithExtraOutputsSaveAndLoad()
    {
        var g = new G(13, -1, 2, 6, 6).Floats("ratio", [0.25f]);
        var pool = g.Node("MaxPool", ["x"], "y", G.Ints("kernel_shape", 2, 2), G.Ints("strides", 2, 2), G.Int("storage_order", 1));
        pool.Output.Add("indices");
        g.Node("Dropout", ["y", "ratio"], "d").Output.Add("mask");
        var pooled = OnnxImporter.ImportGraph(G.Bytes(WithOutputs(g, ("d", OnnxTensor.Float), ("indices", OnnxTensor.Int64), ("mask", (int)TensorProto.Types.DataType.Bool))), "pool");
        var bn = OnnxImporter.ImportGraph(G.Bytes(WithOutputs(TrainingBatchNorm(15, 1, "rm", "rv"), ("y", OnnxTensor.Float), ("rm", OnnxTensor.Float), ("rv", OnnxTensor.Float))),
            "bn", new OnnxImportOptions { FirstAxisIsBatch = false });
        foreach (var (graph, x) in new[] { (pooled, RoundTripTests.RandomInput(1, 3, 2, 6, 6)), (bn, RoundTripTests.RandomInput(2, 1, 2, 3, 4, 5)) })
        {
            var path = Path.Combine(Path.GetTempPath(), $"fovea-extra-{Guid.NewGuid():N}.fovea");
            try
            {
                ModelFile.Save(graph.Model, path);
                var loaded = ModelFile.Load(path);
                foreach (var o in graph.Outputs)
                    Assert.Equal(graph.Model.Predict(x, o.Node).ToArray(), loaded.Predict(x, loaded.GetNode(o.Node.Name)).ToArray());
                output.WriteLine($"{graph.Model.Name}: {string.Join(", ", graph.Outputs.Select(o => $"'{o.Name}' → layer '{o.Node.Name}' ({o.Node.Layer?.TypeName})"))}");
            }
            finally { File.Delete(path); }
        }
    }

    [Fact]
    public void GraphOutputsAreFoundByNameAndTheFirstIsTheModelOutput()
    {
        var g = new G(13, -1, 3);
        g.Node("Relu", ["x"], "r");
        g.Node("Sigmoid", ["x"], "s");
        g.Node("Identity", ["x"], "same");
        var graph = OnnxImporter.ImportGraph(G.Bytes(WithOutputs(g, ("s", OnnxTensor.Float), ("r", OnnxTensor.Float), ("same", OnnxTensor.Float))), "three");
        Assert.Equal(["s", "r", "same"], graph.Outputs.Select(o => o.Name));
        Assert.All(graph.Outputs, o => Assert.Equal("float", o.DeclaredType));
        Assert.Same(graph.Model.Output, graph.GetOutput("s"));
        Assert.Same(graph.Model.Input, graph.GetOutput("same"));
        Assert.Equal("Sigmoid", OnnxImporter.Import(G.Bytes(WithOutputs(g, ("s", OnnxTensor.Float), ("r", OnnxTensor.Float))), "two").Output.Layer!.TypeName);
        var e = Assert.Throws<ArgumentException>(() => graph.GetOutput("t"));
        Assert.Contains("'t'", e.Message);
        Assert.Contains("'s', 'r', 'same'", e.Message);
    }

    private static OnnxImportException Refused(ModelProto proto, bool batched = true) =>
        Assert.ThrowsAny<OnnxImportException>(() => OnnxImporter.ImportGraph(G.Bytes(proto), "bad.onnx", new OnnxImportOptions { FirstAxisIsBatch = batched }));

    [Fact]
    public void WhatCannotBeComputedIsRefusedNamingIt()
    {
        var constant = new G(13, -1, 3).Floats("k", [1f, 2f, 3f], 3);
        constant.Node("Relu", ["x"], "r");
        Assert.Contains("graph output 'k' is a constant", Refused(WithOutputs(constant, ("r", OnnxTensor.Float), ("k", OnnxTensor.Float))).Message);
        Assert.Contains("declares no graph outputs", Refused(WithOutputs(constant, ("r", OnnxTensor.Float)).Also(p => p.Graph.Output.Clear())).Message);

        var pool3d = new G(13, -1, 2, 4, 4, 4);
        pool3d.Node("MaxPool", ["x"], "y", G.Ints("kernel_shape", 2, 2, 2)).Output.Add("indices");
        Assert.Contains("3-D MaxPool", Refused(WithOutputs(pool3d, ("y", OnnxTensor.Float), ("indices", OnnxTensor.Int64))).Message);

        var order = new G(13, -1, 2, 4, 4);
        order.Node("MaxPool", ["x"], "y", G.Ints("kernel_shape", 2, 2), G.Int("storage_order", 2)).Output.Add("indices");
        Assert.Contains("storage_order must be 0 (row-major) or 1 (column-major); received 2", Refused(WithOutputs(order, ("y", OnnxTensor.Float), ("indices", OnnxTensor.Int64))).Message);

        var training = new G(13, -1, 3).Floats("t", [1f]);
        training.Node("Dropout", ["x", "ratio", "t"], "y").Output.Add("mask");
        training.Floats("ratio", [0.5f]);
        Assert.Contains("training_mode = true", Refused(WithOutputs(training, ("y", OnnxTensor.Float), ("mask", (int)TensorProto.Types.DataType.Bool))).Message);

        // Before opset 14 the extra outputs themselves mean training; training_mode must be 0 or 1 from 14 on.
        var legacy = new G(9, 2, 3, 4).Floats("s", [1, 1, 1], 3).Floats("b", [0, 0, 0], 3).Floats("m", [0, 0, 0], 3).Floats("v", [1, 1, 1], 3);
        legacy.Node("BatchNormalization", ["x", "s", "b", "m", "v"], "y").Output.Add("mean");
        Assert.Contains("output 1 (statistics of a training step", Refused(WithOutputs(legacy, ("y", OnnxTensor.Float), ("mean", OnnxTensor.Float)), batched: false).Message);
        Assert.Contains("training_mode must be 0 or 1; received 2", Refused(WithOutputs(TrainingBatchNorm(15, 2), ("y", OnnxTensor.Float)), batched: false).Message);
        Assert.Contains("declares opset 13", Refused(WithOutputs(TrainingBatchNorm(13, 1), ("y", OnnxTensor.Float)), batched: false).Message);
        var inference = WithOutputs(TrainingBatchNorm(15, 0, "rm"), ("y", OnnxTensor.Float), ("rm", OnnxTensor.Float));
        Assert.Contains("output 1 (statistics of a training step", Refused(inference, batched: false).Message);

        var shortMean = TrainingBatchNorm(15, 1, "rm");
        shortMean.Floats("m2", [0f, 0f], 2);
        var proto = WithOutputs(shortMean, ("y", OnnxTensor.Float), ("rm", OnnxTensor.Float));
        proto.Graph.Node[0].Input[3] = "m2";
        Assert.Contains("input_mean has 2 values", Refused(proto, batched: false).Message);
    }
}

internal static class ProtoExtensions
{
    /// <summary>Applies <paramref name="change"/> to <paramref name="value"/> and returns it (for one-line test edits).</summary>
    public static T Also<T>(this T value, Action<T> change)
    {
        change(value);
        return value;
    }
}
