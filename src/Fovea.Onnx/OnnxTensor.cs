using System.Buffers.Binary;
using Google.Protobuf;
using Fovea.Onnx.Proto;

namespace Fovea.Onnx;

/// <summary>A constant met while importing (initializer, Constant node, fixed input): values widened to double.</summary>
internal sealed record OnnxConst(int[] Shape, double[] Values, int DataType)
{
    public int Length => Values.Length;
    public float[] Floats() => Values.Select(v => (float)v).ToArray();
    public long[] Longs() => Values.Select(v => (long)v).ToArray();
    public float Scalar(string what)
    {
        if (Values.Length != 1) throw new OnnxTensorException($"{what} must hold a single value; it has shape [{string.Join(", ", Shape)}].");
        return (float)Values[0];
    }

    public static OnnxConst FromFloats(float[] values, params int[] shape) => new(shape, values.Select(v => (double)v).ToArray(), (int)TensorProto.Types.DataType.Float);
}

/// <summary>TensorProto ⇄ values.</summary>
internal static class OnnxTensor
{
    public const int Float = (int)TensorProto.Types.DataType.Float;
    public const int Int64 = (int)TensorProto.Types.DataType.Int64;

    public static string TypeName(int dataType) => Enum.IsDefined(typeof(TensorProto.Types.DataType), dataType)
        ? ((TensorProto.Types.DataType)dataType).ToString().ToLowerInvariant() : $"type {dataType}";

    public static OnnxConst Read(TensorProto t, string what)
    {
        if (t.DataLocation == TensorProto.Types.DataLocation.External)
            throw new OnnxTensorException($"{what} '{t.Name}' keeps its data in an external file, which Fovea does not read; save the model with the data inside.");
        var shape = new int[t.Dims.Count];
        long count = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (t.Dims[i] < 0 || t.Dims[i] > int.MaxValue) throw new OnnxTensorException($"{what} '{t.Name}' has an invalid dimension {t.Dims[i]}.");
            shape[i] = (int)t.Dims[i]; count *= shape[i];
        }
        if (count > int.MaxValue) throw new OnnxTensorException($"{what} '{t.Name}' is too large ({count} values).");
        var raw = t.RawData.Span;
        double[] values;
        int n = (int)count;
        switch ((TensorProto.Types.DataType)t.DataType)
        {
            case TensorProto.Types.DataType.Float:
                values = t.HasRawData ? Raw(raw, n, 4, what, t.Name, b => BinaryPrimitives.ReadSingleLittleEndian(b)) : Field(t.FloatData.Select(v => (double)v), n, what, t.Name);
                break;
            case TensorProto.Types.DataType.Double:
                values = t.HasRawData ? Raw(raw, n, 8, what, t.Name, b => BinaryPrimitives.ReadDoubleLittleEndian(b)) : Field(t.DoubleData, n, what, t.Name);
                break;
            case TensorProto.Types.DataType.Int64:
                values = t.HasRawData ? Raw(raw, n, 8, what, t.Name, b => BinaryPrimitives.ReadInt64LittleEndian(b)) : Field(t.Int64Data.Select(v => (double)v), n, what, t.Name);
                break;
            case TensorProto.Types.DataType.Int32:
                values = t.HasRawData ? Raw(raw, n, 4, what, t.Name, b => BinaryPrimitives.ReadInt32LittleEndian(b)) : Field(t.Int32Data.Select(v => (double)v), n, what, t.Name);
                break;
            case TensorProto.Types.DataType.Bool:
            case TensorProto.Types.DataType.Uint8:
                values = t.HasRawData ? Raw(raw, n, 1, what, t.Name, b => b[0]) : Field(t.Int32Data.Select(v => (double)v), n, what, t.Name);
                break;
            case TensorProto.Types.DataType.Int8:
                values = t.HasRawData ? Raw(raw, n, 1, what, t.Name, b => (sbyte)b[0]) : Field(t.Int32Data.Select(v => (double)v), n, what, t.Name);
                break;
            default:
                throw new OnnxTensorException($"{what} '{t.Name}' has element type {TypeName(t.DataType)}; Fovea reads float, double, int64, int32, int8, uint8 and bool tensors.");
        }
        return new OnnxConst(shape, values, t.DataType);
    }

    private delegate double Decode(ReadOnlySpan<byte> bytes);

    private static double[] Raw(ReadOnlySpan<byte> raw, int n, int size, string what, string name, Decode decode)
    {
        if (raw.Length != (long)n * size)
            throw new OnnxTensorException($"{what} '{name}' should hold {n} values ({(long)n * size} bytes) but has {raw.Length} bytes (truncated or corrupt).");
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = decode(raw.Slice(i * size, size));
        return v;
    }

    private static double[] Field(IEnumerable<double> data, int n, string what, string name)
    {
        var v = data.ToArray();
        if (v.Length != n) throw new OnnxTensorException($"{what} '{name}' should hold {n} values but has {v.Length} (truncated or corrupt).");
        return v;
    }

    public static TensorProto FromFloats(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        var t = new TensorProto { Name = name, DataType = Float, RawData = ByteString.CopyFrom(bytes) };
        t.Dims.AddRange(dims);
        return t;
    }

    public static TensorProto FromLongs(string name, long[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = Int64 };
        t.Int64Data.AddRange(values);
        t.Dims.AddRange(dims);
        return t;
    }
}
