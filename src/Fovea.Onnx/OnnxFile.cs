using Google.Protobuf;
using Fovea.Onnx.Proto;

namespace Fovea.Onnx;

/// <summary>Reads and writes the ONNX protobuf files, turning parser failures into <see cref="OnnxImportException"/>.</summary>
internal static class OnnxFile
{
    public static ModelProto ReadModel(string path)
    {
        byte[] bytes;
        // Pipes and devices report 0 bytes too (through symbolic links): checked before reading, which would block on a FIFO.
        long? length = Fovea.Serialization.LinkedFile.Length(path);
        if (length == 0) throw new OnnxImportException($"'{path}' is empty (0 bytes) or not a regular file, not an ONNX model.");
        // Protobuf caps a message at 2 GB; refused before reading, which .NET refuses too, naming neither file nor cause.
        if (length > int.MaxValue)
            throw new OnnxImportException($"'{path}' is {length} bytes, over the 2 GB an ONNX model file can hold (protobuf's limit); larger models keep their weights in external data files, which Fovea does not read.");
        try { bytes = File.ReadAllBytes(path); }
        catch (FileNotFoundException) { throw new FileNotFoundException($"ONNX file '{path}' does not exist.", path); }
        return ParseModel(bytes, path);
    }

    public static ModelProto ParseModel(byte[] bytes, string source)
    {
        if (bytes.Length == 0) throw new OnnxImportException($"'{source}' is empty, not an ONNX model.");
        // A safetensors file (a Fovea model) starts with its header's length and then the header's '{'.
        if (bytes.Length > 8 && bytes[8] == (byte)'{' && System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes) < (ulong)bytes.Length)
            throw new OnnxImportException($"'{source}' is a Fovea model file (safetensors), not an ONNX model: load it with Fovea.Serialization.ModelFile.Load.");
        ModelProto model;
        try { model = ModelProto.Parser.ParseFrom(bytes); }
        catch (Exception e) when (IsParseFailure(e))
        {
            throw new OnnxImportException($"'{source}' is not a valid ONNX model (malformed or truncated protobuf, {bytes.Length} bytes): {ParseFailure(e)}", e);
        }
        if (model.Graph is null || (model.Graph.Node.Count == 0 && model.Graph.Output.Count == 0))
            throw new OnnxImportException($"'{source}' holds no ONNX graph (is it an ONNX model? it parsed as protobuf but has no nodes or outputs).");
        return model;
    }

    public static TensorProto ReadTensor(string path)
    {
        try { return TensorProto.Parser.ParseFrom(File.ReadAllBytes(path)); }
        catch (Exception e) when (IsParseFailure(e)) { throw new OnnxImportException($"'{path}' is not a valid ONNX TensorProto: {ParseFailure(e)}", e); }
    }

    /// <summary>
    /// What Google.Protobuf throws for malformed bytes: InvalidProtocolBufferException, or IndexOutOfRangeException when a
    /// length near 2 GB overflows its limit arithmetic and it reads past the buffer (protocolbuffers/protobuf#26856).
    /// </summary>
    private static bool IsParseFailure(Exception e) => e is InvalidProtocolBufferException or IndexOutOfRangeException;

    private static string ParseFailure(Exception e) =>
        e is InvalidProtocolBufferException ? e.Message : "a field's length runs past the end of the data.";

    public static void WriteModel(ModelProto model, string path) => WriteAtomic(path, model.ToByteArray());

    /// <summary>
    /// Writes <paramref name="bytes"/> to <paramref name="path"/> through a temporary file in the same folder and a rename,
    /// so the target is either its old content or the whole new file, never half-written; the temporary file is removed
    /// when anything fails. The folder is created when missing.
    /// </summary>
    public static void WriteAtomic(string path, byte[] bytes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new IOException($"Cannot write the ONNX model to '{path}': it is a folder; expected a file path.");
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = $"{full}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
