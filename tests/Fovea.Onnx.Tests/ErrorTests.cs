using Fovea.Layers;
using Fovea.Models;
using Fovea.Onnx.Proto;
using Google.Protobuf;

namespace Fovea.Onnx.Tests;

/// <summary>Malformed, truncated and unsupported files fail with one clear OnnxImportException (a FormatException), never a crash.</summary>
public class ErrorTests
{
    private static byte[] SmallModel() => OnnxExporter.ToBytes(RoundTripTests.ResidualModel());

    [Fact]
    public void EmptyAndGarbageFilesAreRejectedByName()
    {
        var e1 = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import([], "empty.onnx"));
        Assert.Contains("empty.onnx", e1.Message);
        var e2 = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import("this is not a model"u8.ToArray(), "text.onnx"));
        Assert.Contains("text.onnx", e2.Message);
        Assert.IsAssignableFrom<FormatException>(e2);
    }

    [Fact]
    public void EveryTruncationGivesAClearError()
    {
        var bytes = SmallModel();
        // Cut points spread over the file, including inside the header, the nodes and the initializers.
        for (int i = 1; i < 60; i++)
        {
            int length = (int)((long)bytes.Length * i / 60);
            var cut = bytes.AsSpan(0, length).ToArray();
            var e = Record.Exception(() => OnnxImporter.Import(cut, $"cut-{length}.onnx"));
            Assert.True(e is OnnxImportException, $"Truncating to {length} of {bytes.Length} bytes gave {e?.GetType().Name ?? "no error"}: {e?.Message}");
            Assert.Contains($"cut-{length}.onnx", e!.Message);
        }
    }

    [Fact]
    public void CorruptedBytesNeverCrash()
    {
        var bytes = SmallModel();
        var rng = new Random(1);
        for (int trial = 0; trial < 40; trial++)
        {
            var copy = (byte[])bytes.Clone();
            for (int k = 0; k < 8; k++) copy[rng.Next(copy.Length)] = (byte)rng.Next(256);
            var e = Record.Exception(() => OnnxImporter.Import(copy, "corrupt.onnx"));
            // Either it still imports (the flips hit weights) or it fails with a format error.
            Assert.True(e is null or FormatException, $"trial {trial}: {e?.GetType().Name}: {e?.Message}");
        }
    }

    [Theory]
    [InlineData("42FFFFFFFF07")]                       // opset_import claiming 2^31 - 1 bytes
    [InlineData("3A657912120A100801120C0AFFFFFFFF07")] // the same inside a graph's tensor
    public void ALengthNearTwoGigabytesIsAFormatErrorNotAnIndexError(string hex)
    {
        // Found by fuzzing: Google.Protobuf (protocolbuffers/protobuf#26856) overflows its limit on such a length and
        // reads past the buffer, throwing IndexOutOfRangeException instead of InvalidProtocolBufferException.
        var e = Record.Exception(() => OnnxImporter.Import(Convert.FromHexString(hex), "huge-length.onnx"));
        Assert.IsType<OnnxImportException>(e);
        Assert.Contains("'huge-length.onnx' is not a valid ONNX model", e.Message);
        Assert.Contains("length runs past the end", e.Message);
    }

    /// <summary>Bad tensor data (an initializer, a Constant's value, a non-scalar Clip bound) is reported with the file, and the node when there is one.</summary>
    [Fact]
    public void BadTensorDataNamesTheFileAndTheNode()
    {
        var proto = OnnxExporter.Build(RoundTripTests.ResidualModel(), 13);
        var weight = proto.Graph.Initializer.First(t => t.Name == "dense.weight");
        weight.RawData = ByteString.CopyFrom(weight.RawData.Span[..600]);
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(proto.ToByteArray(), "short.onnx"));
        Assert.StartsWith("'short.onnx': ", e.Message);
        Assert.Contains("'dense.weight' should hold 160 values (640 bytes) but has 600 bytes", e.Message);

        var g = new GraphBuilder(13, -1, 3);
        g.Node("Constant", [], "c", new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = new TensorProto { Name = "k", DataType = 10 } });
        g.Node("Add", ["x", "c"], "y");
        e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(GraphBuilder.Bytes(g.Build("y", -1, 3)), "half.onnx"));
        Assert.StartsWith("'half.onnx', node 'constant_0' (Constant): ", e.Message);
        Assert.Contains("element type float16", e.Message);

        g = new GraphBuilder(13, -1, 3).Floats("lo", [0f, 1f], 2);
        g.Node("Clip", ["x", "lo"], "y");
        e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(GraphBuilder.Bytes(g.Build("y", -1, 3)), "clip.onnx"));
        Assert.StartsWith("'clip.onnx', node 'clip_0' (Clip): ", e.Message);
        Assert.Contains("min must hold a single value; it has shape [2]", e.Message);
    }

    /// <summary>ONNX names each value once; a second definition replaced the first without a word (and a reader saw either).</summary>
    [Theory]
    [InlineData("y", "node 'relu_0'")]
    [InlineData("x", "the graph input")]
    [InlineData("w", "an initializer")]
    public void AValueDefinedTwiceIsRefused(string name, string first)
    {
        var g = new GraphBuilder(13, -1, 3).Floats("w", [1f, 2f, 3f], 3);
        g.Node("Relu", ["x"], "y");
        g.Node("Sigmoid", ["x"], name);
        g.Node("Add", ["y", "w"], "z");
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(GraphBuilder.Bytes(g.Build("z", -1, 3)), "twice.onnx"));
        Assert.StartsWith("'twice.onnx', node 'sigmoid_1' (Sigmoid): ", e.Message);
        Assert.Contains($"output '{name}' is already defined by {first}", e.Message);
    }

    /// <summary>
    /// Protobuf caps a message at 2 GB, so a larger .onnx file is not a model (larger models keep their weights in external
    /// data). It failed with .NET's "The file is too long" IOException, which named neither the file nor the problem.
    /// </summary>
    [Fact]
    public void FilesOverTwoGigabytesAreRefusedByNameWithoutReading()
    {
        var path = Path.Combine(Path.GetTempPath(), $"fovea-huge-{Guid.NewGuid():N}.onnx");
        try
        {
            // Sparse: no disk space is used.
            using (var f = new FileStream(path, FileMode.CreateNew)) f.SetLength(3L << 30);
            var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(path));
            Assert.Contains($"'{path}' is 3221225472 bytes", e.Message);
            Assert.Contains("2 GB", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void MissingFileIsFileNotFound() =>
        Assert.Throws<FileNotFoundException>(() => OnnxImporter.Import(Path.Combine(Path.GetTempPath(), "no-such-model.onnx")));

    [Fact]
    public void UnsupportedOperatorNamesTheOpTheNodeAndTheSupportedSet()
    {
        var proto = OnnxExporter.Build(RoundTripTests.ResidualModel(), 13);
        var relu = proto.Graph.Node.First(n => n.OpType == "Relu");
        relu.OpType = "Selu";
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(proto.ToByteArray(), "selu.onnx"));
        Assert.Contains("'Selu'", e.Message);
        Assert.Contains($"'{relu.Name}'", e.Message);
        Assert.Contains("Supported operators: Add, AveragePool", e.Message);

        // An operator of another domain (an ONNX Runtime contrib op) is named with its domain and the supported set too.
        relu.OpType = "Gelu";
        relu.Domain = "com.microsoft";
        var domain = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(proto.ToByteArray(), "gelu.onnx"));
        Assert.Contains($"'{relu.Name}' (Gelu): operators of domain 'com.microsoft' are not supported", domain.Message);
        Assert.Contains("Supported operators: Add, AveragePool", domain.Message);
    }

    [Fact]
    public void OldOpsetsAndForeignDomainsAreRefused()
    {
        var proto = OnnxExporter.Build(RoundTripTests.ResidualModel(), 13);
        proto.OpsetImport[0].Version = 6;
        Assert.Contains("opset 6", Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(proto.ToByteArray(), "old.onnx")).Message);
        proto.OpsetImport.Clear();
        Assert.Contains("no opset", Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(proto.ToByteArray(), "none.onnx")).Message);
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        proto.Graph.Node[0].Domain = "com.microsoft";
        Assert.Contains("com.microsoft", Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(proto.ToByteArray(), "ms.onnx")).Message);
    }

    /// <summary>A user-defined layer (every built-in layer type has an ONNX mapping).</summary>
    private sealed class Squared(string? name) : UnaryLayer(name)
    {
        public override string TypeName => "Squared";
        public override int[] ComputeOutputShape(int[] inputShape) => (int[])inputShape.Clone();
        public override Tensors.Tensor Forward(Tensors.Tensor input, bool training) => throw new NotSupportedException();
        public override System.Text.Json.Nodes.JsonObject GetConfig() => [];
    }

    [Fact]
    public void ExportRefusesLayersWithoutOnnxMappingNamingThem()
    {
        var m = new Model([2, 4, 4]);
        m.Add(new Squared(name: "my_square"));
        var e = Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(m));
        Assert.Contains("'my_square' (Squared)", e.Message);
        Assert.Contains("no ONNX mapping", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxExporter.ToBytes(RoundTripTests.ResidualModel(), opset: 5));
    }
}
