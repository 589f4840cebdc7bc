using System.Text.Json.Nodes;
using Fovea.Models;
using Fovea.Serialization;
using Fovea.Tensors;

namespace Fovea.Onnx.Tests;

/// <summary>
/// fovea predict, eval and visualize on an .onnx file written by fovea export: each gives what the same command gives on
/// the original .fovea model, and predict's top class is ONNX Runtime's.
/// </summary>
public sealed class CliOnnxCommandTests : IDisposable
{
    private static readonly string[] s_classes = ["alpha", "beta", "gamma"];
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-onnx-commands-").FullName;
    private readonly string _fovea, _onnx;

    public CliOnnxCommandTests()
    {
        var model = ModelZoo.Reference([1, 28, 28], s_classes.Length, seed: 7);
        model.ClassNames = s_classes;
        _fovea = Path.Combine(_dir, "original.fovea");
        ModelFile.Save(model, _fovea);
        _onnx = Path.Combine(_dir, "exported.onnx");
        var export = CliProcess.Run("export", _fovea, "--out", _onnx);
        Assert.True(export.Code == 0, export.Err);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A random grey 28x28 PNG.</summary>
    internal static string GreyImage(string dir, string name, int seed)
    {
        var rng = new Random(seed);
        var t = new Tensor(1, 28, 28);
        for (int i = 0; i < t.Length; i++) t.Span[i] = rng.NextSingle();
        var path = Path.Combine(dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        Vision.ImageLoader.SavePng(t, path);
        return path;
    }

    private static JsonNode Json((int Code, string Out, string Err) r)
    {
        Assert.True(r.Code == 0, $"exit {r.Code}: {r.Err}");
        return JsonNode.Parse(r.Out)!;
    }

    [Fact]
    public void PredictOnTheOnnxFileMatchesTheOriginalModelAndOnnxRuntime()
    {
        var images = Enumerable.Range(0, 3).Select(i => GreyImage(_dir, $"img{i}.png", seed: 10 + i)).ToArray();
        var fromOnnx = (JsonArray)Json(CliProcess.Run(["predict", _onnx, .. images, "--top", "3", "--json"]));
        var fromFovea = (JsonArray)Json(CliProcess.Run(["predict", _fovea, .. images, "--top", "3", "--json"]));
        Assert.Equal(images.Length, fromOnnx.Count);
        var bytes = File.ReadAllBytes(_onnx);
        for (int i = 0; i < images.Length; i++)
        {
            var a = (JsonArray)fromOnnx[i]!["top"]!; var b = (JsonArray)fromFovea[i]!["top"]!;
            Assert.Equal(3, a.Count);
            for (int k = 0; k < 3; k++)
            {
                Assert.Equal((string)b[k]!["class"]!, (string)a[k]!["class"]!);
                Assert.Equal((double)b[k]!["probability"]!, (double)a[k]!["probability"]!, 5);
            }
            // ONNX Runtime on the same exported file and the same decoded pixels picks the same class.
            var x = Vision.ImageLoader.Load(images[i], 1, 28, 28);
            var scores = RoundTripTests.Run(bytes, new Tensor([1, 1, 28, 28], x.ToArray()));
            int best = Array.IndexOf(scores, scores.Max());
            Assert.Equal(s_classes[best], (string)a[0]!["class"]!);
        }
    }

    [Fact]
    public void EvalOnTheOnnxFileGivesTheOriginalModelsResults()
    {
        string data = Path.Combine(_dir, "data");
        for (int c = 0; c < s_classes.Length; c++)
            for (int i = 0; i < 4; i++) GreyImage(data, Path.Combine(s_classes[c], $"{i}.png"), seed: 100 * c + i);
        var onnx = Json(CliProcess.Run("eval", _onnx, "--data", data, "--json"));
        var fovea = Json(CliProcess.Run("eval", _fovea, "--data", data, "--json"));
        Assert.Equal(12, (int)onnx["images"]!);
        Assert.Equal((double)fovea["accuracy"]!, (double)onnx["accuracy"]!, 6);
        Assert.Equal((double)fovea["loss"]!, (double)onnx["loss"]!, 4);
        Assert.Equal(fovea["confusion_matrix"]!.ToJsonString(), onnx["confusion_matrix"]!.ToJsonString());
        Assert.Equal(s_classes, ((JsonArray)onnx["class_names"]!).Select(n => (string)n!));
        // The confusion matrix goes beside the .onnx file under its own name, the extension kept: the evaluation of a
        // model and of its export beside it do not replace each other's files.
        Assert.Equal(Path.Combine(_dir, "exported.onnx.eval.confusion.png"), (string)onnx["confusion_png"]!);
        Assert.True(File.Exists(Path.Combine(_dir, "exported.onnx.eval.confusion.png")));
        Assert.True(File.Exists(Path.Combine(_dir, "original.eval.confusion.png")));
    }

    [Fact]
    public void VisualizeOnTheOnnxFileWritesThePicturesAndTheSamePrediction()
    {
        var image = GreyImage(_dir, "one.png", seed: 5);
        string outOnnx = Path.Combine(_dir, "vis-onnx"), outFovea = Path.Combine(_dir, "vis-fovea");
        var onnx = Json(CliProcess.Run("visualize", _onnx, image, "--out", outOnnx, "--json", "--report"));
        var fovea = Json(CliProcess.Run("visualize", _fovea, image, "--out", outFovea, "--json"));
        var files = ((JsonArray)onnx["files"]!).Select(f => (string)f!).ToList();
        Assert.Contains(files, f => f.EndsWith(".png", StringComparison.Ordinal));
        Assert.Contains(Path.Combine(outOnnx, "report.html"), files);
        Assert.All(files, f => Assert.True(File.Exists(f) && new FileInfo(f).Length > 0, f));
        Assert.Equal((string)fovea["top"]![0]!["class"]!, (string)onnx["top"]![0]!["class"]!);
        Assert.Equal((double)fovea["top"]![0]!["probability"]!, (double)onnx["top"]![0]!["probability"]!, 5);
    }
}
