using Fovea.Models;

namespace Fovea.Onnx.Tests;

/// <summary>OnnxExporter.Export writes through a temporary file and a rename: what a user had at the path is never half-overwritten.</summary>
public sealed class ExportFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-onnx-export-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string[] Entries(string dir) => Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Order().ToArray()!;

    [Fact]
    public void ExportReplacesTheFileWholeAndLeavesNoTemporaryFile()
    {
        var path = Path.Combine(_dir, "model.onnx");
        var old = "an earlier export the user keeps"u8.ToArray();
        File.WriteAllBytes(path, old);
        // A reader that opened the old file keeps reading the old file: the new one was renamed over it, not written into it.
        using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var model = RoundTripTests.ResidualModel();
        OnnxExporter.Export(model, path, opset: 17);
        Assert.Equal(OnnxExporter.ToBytes(model, 17), File.ReadAllBytes(path));
        if (!OperatingSystem.IsWindows())
        {
            var seen = new byte[old.Length + 16];
            int n = reader.Read(seen);
            Assert.Equal(old, seen[..n]);
        }
        Assert.Equal(["model.onnx"], Entries(_dir));
    }

    [Fact]
    public void AModelThatCannotBeExportedLeavesTheExistingFileAsItWas()
    {
        var path = Path.Combine(_dir, "keep.onnx");
        var old = OnnxExporter.ToBytes(RoundTripTests.ResidualModel());
        File.WriteAllBytes(path, old);
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxExporter.Export(RoundTripTests.ResidualModel(), path, opset: 3));
        Assert.Equal(old, File.ReadAllBytes(path));
        Assert.Equal(["keep.onnx"], Entries(_dir));
    }

    [Fact]
    public void AFolderAtThePathIsRefusedByNameAndLeftAlone()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_dir, "out.onnx")).FullName;
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "mine");
        var e = Assert.Throws<IOException>(() => OnnxExporter.Export(RoundTripTests.ResidualModel(), folder));
        Assert.Contains(folder, e.Message);
        Assert.Contains("folder", e.Message);
        Assert.Equal(["notes.txt"], Entries(folder));
        Assert.Equal(["out.onnx"], Entries(_dir));
    }

    [Fact]
    public void AMissingFolderIsCreated()
    {
        var path = Path.Combine(_dir, "a", "b", "m.onnx");
        var model = new Model([3]);
        model.Add(new Layers.Dense(2));
        OnnxExporter.Export(model, path);
        Assert.Equal(OnnxExporter.ToBytes(model), File.ReadAllBytes(path));
    }
}
