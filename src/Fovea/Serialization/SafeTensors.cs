using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace Fovea.Serialization;

/// <summary>
/// The safetensors container (a standard readable by PyTorch, Hugging Face and others): an 8-byte little-endian header
/// length, a UTF-8 JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}, then raw
/// little-endian tensor bytes. Fovea writes F32, and F16 or I8 for model files saved with a compact
/// <see cref="WeightStorage"/>; it reads those three.
/// </summary>
public static class SafeTensors
{
    /// <summary>One stored tensor: its name, shape, safetensors dtype ("F32", "F16" or "I8") and little-endian bytes.</summary>
    internal readonly record struct Entry(string Name, int[] Shape, string DType, byte[] Data);

    /// <summary>Bytes per element of the dtypes Fovea reads and writes.</summary>
    private static int ElementBytes(string dtype) => dtype switch { "F32" => 4, "F16" => 2, "I8" => 1, _ => 0 };

    /// <summary>Little-endian float32 bytes of <paramref name="values"/>: the F32 entry Fovea writes by default.</summary>
    internal static Entry Float32(string name, int[] shape, float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return new Entry(name, shape, "F32", bytes);
    }
    /// <summary>Header sizes above this are refused as corrupt.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Writes named float tensors and string metadata to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, IReadOnlyList<(string Name, int[] Shape, float[] Values)> tensors, IReadOnlyDictionary<string, string> metadata) =>
        WriteEntries(stream, tensors.Select(t => Float32(t.Name, t.Shape, t.Values)).ToList(), metadata);

    /// <summary>Writes stored tensors (any of the dtypes Fovea knows) and string metadata to <paramref name="stream"/>.</summary>
    internal static void WriteEntries(Stream stream, IReadOnlyList<Entry> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var header = new JsonObject();
        var meta = new JsonObject();
        foreach (var (k, v) in metadata) meta[k] = v;
        header["__metadata__"] = meta;
        long offset = 0;
        foreach (var (name, shape, dtype, data) in tensors)
        {
            long bytes = data.Length;
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (headerBytes.Length + 7) / 8 * 8; // the format pads the header with spaces to 8-byte alignment
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
        stream.Write(len);
        stream.Write(headerBytes);
        for (int i = headerBytes.Length; i < padded; i++) stream.WriteByte((byte)' ');
        foreach (var entry in tensors) stream.Write(entry.Data);
    }

    /// <summary>
    /// Reads every tensor as floats (F16 widened, I8 as its integer values) and the metadata; throws
    /// <see cref="FormatException"/> naming <paramref name="source"/> and the problem.
    /// </summary>
    public static (Dictionary<string, (int[] Shape, float[] Values)> Tensors, Dictionary<string, string> Metadata) Read(byte[] file, string source)
    {
        var (tensors, metadata) = ReadTyped(file, source);
        return (tensors.ToDictionary(kv => kv.Key, kv => (kv.Value.Shape, kv.Value.Values)), metadata);
    }

    /// <summary>As <see cref="Read"/>, also giving each tensor's stored dtype.</summary>
    internal static (Dictionary<string, (int[] Shape, float[] Values, string DType)> Tensors, Dictionary<string, string> Metadata) ReadTyped(byte[] file, string source)
    {
        if (file.Length < 8) throw new FormatException($"{source}: file is {file.Length} bytes, too short to be a safetensors model file.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerLength > MaxHeaderBytes || (long)headerLength > file.Length - 8)
            throw new FormatException($"{source}: header length {headerLength} does not fit a file of {file.Length} bytes (truncated or not a safetensors file).");
        JsonObject header;
        try { header = JsonNode.Parse(file.AsSpan(8, (int)headerLength))!.AsObject(); }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new FormatException($"{source}: the header is not valid JSON ({e.Message}).");
        }
        try { return ReadEntries(file, 8 + (long)headerLength, header, source); }
        catch (FormatException e) when (e.Message.StartsWith(source, StringComparison.Ordinal)) { throw; } // already ours
        catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException or ArgumentException
            or System.Text.Json.JsonException) // values of the wrong JSON type, out of range, repeated keys, bad UTF-8
        {
            throw new FormatException($"{source}: the header is malformed ({e.Message}).", e);
        }
    }

    private static (Dictionary<string, (int[] Shape, float[] Values, string DType)> Tensors, Dictionary<string, string> Metadata) ReadEntries(
        byte[] file, long dataStart, JsonObject header, string source)
    {
        long dataLength = file.Length - dataStart;
        var metadata = new Dictionary<string, string>();
        var tensors = new Dictionary<string, (int[], float[], string)>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                if (node is JsonObject m) foreach (var (k, v) in m) metadata[k] = v?.GetValue<string>() ?? "";
                continue;
            }
            // A null among the numbers would be dereferenced by the casts below (a NullReferenceException, not a format error).
            if (node is not JsonObject t || t["dtype"] is not JsonValue dtypeJson || ElementBytes((string)dtypeJson!) == 0
                || t["shape"] is not JsonArray shapeJson || t["data_offsets"] is not JsonArray offs
                || offs.Count != 2 || shapeJson.Contains(null) || offs.Contains(null))
                throw new FormatException($"{source}: tensor '{name}' must have dtype F32, F16 or I8, a shape and two data offsets; received {node?.ToJsonString()}.");
            string dtype = (string)dtypeJson!;
            int elementBytes = ElementBytes(dtype);
            var shape = shapeJson.Select(d => (int)d!).ToArray();
            long begin = (long)offs[0]!, end = (long)offs[1]!;
            // Negative sizes could multiply to a count that matches the bytes, and large ones wrap around a long: both refused (-1).
            long count = 1;
            foreach (int d in shape)
                count = count < 0 || d < 0 || (d > 0 && count > Array.MaxLength / d) ? -1 : count * d;
            if (count < 0 || begin < 0 || end < begin || end > dataLength || end - begin != count * elementBytes)
                throw new FormatException($"{source}: tensor '{name}' of shape ({string.Join(", ", shape)}) claims bytes [{begin}, {end}) but the data section has {dataLength} bytes (truncated or corrupt file).");
            var values = new float[count];
            var src = file.AsSpan((int)(dataStart + begin), (int)(end - begin));
            switch (dtype)
            {
                case "F32": for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(src.Slice(i * 4)); break;
                case "F16": for (int i = 0; i < values.Length; i++) values[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(src.Slice(i * 2)); break;
                default: for (int i = 0; i < values.Length; i++) values[i] = (sbyte)src[i]; break;
            }
            tensors[name] = (shape, values, dtype);
        }
        return (tensors, metadata);
    }
}
