using Fovea.Onnx.Proto;
using Fovea.Tensors;

namespace Fovea.Onnx.Tests;

/// <summary>
/// The upstream ONNX backend node cases (shared/conformance/onnx-node) of every operator Fovea imports, one test row per case,
/// compared as upstream does: same shape and type, |actual - expected| ≤ 1e-7 + 1e-3·|expected|, for every graph output
/// (output_0.pb, output_1.pb, ...; each is a node of the imported model, see <see cref="OnnxImportResult"/>). Fovea
/// tensors are float32: an int64 output (MaxPool's Indices) is compared exactly with its values converted to float
/// (exact below 2^24), a bool output (Dropout's mask) exactly as 1 for true and 0 for false.
/// Cases Fovea cannot represent are listed in <see cref="Unsupported"/> with the reason; those rows check that the import
/// fails with a clear OnnxImportException instead.
/// </summary>
public class ConformanceTests(ITestOutputHelper output)
{
    private const double RelativeTolerance = 1e-3, AbsoluteTolerance = 1e-7;

    /// <summary>
    /// Cases of supported operators that Fovea does not run, with the reason (printed in the test output). Empty at
    /// present: the last one, test_reshape_allowzero_reordered (an empty [0, 3, 4] input), runs since models and layers
    /// take zero-size dimensions.
    /// </summary>
    internal static readonly Dictionary<string, string> Unsupported = new(StringComparer.Ordinal);

    /// <summary>
    /// Cases whose data are int32 only because upstream chose so: Pad's edge/reflect/wrap modes move values without
    /// arithmetic, so the same small integers converted to float32 (exact) must give the expected values converted too.
    /// </summary>
    internal static readonly HashSet<string> IntegerDataRunAsFloat = new(StringComparer.Ordinal) { "test_edge_pad", "test_reflect_pad", "test_wrap_pad" };

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        if (TestData.ConformanceRoot is null) { data.Add("(conformance data not found)"); return data; }
        foreach (var line in File.ReadAllLines(Path.Combine(TestData.ConformanceRoot, "INDEX.tsv")))
        {
            var cols = line.Split('\t');
            if (cols.Length < 2) continue;
            var op = cols[1].Split('(')[0];
            if (OnnxImporter.SupportedOperators.Contains(op)) data.Add(cols[0]);
        }
        return data;
    }

    /// <summary>Expanded cases written with operators outside the supported set; the reason names them.</summary>
    private static string? ExpandedReason(string opColumn)
    {
        int open = opColumn.IndexOf("(expanded:", StringComparison.Ordinal);
        if (open < 0) return null;
        var ops = opColumn[(open + 10)..].TrimEnd(')').Split('+');
        var missing = ops.Where(o => !OnnxImporter.SupportedOperators.Contains(o)).Distinct().ToArray();
        return missing.Length == 0 ? null : $"Expanded (function-body) form uses operators outside Fovea's supported set: {string.Join(", ", missing)}.";
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case(string name)
    {
        Assert.True(TestData.ConformanceRoot is not null, "shared/conformance/onnx-node not found (set FOVEA_ONNX_CONFORMANCE).");
        var root = TestData.ConformanceRoot!;
        var opColumn = File.ReadLines(Path.Combine(root, "INDEX.tsv")).Select(l => l.Split('\t')).First(c => c[0] == name)[1];
        var reason = Unsupported.GetValueOrDefault(name) ?? ExpandedReason(opColumn);
        var dir = Path.Combine(root, name);
        var proto = OnnxFile.ReadModel(Path.Combine(dir, "model.onnx"));
        bool asFloat = IntegerDataRunAsFloat.Contains(name);
        if (asFloat)
        {
            output.WriteLine("int32 data run as float32 (exact for these values; see IntegerDataRunAsFloat).");
            foreach (var v in proto.Graph.Input.Concat(proto.Graph.Output).Where(v => v.Type.TensorType.ElemType == (int)TensorProto.Types.DataType.Int32))
                v.Type.TensorType.ElemType = OnnxTensor.Float;
        }
        var inits = proto.Graph.Initializer.Select(i => i.Name).ToHashSet();
        var inputs = proto.Graph.Input.Where(i => !inits.Contains(i.Name)).ToList();
        var data = Path.Combine(dir, "test_data_set_0");
        var tensors = inputs.Select((_, i) => OnnxFile.ReadTensor(Path.Combine(data, $"input_{i}.pb"))).ToList();
        var fixedInputs = inputs.Skip(1).Select((info, i) => (info.Name, Value: OnnxTensor.Read(tensors[i + 1], "input")))
            .ToDictionary(p => p.Name, p => p.Value);

        if (reason is not null)
        {
            output.WriteLine($"NOT RUN (written reason): {reason}");
            var e = Record.Exception(() => Import(proto, name, fixedInputs, batched: true));
            if (e is OnnxBatchAxisException) e = Record.Exception(() => Import(proto, name, fixedInputs, batched: false));
            // Fovea must refuse it with a clear message, not run it wrongly or crash.
            Assert.IsAssignableFrom<OnnxImportException>(e);
            output.WriteLine($"Import refused as expected: {e!.Message}");
            return;
        }

        bool batched = true;
        OnnxImportResult graph;
        try { graph = Import(proto, name, fixedInputs, batched: true); }
        catch (OnnxBatchAxisException e)
        {
            output.WriteLine($"Batch-first import refused ({e.Message}); importing the whole input as one sample.");
            batched = false;
            graph = Import(proto, name, fixedInputs, batched: false);
        }
        var x = OnnxTensor.Read(tensors[0], "input_0");
        if (asFloat) { Assert.Equal((int)TensorProto.Types.DataType.Int32, x.DataType); x = x with { DataType = OnnxTensor.Float }; }
        Assert.Equal(OnnxTensor.Float, x.DataType);
        var xt = new Tensor(batched ? x.Shape : [1, .. x.Shape], x.Floats());
        Assert.Equal(proto.Graph.Output.Count, graph.Outputs.Count);
        Assert.False(File.Exists(Path.Combine(data, $"output_{proto.Graph.Output.Count}.pb")), "more expected outputs than graph outputs");
        for (int k = 0; k < proto.Graph.Output.Count; k++)
            CompareOutput(name, k, proto.Graph.Output[k], graph, xt, batched, asFloat, data);
    }

    /// <summary>Graph output <paramref name="k"/> against output_k.pb: float within the tolerance, int64 and bool exactly.</summary>
    private void CompareOutput(string name, int k, ValueInfoProto info, OnnxImportResult graph, Tensor x, bool batched, bool asFloat, string data)
    {
        var y = graph.Model.Predict(x, graph.GetOutput(info.Name));
        var actualShape = batched ? y.Shape : y.Shape[1..];
        var expected = OnnxTensor.Read(OnnxFile.ReadTensor(Path.Combine(data, $"output_{k}.pb")), $"output_{k}");
        if (asFloat) expected = expected with { DataType = OnnxTensor.Float };
        Assert.Equal(OnnxTensor.TypeName(info.Type.TensorType.ElemType), OnnxTensor.TypeName(expected.DataType));
        Assert.Equal(expected.Shape, actualShape);
        var type = (TensorProto.Types.DataType)expected.DataType;
        string note = type switch
        {
            TensorProto.Types.DataType.Float => "",
            TensorProto.Types.DataType.Int64 => ", int64 converted to float32 and compared exactly",
            TensorProto.Types.DataType.Bool => ", bool compared exactly as float32 1 (true) / 0 (false)",
            _ => throw new InvalidOperationException($"{name}: output {k} has element type {type}, which this harness does not compare."),
        };
        bool exact = type != TensorProto.Types.DataType.Float;
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected.Values[i], a = y.Span[i];
            if (exact)
            {
                Assert.True(Math.Abs(e) < 1 << 24, $"{name}: output {k} element {i}: expected {e} is not exact in float32.");
                Assert.True(a == e, $"{name}: output {k} ('{info.Name}') element {i}: actual {a:R}, expected {e:R} exactly.");
                continue;
            }
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            double err = Math.Abs(a - e);
            worst = Math.Max(worst, err);
            Assert.True(err <= AbsoluteTolerance + RelativeTolerance * Math.Abs(e), $"{name}: output {k} ('{info.Name}') element {i}: actual {a:R}, expected {e:R}.");
        }
        output.WriteLine($"PASSED output {k} '{info.Name}' ({(batched ? "first axis as batch" : "whole input as one sample")}{note}), max |diff| {worst:G3}.");
    }

    private static OnnxImportResult Import(ModelProto proto, string name, Dictionary<string, OnnxConst> fixedInputs, bool batched) =>
        OnnxImporter.ImportGraph(proto, name, new OnnxImportOptions { FirstAxisIsBatch = batched, FixedInputs = fixedInputs });
}
