using Fovea.Onnx.Proto;
using Google.Protobuf;

namespace Fovea.Onnx.Tests;

/// <summary>Builds small hand-written ONNX models (one float input "x", one output "y") for tests.</summary>
internal sealed class GraphBuilder
{
    private readonly GraphProto _graph = new() { Name = "hand" };
    private readonly int _opset;

    public GraphBuilder(int opset, params long[] inputShape)
    {
        _opset = opset;
        _graph.Input.Add(Value("x", inputShape));
    }

    public static ValueInfoProto Value(string name, long[] shape)
    {
        var s = new TensorShapeProto();
        foreach (long d in shape)
            s.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = OnnxTensor.Float, Shape = s } } };
    }

    public GraphBuilder Floats(string name, float[] values, params long[] dims)
    {
        _graph.Initializer.Add(OnnxTensor.FromFloats(name, values, dims));
        return this;
    }

    public GraphBuilder Longs(string name, params long[] values)
    {
        _graph.Initializer.Add(OnnxTensor.FromLongs(name, values, values.Length));
        return this;
    }

    public NodeProto Node(string op, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = $"{op.ToLowerInvariant()}_{_graph.Node.Count}" };
        n.Input.AddRange(inputs); n.Output.Add(output); n.Attribute.AddRange(attributes);
        _graph.Node.Add(n);
        return n;
    }

    public static AttributeProto Int(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };
    public static AttributeProto Float(string name, float v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = v };
    public static AttributeProto Str(string name, string v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(v) };
    public static AttributeProto Ints(string name, params long[] v)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(v);
        return a;
    }

    /// <summary>The model whose output is value <paramref name="output"/> (declared with rank only when no shape is given).</summary>
    public ModelProto Build(string output, params long[] outputShape)
    {
        _graph.Output.Clear();
        _graph.Output.Add(Value(output, outputShape));
        var m = new ModelProto { IrVersion = _opset <= 9 ? 4 : _opset <= 10 ? 5 : 7, ProducerName = "tests", Graph = _graph };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = _opset });
        return m;
    }

    public static byte[] Bytes(ModelProto m) => m.ToByteArray();
}
