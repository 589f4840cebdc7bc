using System.Text.Json.Nodes;
using Fovea.Models;

namespace Fovea.Serialization;

/// <summary>
/// The Fovea model file (*.fovea): one safetensors container holding every weight and buffer as F32 tensors named
/// "layer.param" (or, saved with a compact <see cref="WeightStorage"/>, the large weights as F16, or I8 with a per-channel
/// F32 scale tensor "layer.param.int8_scale"), with metadata "format" = "fovea", "format_version", "architecture"
/// (JSON: layers, class names, input normalisation) and "checksum" (SHA-256 of weights and metadata: a damaged file is
/// refused, naming it).
/// Saves are atomic: a crash never leaves a half-written file in place of a good one.
/// </summary>
public static class ModelFile
{
    /// <summary>
    /// The newest format version this build reads. It writes version 1 (all float32, readable by every Fovea) unless a
    /// compact <see cref="WeightStorage"/> is asked for: version 2, which older builds refuse with a request to upgrade.
    /// </summary>
    public const int FormatVersion = 2;

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> (via a temporary file and an atomic rename).</summary>
    public static void Save(Model model, string path) => Write(model, path, [], new Dictionary<string, string>());

    /// <summary>
    /// Writes <paramref name="model"/> with its large weights stored as <paramref name="storage"/> says: float16 halves the
    /// file, int8 quarters it, at the cost of rounding the weights (loaded, they are float32 again). Measure what that
    /// does to your accuracy before you ship the smaller file (<c>fovea compress</c> reports the output differences).
    /// </summary>
    public static void Save(Model model, string path, WeightStorage storage) => Write(model, path, [], new Dictionary<string, string>(), storage);

    /// <summary>
    /// Writes the model's weights and metadata plus <paramref name="extraTensors"/> and <paramref name="extraMetadata"/>
    /// (a training checkpoint's state), atomically: the file is complete and on disk before it takes the path's name.
    /// </summary>
    internal static void Write(Model model, string path, IReadOnlyList<(string Name, int[] Shape, float[] Values)> extraTensors,
        IReadOnlyDictionary<string, string> extraMetadata, WeightStorage storage = WeightStorage.Float32)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!Enum.IsDefined(storage)) throw new ArgumentOutOfRangeException(nameof(storage), storage, $"Unknown weight storage {(int)storage}; expected Float32, Float16 or Int8.");
        // Load refuses such a file: better to say so now than to write a model that cannot be read back.
        model.CheckClassNamesFitOutputs();
        var tensors = WeightEncoding.Encode(model, storage);
        tensors.AddRange(extraTensors.Select(t => SafeTensors.Float32(t.Name, t.Shape, t.Values)));
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "fovea",
            ["format_version"] = storage == WeightStorage.Float32 ? "1" : "2",
            ["architecture"] = ModelArchitecture.ToJson(model).ToJsonString(),
        };
        if (storage != WeightStorage.Float32) metadata[WeightEncoding.MetadataKey] = storage.ToString().ToLowerInvariant();
        foreach (var (key, value) in extraMetadata) metadata[key] = value;
        metadata[ModelChecksum.MetadataKey] = ModelChecksum.Compute(tensors, metadata);
        WriteAtomically(path, stream => SafeTensors.WriteEntries(stream, tensors, metadata));
    }

    /// <summary>Runs <paramref name="write"/> on a temporary file beside <paramref name="path"/>, flushes it to disk, then renames it over the path.</summary>
    internal static void WriteAtomically(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new ArgumentException($"{path} is a folder; give the file's path, e.g. {Path.Combine(path, "model.fovea")}.", nameof(path));
        string? dir = Path.GetDirectoryName(full);
        if (dir is not null) Directory.CreateDirectory(dir);
        string temp = full + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Reads a model file; throws <see cref="FileNotFoundException"/> or <see cref="FormatException"/> naming the file and the problem.</summary>
    public static Model Load(string path)
    {
        var (tensors, metadata) = ReadContainer(path, "model file");
        return BuildModel(path, tensors, metadata);
    }

    /// <summary>The tensors and metadata of a Fovea file (model or training checkpoint), its format and version checked.</summary>
    internal static (Dictionary<string, (int[] Shape, float[] Values)> Tensors, Dictionary<string, string> Metadata) ReadContainer(string path, string what)
    {
        if (Directory.Exists(path)) throw new FileNotFoundException($"{path} is a folder; expected a {what}.", path);
        long? length = LinkedFile.Length(path);
        if (length is null) throw new FileNotFoundException($"{char.ToUpperInvariant(what[0])}{what[1..]} not found: {path}{LinkedFile.NotFoundNote(path)}", path);
        // Pipes and devices report 0 bytes: refused before reading, which would wait for ever for a pipe's writer.
        if (length == 0) throw new FormatException($"{path} is empty (0 bytes) or not a regular file; expected a {what}.");
        byte[] file = File.ReadAllBytes(path);
        Dictionary<string, (int[] Shape, float[] Values, string DType)> typed;
        Dictionary<string, string> metadata;
        try { (typed, metadata) = SafeTensors.ReadTyped(file, path); }
        catch (FormatException e) when (LooksLikeOnnx(path, file))
        {
            // ONNX files are the other model files an app holds; their reader is in another package.
            throw new FormatException($"{e.Message} It looks like an ONNX model: import it with Fovea.Onnx's OnnxImporter.Import(path).", e);
        }
        if (!metadata.TryGetValue("format", out var format) || format != "fovea")
            throw new FormatException($"{path}: a safetensors file, but not a Fovea {what} (metadata 'format' is '{format ?? "missing"}', expected 'fovea').");
        if (!metadata.TryGetValue("format_version", out var versionText) || !int.TryParse(versionText, out int version) || version < 1)
            throw new FormatException($"{path}: missing or invalid format_version '{versionText}'.");
        if (version > FormatVersion)
            throw new FormatException($"{path} was written by a newer Fovea (model format version {version}); this build reads versions up to {FormatVersion}. Upgrade Fovea to load it.");
        ModelChecksum.Verify(file, metadata, path);
        return (WeightEncoding.Decode(typed, path), metadata);
    }

    /// <summary>The model described by the metadata's architecture, with the weights of <paramref name="tensors"/> (checked: present, shaped, finite).</summary>
    internal static Model BuildModel(string path, Dictionary<string, (int[] Shape, float[] Values)> tensors, Dictionary<string, string> metadata)
    {
        if (!metadata.TryGetValue("architecture", out var archText))
            throw new FormatException($"{path}: the model architecture is missing from the metadata.");
        JsonNode? archNode;
        // A field named twice would otherwise surface on first read as an ArgumentException naming neither file nor field.
        try { archNode = JsonNode.Parse(archText, documentOptions: new System.Text.Json.JsonDocumentOptions { AllowDuplicateProperties = false }); }
        catch (System.Text.Json.JsonException e)
        {
            throw new FormatException($"{path}: the model architecture is not valid JSON ({e.Message}).");
        }
        if (archNode is not JsonObject arch)
            throw new FormatException($"{path}: the model architecture is {archNode?.ToJsonString() ?? "null"}; expected a JSON object.");
        Model model;
        try
        {
            using var budget = WeightBudget.Limit(tensors.Values.Sum(t => (long)t.Values.Length));
            model = ModelArchitecture.FromJson(arch);
        }
        catch (FormatException e) { throw new FormatException($"{path}: invalid model architecture: {e.Message}", e); }
        foreach (var p in model.Parameters)
        {
            if (!tensors.TryGetValue(p.Name, out var t))
                throw new FormatException($"{path}: weight '{p.Name}' is missing.");
            if (!t.Shape.AsSpan().SequenceEqual(p.Value.Shape))
                throw new FormatException($"{path}: weight '{p.Name}' has shape ({string.Join(", ", t.Shape)}) but the architecture needs ({string.Join(", ", p.Value.Shape)}).");
            // A model holding NaN, or an infinite learned weight (a diverged run, a damaged file), would load and then answer
            // nonsense. An infinite constant buffer is a value an imported graph may mean (a −∞ mask): it is kept.
            int bad = IndexOfInvalid(t.Values, allowInfinity: p.IsBuffer);
            if (bad >= 0)
                throw new FormatException($"{path}: weight '{p.Name}' holds {t.Values[bad].ToString(System.Globalization.CultureInfo.InvariantCulture)} at index {bad}; a model with NaN or infinite weights gives meaningless predictions (did its training diverge?).");
            p.Value.CopyFrom(t.Values);
        }
        int outputs = model.OutputShape.Aggregate(1, (a, b) => a * b);
        if (model.ClassNames.Count != 0 && model.ClassNames.Count != outputs)
            throw new FormatException($"{path}: {model.ClassNames.Count} class names for {outputs} outputs.");
        return model;
    }

    /// <summary>A name ending in .onnx, or a first byte that is the tag of ONNX's ir_version, which every exporter writes first.</summary>
    private static bool LooksLikeOnnx(string path, byte[] bytes) =>
        path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) || (bytes.Length > 0 && bytes[0] == 0x08);

    private static int IndexOfInvalid(ReadOnlySpan<float> values, bool allowInfinity)
    {
        for (int i = 0; i < values.Length; i++)
            if (float.IsNaN(values[i]) || (!allowInfinity && float.IsInfinity(values[i]))) return i;
        return -1;
    }
}
