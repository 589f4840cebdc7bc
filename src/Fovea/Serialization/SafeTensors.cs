using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace Fovea.Serialization;

/// <summary>
/// The safetensors container (a standard readable by PyTorch, Hugging Face and others): an 8-byte little-endian header
/// length, a UTF-8 JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}, then raw
/// little-endian tensor bytes. Fovea writes F32 only.
/// </summary>
public static class SafeTensors
{
    /// <summary>Header sizes above this are refused as corrupt.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Writes named float tensors and string metadata to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, IReadOnlyList<(string Name, int[] Shape, float[] Values)> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var header = new JsonObject();
        var meta = new JsonObject();
        foreach (var (k, v) in metadata) meta[k] = v;
        header["__metadata__"] = meta;
        long offset = 0;
        foreach (var (name, shape, values) in tensors)
        {
            long bytes = (long)values.Length * 4;
            header[name] = new JsonObject
            {
                ["dtype"] = "F32",
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
        foreach (var (_, _, values) in tensors)
        {
            var bytes = new byte[values.Length * 4];
            for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
            stream.Write(bytes);
        }
    }

    /// <summary>Reads every F32 tensor and the metadata; throws <see cref="FormatException"/> naming <paramref name="source"/> and the problem.</summary>
    public static (Dictionary<string, (int[] Shape, float[] Values)> Tensors, Dictionary<string, string> Metadata) Read(byte[] file, string source)
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

    private static (Dictionary<string, (int[] Shape, float[] Values)> Tensors, Dictionary<string, string> Metadata) ReadEntries(
        byte[] file, long dataStart, JsonObject header, string source)
    {
        long dataLength = file.Length - dataStart;
        var metadata = new Dictionary<string, string>();
        var tensors = new Dictionary<string, (int[], float[])>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                if (node is JsonObject m) foreach (var (k, v) in m) metadata[k] = v?.GetValue<string>() ?? "";
                continue;
            }
            // A null among the numbers would be dereferenced by the casts below (a NullReferenceException, not a format error).
            if (node is not JsonObject t || (string?)t["dtype"] != "F32" || t["shape"] is not JsonArray shapeJson || t["data_offsets"] is not JsonArray offs
                || offs.Count != 2 || shapeJson.Contains(null) || offs.Contains(null))
                throw new FormatException($"{source}: tensor '{name}' must have dtype F32, a shape and two data offsets; received {node?.ToJsonString()}.");
            var shape = shapeJson.Select(d => (int)d!).ToArray();
            long begin = (long)offs[0]!, end = (long)offs[1]!;
            // Negative sizes could multiply to a count that matches the bytes, and large ones wrap around a long: both refused (-1).
            long count = 1;
            foreach (int d in shape)
                count = count < 0 || d < 0 || (d > 0 && count > Array.MaxLength / d) ? -1 : count * d;
            if (count < 0 || begin < 0 || end < begin || end > dataLength || end - begin != count * 4)
                throw new FormatException($"{source}: tensor '{name}' of shape ({string.Join(", ", shape)}) claims bytes [{begin}, {end}) but the data section has {dataLength} bytes (truncated or corrupt file).");
            var values = new float[count];
            var src = file.AsSpan((int)(dataStart + begin), (int)(end - begin));
            for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(src.Slice(i * 4));
            tensors[name] = (shape, values);
        }
        return (tensors, metadata);
    }
}
