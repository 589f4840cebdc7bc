using Fovea.Models;
using Fovea.Serialization;

namespace Fovea.Onnx.Tests;

/// <summary>The CLI tells Fovea (safetensors) and ONNX model files apart by their first bytes, whatever their names.</summary>
public sealed class ModelFormatDetectionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-onnx-format-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Model SmallModel()
    {
        var model = ModelZoo.Reference([1, 28, 28], 10, seed: 2);
        model.ClassNames = Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray();
        return model;
    }

    [Fact]
    public void OnnxUnderAnotherNameAndFoveaNamedOnnxBothLoad()
    {
        var model = SmallModel();
        var pb = Path.Combine(_dir, "m.pb");
        File.WriteAllBytes(pb, OnnxExporter.ToBytes(model));
        var fovea = Path.Combine(_dir, "saved.onnx");   // a Fovea model file with a misleading name
        ModelFile.Save(model, fovea);

        foreach (var file in new[] { pb, fovea })
        {
            var r = CliProcess.Run("summary", file, "--json");
            Assert.True(r.Code == 0, $"{file}: {r.Err}");
            var json = System.Text.Json.Nodes.JsonNode.Parse(r.Out)!;
            Assert.Equal(model.ParameterCount, (long)json["total_parameters"]!);
        }
        // A model command other than summary reads m.pb as ONNX too.
        var image = CliOnnxCommandTests.GreyImage(_dir, "x.png", seed: 1);
        var predicted = CliProcess.Run("predict", pb, image, "--json", "--top", "1");
        Assert.True(predicted.Code == 0, predicted.Err);
    }

    [Fact]
    public void AFileThatIsNeitherIsRefusedNamingIt()
    {
        var text = Path.Combine(_dir, "notes.pb");
        File.WriteAllText(text, "hello, this is not a model at all");
        CliProcess.AssertUsageError(CliProcess.Run("summary", text), text, "neither a Fovea model", "nor an ONNX model");
        // The bytes the message quotes are the file's first bytes ('h' 'e' 'l' ...).
        CliProcess.AssertUsageError(CliProcess.Run("predict", text, text), "68 65 6c 6c");
    }

    [Fact]
    public void ImportOfAFoveaFileSaysItIsAlreadyOne()
    {
        var fovea = Path.Combine(_dir, "m.fovea");
        ModelFile.Save(SmallModel(), fovea);
        CliProcess.AssertUsageError(CliProcess.Run("import", fovea, "--out", Path.Combine(_dir, "back.fovea")), fovea, "already a Fovea model file");
        Assert.False(File.Exists(Path.Combine(_dir, "back.fovea")));
    }

    [Fact]
    public void TheLibraryReadersNameTheOtherFormatsReader()
    {
        var onnx = Path.Combine(_dir, "m.onnx");
        OnnxExporter.Export(SmallModel(), onnx);
        var unnamed = Path.Combine(_dir, "m.bin");
        File.Copy(onnx, unnamed);
        foreach (var file in new[] { onnx, unnamed })
        {
            var e = Assert.Throws<FormatException>(() => ModelFile.Load(file));
            Assert.Contains(file, e.Message);
            Assert.Contains("looks like an ONNX model: import it with Fovea.Onnx's OnnxImporter.Import", e.Message);
        }
        var fovea = Path.Combine(_dir, "m.fovea");
        ModelFile.Save(SmallModel(), fovea);
        var notOnnx = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(fovea));
        Assert.Contains($"'{fovea}' is a Fovea model file (safetensors), not an ONNX model: load it with Fovea.Serialization.ModelFile.Load", notOnnx.Message);
        // Neither: no hint.
        var text = Path.Combine(_dir, "notes.txt");
        File.WriteAllText(text, "hello, this is not a model at all");
        Assert.DoesNotContain("ONNX", Assert.Throws<FormatException>(() => ModelFile.Load(text)).Message);
    }
}
