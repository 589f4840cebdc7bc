using Fovea.Onnx.Proto;
using Fovea.Tensors;

namespace Fovea.Onnx.Tests;

/// <summary>
/// A variant of the conformance harness for Add, Mul, Concat, MatMul and Gemm: the main harness binds every input but the
/// first to a constant, so these operators only ever meet one computed operand. Here each further input is computed from
/// the first (max(x)·0 reshaped to the operand's rank, plus the operand's value), so the operator sees only computed
/// inputs (MatMul's and Gemm's B then go through <see cref="Layers.MatMulPair"/>, not a learned weight).
/// </summary>
public class ComputedOperandConformanceTests(ITestOutputHelper output)
{
    private static readonly string[] Operators = ["Add", "Mul", "Concat", "MatMul", "Gemm"];

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        if (TestData.ConformanceRoot is null) { data.Add("(conformance data not found)"); return data; }
        foreach (var cols in File.ReadAllLines(Path.Combine(TestData.ConformanceRoot, "INDEX.tsv")).Select(l => l.Split('\t')))
            if (cols.Length >= 4 && Operators.Contains(cols[1]) && cols[3].Contains(';')) data.Add(cols[0]);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case(string name)
    {
        Assert.True(TestData.ConformanceRoot is not null, "conformance data not found (set FOVEA_ONNX_CONFORMANCE).");
        var dir = Path.Combine(TestData.ConformanceRoot!, name);
        var proto = OnnxFile.ReadModel(Path.Combine(dir, "model.onnx"));
        var data = Path.Combine(dir, "test_data_set_0");
        var inputs = proto.Graph.Input.ToList();
        var x0 = inputs[0].Name;
        var node = proto.Graph.Node.Single();
        for (int i = 1; i < inputs.Count; i++)
        {
            var value = OnnxFile.ReadTensor(Path.Combine(data, $"input_{i}.pb"));
            string v = inputs[i].Name, p = $"computed_{i}";
            value.Name = p + "_value";
            proto.Graph.Initializer.Add(value);
            proto.Graph.Initializer.Add(OnnxTensor.FromLongs(p + "_ones", Enumerable.Repeat(1L, value.Dims.Count).ToArray(), value.Dims.Count));
            proto.Graph.Initializer.Add(OnnxTensor.FromFloats(p + "_zero", [0f]));
            // Axes omitted: the maximum over every axis, at every opset.
            var nodes = new[]
            {
                Node("ReduceMax", [x0], p + "_max", new AttributeProto { Name = "keepdims", Type = AttributeProto.Types.AttributeType.Int, I = 1 }),
                Node("Reshape", [p + "_max", p + "_ones"], p + "_one"),
                Node("Mul", [p + "_one", p + "_zero"], p + "_nil"),
                Node("Add", [p + "_nil", p + "_value"], p),
            };
            for (int k = 0; k < nodes.Length; k++) proto.Graph.Node.Insert(proto.Graph.Node.Count - 1, nodes[k]);
            for (int k = 0; k < node.Input.Count; k++) if (node.Input[k] == v) node.Input[k] = p;
            proto.Graph.Input.Remove(inputs[i]);
        }

        var model = OnnxImporter.Import(proto, name, new OnnxImportOptions { FirstAxisIsBatch = false });
        var x = OnnxTensor.Read(OnnxFile.ReadTensor(Path.Combine(data, "input_0.pb")), "input_0");
        var y = model.Predict(new Tensor([1, .. x.Shape], x.Floats()));
        var expected = OnnxTensor.Read(OnnxFile.ReadTensor(Path.Combine(data, "output_0.pb")), "output_0");
        Assert.Equal(expected.Shape, y.Shape[1..]);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(y.Span[i] - expected.Values[i]) <= 1e-7 + 1e-3 * Math.Abs(expected.Values[i]), $"element {i}: {y.Span[i]} vs {expected.Values[i]}");
        output.WriteLine($"PASSED with {inputs.Count} computed operands.");
    }

    private static NodeProto Node(string op, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = output };
        n.Input.AddRange(inputs); n.Output.Add(output); n.Attribute.AddRange(attributes);
        return n;
    }
}
