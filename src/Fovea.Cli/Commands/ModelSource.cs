using System.Buffers.Binary;
using Fovea.Models;
using Fovea.Onnx;
using Fovea.Serialization;

namespace Fovea.Cli.Commands;

/// <summary>
/// Loads the model a command names: a Fovea model file (safetensors) or an ONNX file (imported on the fly), told apart
/// by their first bytes, not by the file name, so an ONNX model saved as model.pb loads too.
/// </summary>
internal static class ModelSource
{
    /// <summary>What the first bytes of a model file say it is.</summary>
    internal enum Format { Fovea, Onnx, Unknown }

    /// <summary>A name ending in .onnx (for options that take either a name or a file).</summary>
    public static bool IsOnnx(string path) => path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    public static Model Load(string path)
    {
        CliFiles.Input(path, "Model file");
        return Detect(path) switch
        {
            Format.Fovea => ModelFile.Load(path),
            Format.Onnx => OnnxImporter.Import(path),
            _ => throw new FormatException(
                $"Model file {path} is neither a Fovea model (a safetensors file: an 8-byte little-endian header length, then a JSON header starting with '{{') " +
                $"nor an ONNX model (a protobuf ModelProto); it starts with bytes {Hex(path)}."),
        };
    }

    /// <summary>
    /// A safetensors file starts with its header length (8 bytes, little-endian) followed by the JSON header's '{'. An ONNX
    /// file is a protobuf ModelProto, whose first byte is the tag of one of its fields (ir_version is written first by
    /// every exporter); a name ending in .onnx is also read as ONNX, so a damaged ONNX file gets the ONNX reader's message.
    /// </summary>
    internal static Format Detect(string path)
    {
        Span<byte> head = stackalloc byte[9];
        int n;
        using (var stream = File.OpenRead(path)) n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        // A header length beyond 4 GiB is no Fovea file (and rules out protobuf bytes that happen to have '{' at offset 8).
        if (n == 9 && head[8] == (byte)'{' && BinaryPrimitives.ReadUInt64LittleEndian(head) < uint.MaxValue) return Format.Fovea;
        if (IsOnnx(path)) return Format.Onnx;
        return n > 0 && IsModelProtoTag(head[0]) ? Format.Onnx : Format.Unknown;
    }

    // Tags (field number << 3 | wire type) of ModelProto's fields: ir_version 1 (varint), producer_name 2, producer_version 3,
    // domain 4 (strings), model_version 5 (varint), doc_string 6, graph 7, opset_import 8, metadata_props 14 (messages);
    // fields 16 and up (training_info, functions) need a two-byte tag whose first byte has the high bit set.
    private static bool IsModelProtoTag(byte b) => b is 0x08 or 0x12 or 0x1A or 0x22 or 0x28 or 0x32 or 0x3A or 0x42 or 0x72 || (b & 0x87) == 0x82;

    private static string Hex(string path)
    {
        var head = new byte[8];
        int n;
        using (var stream = File.OpenRead(path)) n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return string.Join(' ', head[..n].Select(b => b.ToString("x2")));
    }
}
