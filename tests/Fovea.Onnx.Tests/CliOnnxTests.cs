
using Fovea.Models;
using Fovea.Serialization;

namespace Fovea.Onnx.Tests;

/// <summary>fovea export / import, and predict/summary on .onnx files.</summary>
[Collection("Console")]
public class CliOnnxTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-onnx-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ExportImportAndSummaryRoundTrip()
    {
        var model = ModelZoo.Reference([1, 28, 28], 10, seed: 2);
        model.ClassNames = Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray();
        var fovea = Path.Combine(_dir, "m.fovea");
        ModelFile.Save(model, fovea);
        var onnx = Path.Combine(_dir, "m.onnx");
        Assert.Equal(0, Fovea.Cli.Cli.Run(["export", fovea, "--out", onnx, "--opset", "17"]));
        Assert.True(File.Exists(onnx));
        var back = Path.Combine(_dir, "back.fovea");
        Assert.Equal(0, Fovea.Cli.Cli.Run(["import", onnx, "--out", back]));
        var loaded = ModelFile.Load(back);
        Assert.Equal(model.ClassNames, loaded.ClassNames);
        var x = RoundTripTests.RandomInput(3, 2, 1, 28, 28);
        Assert.True(RoundTripTests.MaxAbsDiff(model.Predict(x).Span, loaded.Predict(x).Span) < 1e-5);
        Assert.Equal(0, Fovea.Cli.Cli.Run(["summary", onnx]));
    }

    /// <summary>The first graph output becomes the model's output; import says which nodes hold the others (saved with the model).</summary>
    [Fact]
    public void ImportOfAGraphWithSeveralOutputsNamesTheNodesKeptForTheOthers()
    {
        var g = new GraphBuilder(13, -1, 2, 6, 6);
        g.Node("MaxPool", ["x"], "y", GraphBuilder.Ints("kernel_shape", 2, 2), GraphBuilder.Ints("strides", 2, 2)).Output.Add("indices");
        var proto = g.Build("y", -1, 2, 3, 3);
        proto.Graph.Output.Add(new Proto.ValueInfoProto
        {
            Name = "indices",
            Type = new Proto.TypeProto { TensorType = new Proto.TypeProto.Types.Tensor { ElemType = OnnxTensor.Int64 } },
        });
        var file = Path.Combine(_dir, "pool.onnx");
        File.WriteAllBytes(file, GraphBuilder.Bytes(proto));
        var back = Path.Combine(_dir, "pool.fovea");
        var run = CliProcess.Run("import", file, "--out", back);
        Assert.True(run.Code == 0, run.Err);
        Assert.Contains("The graph has 2 outputs; the model's output is 'y', the others are kept as nodes: 'indices' = node 'maxpool_0_indices' (int64, as float32).", run.Out);
        var loaded = ModelFile.Load(back);
        Assert.Equal("MaxPool2D", loaded.Output.Layer!.TypeName);
        Assert.Equal("MaxPoolIndices2D", loaded.GetLayer("maxpool_0_indices").TypeName);
    }

    [Fact]
    public void MalformedOnnxIsAUsageErrorNotACrash()
    {
        var bad = Path.Combine(_dir, "bad.onnx");
        File.WriteAllBytes(bad, OnnxExporter.ToBytes(RoundTripTests.ResidualModel()).AsSpan(0, 300).ToArray());
        Assert.Equal(Fovea.Cli.Cli.UsageError, Fovea.Cli.Cli.Run(["summary", bad]));
        Assert.Equal(Fovea.Cli.Cli.UsageError, Fovea.Cli.Cli.Run(["import", bad, "--out", Path.Combine(_dir, "x.fovea")]));
        Assert.Equal(Fovea.Cli.Cli.UsageError, Fovea.Cli.Cli.Run(["export", bad, "--out", Path.Combine(_dir, "x.onnx")]));
        Assert.Equal(Fovea.Cli.Cli.UsageError, Fovea.Cli.Cli.Run(["import", Path.Combine(_dir, "missing.onnx"), "--out", Path.Combine(_dir, "x.fovea")]));
    }

    [Fact]
    public void OutputNamesOfTheOtherFormatAreRefusedBeforeWriting()
    {
        var onnx = Path.Combine(_dir, "model.onnx");
        File.WriteAllBytes(onnx, OnnxExporter.ToBytes(RoundTripTests.ResidualModel()));
        var fovea = Path.Combine(_dir, "model.fovea");
        Assert.Equal(0, Fovea.Cli.Cli.Run(["import", onnx, "--out", fovea]));
        var wrongImport = Path.Combine(_dir, "imported.ONNX");
        var wrongExport = Path.Combine(_dir, "exported.fovea");
        CliProcess.AssertOneLineError(["import", onnx, "--out", wrongImport], $"--out {wrongImport} ends in .onnx; name it .fovea");
        CliProcess.AssertOneLineError(["export", fovea, "--out", wrongExport], $"--out {wrongExport} ends in .fovea; name it .onnx");
        Assert.False(File.Exists(wrongImport));
        Assert.False(File.Exists(wrongExport));
    }

    [Fact]
    public void ZeroStrideAndEmptyConstantFilesAreUsageErrors()
    {
        // Both used to escape as DivideByZeroException / NullReferenceException (exit 1).
        var g = new GraphBuilder(13, -1, 2, 8, 8).Floats("w", new float[3 * 2 * 3 * 3], 3, 2, 3, 3);
        g.Node("Conv", ["x", "w"], "y", GraphBuilder.Ints("strides", 0, 0), GraphBuilder.Str("auto_pad", "SAME_UPPER"));
        var strides = Path.Combine(_dir, "strides.onnx");
        File.WriteAllBytes(strides, GraphBuilder.Bytes(g.Build("y", -1, 3, 8, 8)));
        var c = new GraphBuilder(13, -1, 3);
        c.Node("Constant", [], "k", new Proto.AttributeProto { Name = "value", Type = Proto.AttributeProto.Types.AttributeType.Tensor });
        c.Node("Add", ["x", "k"], "y");
        var constant = Path.Combine(_dir, "constant.onnx");
        File.WriteAllBytes(constant, GraphBuilder.Bytes(c.Build("y", -1, 3)));
        foreach (var file in new[] { strides, constant })
        {
            Assert.Equal(Fovea.Cli.Cli.UsageError, Fovea.Cli.Cli.Run(["import", file, "--out", Path.Combine(_dir, "x.fovea")]));
            Assert.Equal(Fovea.Cli.Cli.UsageError, Fovea.Cli.Cli.Run(["summary", file]));
        }
    }
}
