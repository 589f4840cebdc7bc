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
}
