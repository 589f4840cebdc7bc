using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Fovea.Models;
using Fovea.Serialization;

namespace Fovea.Tests.Models;

public class ModelFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-modelfile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string SaveReference(out Model model)
    {
        model = ModelZoo.Reference([1, 28, 28], 10, seed: 7);
        model.ClassNames = Enumerable.Range(0, 10).Select(i => $"class {i}").ToArray();
        model.Normalization = new InputNormalization([0.5f], [0.25f]);
        string path = Path.Combine(_dir, "ref.fovea");
        ModelFile.Save(model, path);
        return path;
    }

    [Fact]
    public void KeepsClassNamesNormalizationAndIsReadableSafetensors()
    {
        string path = SaveReference(out var model);
        var loaded = ModelFile.Load(path);
        Assert.Equal(model.ClassNames, loaded.ClassNames);
        Assert.Equal([0.5f], loaded.Normalization!.Mean);
        // Another tool reads the container: 8-byte header length, JSON header with F32 tensors and our metadata.
        var bytes = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerLength))!.AsObject();
        Assert.Equal("F32", (string)header["conv2d.weight"]!["dtype"]!);
        Assert.Equal("fovea", (string)header["__metadata__"]!["format"]!);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp*"));
    }

    [Fact]
    public void RefusesANewerFormatVersionWithAClearMessage()
    {
        string path = SaveReference(out _);
        var bytes = File.ReadAllBytes(path);
        // Patch the version digit in place (same length, so every offset stays valid).
        var marker = Encoding.UTF8.GetBytes("\"format_version\":\"1\"");
        int at = bytes.AsSpan().IndexOf(marker);
        Assert.True(at > 0);
        bytes[at + marker.Length - 2] = (byte)'9';
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<FormatException>(() => ModelFile.Load(path));
        Assert.Contains("newer Fovea", e.Message);
        Assert.Contains("version 9", e.Message);
    }

    [Fact]
    public void AByteChangedInTheWeightsOrTheClassNamesIsRefusedAsDamaged()
    {
        string path = SaveReference(out _);
        var good = File.ReadAllBytes(path);
        long dataStart = 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(good);

        // A weight's low mantissa bit: still a finite float, a slightly different network without the checksum.
        var flipped = (byte[])good.Clone();
        flipped[dataStart + 1000] ^= 1;
        File.WriteAllBytes(path, flipped);
        var e = Assert.Throws<FormatException>(() => ModelFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("is damaged", e.Message);

        // A class name in the header: "class 3" read as "class 2" would label predictions wrongly.
        var renamed = (byte[])good.Clone();
        int at = renamed.AsSpan(0, (int)dataStart).IndexOf(Encoding.UTF8.GetBytes("class 3"));
        Assert.True(at > 0);
        renamed[at + 6] = (byte)'2';
        File.WriteAllBytes(path, renamed);
        Assert.Contains("is damaged", Assert.Throws<FormatException>(() => ModelFile.Load(path)).Message);

        File.WriteAllBytes(path, good);
        Assert.Equal(10, ModelFile.Load(path).ClassNames.Count);
    }

    [Fact]
    public void AFileWithoutAChecksumLoads()
    {
        // Files saved before the checksum existed, or written by another safetensors tool, carry none.
        string path = WriteArchitecture("unchecked.fovea", j => j.ToJsonString());
        Assert.DoesNotContain("checksum", Encoding.UTF8.GetString(File.ReadAllBytes(path)));
        Assert.Equal(3, ModelFile.Load(path).OutputShape[^1]);
    }

    [Fact]
    public void TruncatedFileNamesTheFile()
    {
        string path = SaveReference(out _);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<FormatException>(() => ModelFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void GarbageAndMissingFilesGiveClearErrors()
    {
        string garbage = Path.Combine(_dir, "garbage.fovea");
        File.WriteAllText(garbage, "hello, this is not a model");
        Assert.Contains(garbage, Assert.Throws<FormatException>(() => ModelFile.Load(garbage)).Message);
        string missing = Path.Combine(_dir, "missing.fovea");
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => ModelFile.Load(missing)).Message);
    }

    [Fact]
    public void SavingToAFolderPathNamesTheFolder()
    {
        SaveReference(out var model);
        var e = Assert.Throws<ArgumentException>(() => ModelFile.Save(model, _dir));
        Assert.Contains($"{_dir} is a folder; give the file's path", e.Message);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp*"));
    }

    [Fact]
    public void SavingOverAnExistingModelReplacesItWhole()
    {
        string path = SaveReference(out _);
        var other = ModelZoo.Default([1, 28, 28], 10);
        ModelFile.Save(other, path);
        Assert.Equal("default", ModelFile.Load(path).Name);
        Assert.Single(Directory.GetFiles(_dir));
    }

    private string WriteHeader(string name, byte[] headerJson)
    {
        string path = Path.Combine(_dir, name);
        var file = new byte[8 + headerJson.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)headerJson.Length);
        headerJson.CopyTo(file, 8);
        File.WriteAllBytes(path, file);
        return path;
    }

    [Theory]
    [InlineData("number-metadata", "{\"__metadata__\":{\"format\":1}}")]
    [InlineData("repeated-key", "{\"__metadata__\":{\"format\":\"fovea\"},\"__metadata__\":{}}")]
    [InlineData("shape-text", "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}")]
    [InlineData("offset-too-big", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}")]
    public void AMalformedHeaderIsAFormatErrorNamingTheFile(string name, string header)
    {
        string path = WriteHeader(name + ".fovea", Encoding.UTF8.GetBytes(header));
        var e = Assert.Throws<FormatException>(() => ModelFile.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void InvalidUtf8InTheHeaderIsAFormatError()
    {
        byte[] header = Encoding.UTF8.GetBytes("{\"__metadata__\":{\"format\":\"fovXa\"}}");
        header[Array.IndexOf(header, (byte)'X')] = 0xFF;
        string path = WriteHeader("utf8.fovea", header);
        Assert.Contains(path, Assert.Throws<FormatException>(() => ModelFile.Load(path)).Message);
    }

    [Fact]
    public void ClassNamesThatDoNotMatchTheOutputsAreRefused()
    {
        var model = ModelZoo.Reference([1, 28, 28], 10, seed: 7);
        model.ClassNames = ["only", "three", "names"];
        string path = Path.Combine(_dir, "names.fovea");
        // Save refuses such a model (ApiMisuseTests); another writer's file may still hold one.
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "fovea",
            ["format_version"] = "1",
            ["architecture"] = ModelArchitecture.ToJson(model).ToJsonString(),
        };
        using (var stream = File.Create(path))
            SafeTensors.Write(stream, model.Parameters.Select(p => (p.Name, p.Value.Shape, p.Value.ToArray())).ToList(), metadata);
        var e = Assert.Throws<FormatException>(() => ModelFile.Load(path));
        Assert.Contains("3 class names for 10 outputs", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void NormalizationIsCheckedWhenSet()
    {
        var model = ModelZoo.Reference([1, 28, 28], 10, seed: 7);
        Assert.Contains("Received: 0", Assert.Throws<ArgumentException>(() => model.Normalization = new InputNormalization([0.5f], [0f])).Message);
        Assert.Contains("Received: NaN", Assert.Throws<ArgumentException>(() => model.Normalization = new InputNormalization([float.NaN], [1f])).Message);
        Assert.Contains("2 means and 2 deviations", Assert.Throws<ArgumentException>(() => model.Normalization = new InputNormalization([0f, 0f], [1f, 1f])).Message);
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.NegativeInfinity, "-Infinity")]
    public void WeightsThatAreNotFiniteAreRefused(float value, string shown)
    {
        var model = ModelZoo.Reference([1, 28, 28], 10, seed: 7);
        var weight = model.Parameters.First(p => p.Name == "dense.weight");
        weight.Value.Span[5] = value;
        string path = Path.Combine(_dir, "diverged.fovea");
        ModelFile.Save(model, path);
        var e = Assert.Throws<FormatException>(() => ModelFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("'dense.weight'", e.Message);
        Assert.Contains($"holds {shown} at index 5", e.Message);
    }

    [Fact]
    public void AnInfiniteConstantBufferIsKeptAsAnImportedGraphMayMeanIt()
    {
        // E.g. an ONNX Add of a −∞ mask: a constant, not a learned weight, so it round-trips.
        var model = new Sequential([1, 2, 2], "masked").Base(new Fovea.Layers.ConstantArithmetic(Fovea.Autograd.BinaryOp.Add, [1, 2, 2], name: "mask"));
        var mask = model.Parameters.Single();
        Assert.True(mask.IsBuffer);
        mask.Value.Span[3] = float.NegativeInfinity;
        string path = Path.Combine(_dir, "masked.fovea");
        ModelFile.Save(model, path);
        Assert.Equal(float.NegativeInfinity, ModelFile.Load(path).Parameters.Single().Value.Span[3]);
        mask.Value.Span[3] = float.NaN;
        ModelFile.Save(model, path);
        Assert.Contains("holds NaN at index 3", Assert.Throws<FormatException>(() => ModelFile.Load(path)).Message);
    }

    /// <summary>Saves a small model whose architecture metadata has been changed by <paramref name="edit"/> (given the JSON, returns the text).</summary>
    private string WriteArchitecture(string name, Func<JsonObject, string> edit)
    {
        var model = new Sequential([1, 6, 6], "small").Base(new Fovea.Layers.Conv2D(2, 3), new Fovea.Layers.ReLU()).Top(new Fovea.Layers.Flatten(), new Fovea.Layers.Dense(3));
        string path = Path.Combine(_dir, name);
        using var stream = File.Create(path);
        SafeTensors.Write(stream, model.Parameters.Select(p => (p.Name, p.Value.Shape, p.Value.ToArray())).ToList(), new Dictionary<string, string>
        {
            ["format"] = "fovea", ["format_version"] = "1", ["architecture"] = edit(ModelArchitecture.ToJson(model)),
        });
        return path;
    }

    public static TheoryData<string, Func<JsonObject, string>, string> CorruptArchitectures => new()
    {
        { "no-nodes", j => { j.Remove("nodes"); return j.ToJsonString(); }, "field 'nodes' is missing" },
        { "empty", _ => "{}", "field 'input_shape' is missing" },
        { "array", _ => "[]", "the model architecture is []; expected a JSON object" },
        { "null", _ => "null", "the model architecture is null" },
        { "kernel-one-number", j => { j["nodes"]![0]!["config"]!["kernel_size"] = new JsonArray(3); return j.ToJsonString(); }, "field 'kernel_size' is [3]; expected two numbers" },
        { "kernel-zero", j => { j["nodes"]![0]!["config"]!["kernel_size"] = new JsonArray(0, 0); return j.ToJsonString(); }, "kernelSize=(0, 0)" },
        { "filters-text", j => { j["nodes"]![0]!["config"]!["filters"] = "two"; return j.ToJsonString(); }, "field 'filters' is \"two\"; expected an integer" },
        { "stage", j => { j["nodes"]![1]!["stage"] = "middle"; return j.ToJsonString(); }, "nodes[1]: field 'stage' is 'middle'; expected 'base' or 'top'" },
        { "kind", j => { j["kind"] = "weird"; return j.ToJsonString(); }, "field 'kind' is 'weird'" },
        { "unknown-input", j => { j["nodes"]![1]!["inputs"] = new JsonArray("nowhere"); return j.ToJsonString(); }, "field 'inputs[0]' names 'nowhere'" },
        { "node-not-object", j => { j["nodes"]![2] = 7; return j.ToJsonString(); }, "nodes[2] is 7; expected an object" },
        { "no-config", j => { j["nodes"]![3]!.AsObject().Remove("config"); return j.ToJsonString(); }, "nodes[3]: field 'config' is missing" },
        { "input-shape-text", j => { j["input_shape"] = "1x6x6"; return j.ToJsonString(); }, "field 'input_shape' is \"1x6x6\"; expected an array" },
        { "initializer", j => { j["nodes"]![3]!["config"]!["initializer"] = "Magic"; return j.ToJsonString(); }, "field 'initializer' is 'Magic'" },
        { "output", j => { j["output"] = 5; return j.ToJsonString(); }, "field 'output' is 5; expected a string" },
    };

    [Theory]
    [MemberData(nameof(CorruptArchitectures))]
    public void CorruptArchitectureMetadataNamesTheFileAndTheField(string name, Func<JsonObject, string> edit, string expected)
    {
        string path = WriteArchitecture(name + ".fovea", edit);
        var e = Assert.Throws<FormatException>(() => ModelFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain("Object reference", e.Message);
        Assert.DoesNotContain("Value cannot be null", e.Message);
    }

    [Fact]
    public void AnUntouchedArchitectureStillLoads() =>
        Assert.Equal(4, ModelFile.Load(WriteArchitecture("good.fovea", j => j.ToJsonString())).Layers.Count());

    [Fact]
    public void AFolderIsNotAModelFile() =>
        Assert.Contains("is a folder", Assert.Throws<FileNotFoundException>(() => ModelFile.Load(_dir)).Message);
}
