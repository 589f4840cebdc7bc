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
        ModelFile.Save(model, path);
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
    public void AFolderIsNotAModelFile() =>
        Assert.Contains("is a folder", Assert.Throws<FileNotFoundException>(() => ModelFile.Load(_dir)).Message);
}
