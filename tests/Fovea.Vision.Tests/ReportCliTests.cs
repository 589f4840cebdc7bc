using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;
using Fovea.Tensors;
using Fovea.Training;

namespace Fovea.Vision.Tests;

/// <summary>fovea visualize --report run as the real executable: the files it reads beside the model, the page it writes.</summary>
public sealed class ReportCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-report-cli-").FullName;
    private readonly string _model, _image;

    public ReportCliTests()
    {
        var model = ModelZoo.Default([1, 28, 28], 3);
        model.ClassNames = ["zero", "one", "two"];
        _model = Path.Combine(_dir, "m.fovea");
        ModelFile.Save(model, _model);
        var img = new Tensor(1, 28, 28);
        for (int y = 5; y < 20; y++) img[0, y, 12] = 1;
        _image = Path.Combine(_dir, "x.png");
        ImageLoader.SavePng(img, _image);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Beside(string suffix) => Path.Combine(_dir, "m" + suffix);

    [Fact]
    public void AnUnknownClassIsNamedWithTheChoices()
    {
        string outDir = Path.Combine(_dir, "unknown-class");
        CliProcess.AssertOneLineError(["visualize", _model, _image, "--out", outDir, "--class", "seven"],
            "Unknown class or output 'seven'", "index 0..2", "zero, one, two");
        CliProcess.AssertOneLineError(["visualize", _model, _image, "--out", outDir, "--class", "3"], "'3'", "index 0..2");
        Assert.False(Directory.Exists(outDir));
    }

    private static string ConfusionJson(long cell01 = 2)
    {
        var m = new ConfusionMatrix(3, ["zero", "one", "two"]);
        for (int i = 0; i < 3; i++) m.Add(i, i, 5);
        m.Add(0, 1, cell01);
        return Charts.ConfusionToJson(m);
    }

    private const string HistoryJson = """
        [{"epoch": 1, "loss": 0.9, "accuracy": 0.6, "validation_loss": 0.8, "validation_accuracy": 0.65, "learning_rate": 0.01, "seconds": 1, "images_per_second": 100},
         {"epoch": 2, "loss": 0.5, "accuracy": 0.8, "validation_loss": null, "validation_accuracy": null}]
        """;

    [Theory]
    [InlineData(".confusion.json", "{\"class_names\": [\"zero\", \"one\"", "not valid JSON")]
    [InlineData(".confusion.json", "{\"class_names\": [\"zero\", \"one\", \"two\"]}", "\"counts\" is missing")]
    [InlineData(".confusion.json", "{\"counts\": [[1]]}", "\"class_names\" is missing")]
    [InlineData(".confusion.json", "cell 100000000000", "counts[0][1] is 100000000000")] // counted one at a time, this never finished
    [InlineData(".confusion.json", "cell -3", "counts[0][1] is -3")]
    [InlineData(".confusion.json", "cell 2.5", "counts[0][1] is 2.5")]
    [InlineData(".confusion.json", "cell \"7\"", "counts[0][1] is \"7\"")]
    [InlineData(".history.json", "[{\"epoch\": 1, \"loss\": 0.5", "not valid JSON")]
    [InlineData(".history.json", "[{\"epoch\": 1, \"loss\": 0.5}]", "epoch entry 0 has no \"accuracy\"")]
    [InlineData(".history.json", "[{\"epoch\": 1, \"loss\": \"low\", \"accuracy\": 0.5}]", "\"loss\" is \"low\"")]
    [InlineData(".history.json", "{\"epochs\": []}", "expected a JSON array")]
    public void A_corrupt_file_beside_the_model_stops_the_report_before_anything_is_written(string suffix, string content, string expected)
    {
        if (content.StartsWith("cell ", StringComparison.Ordinal))
        {
            // A valid matrix with one cell replaced by the given JSON value.
            var json = JsonNode.Parse(ConfusionJson())!;
            json["counts"]![0]![1] = JsonNode.Parse(content[5..]);
            content = json.ToJsonString();
        }
        File.WriteAllText(Beside(".history.json"), HistoryJson);
        File.WriteAllText(Beside(".confusion.json"), ConfusionJson());
        File.WriteAllText(Beside(suffix), content);
        string outDir = Path.Combine(_dir, "out");
        CliProcess.AssertOneLineError(["visualize", _model, _image, "--out", outDir, "--report"], Beside(suffix), expected);
        Assert.False(Directory.Exists(outDir), "a refused report must leave no folder");
    }

    [Fact]
    public void The_files_beside_the_model_go_into_the_report_only_with_report()
    {
        File.WriteAllText(Beside(".history.json"), HistoryJson);
        File.WriteAllText(Beside(".confusion.json"), "{broken");
        string outDir = Path.Combine(_dir, "plain");
        var run = CliProcess.Run("visualize", _model, _image, "--out", outDir); // no --report: they are not read
        Assert.True(run.Code == 0, run.Err);
        Assert.False(File.Exists(Path.Combine(outDir, "report.html")));
    }

    [Fact]
    public void The_report_the_cli_writes_opens_in_chromium_with_every_image()
    {
        File.WriteAllText(Beside(".history.json"), HistoryJson);
        File.WriteAllText(Beside(".confusion.json"), ConfusionJson());
        string outDir = Path.Combine(_dir, "out");
        var run = CliProcess.Run("visualize", _model, _image, "--out", outDir, "--class", "two", "--report");
        Assert.True(run.Code == 0, run.Err);
        string html = File.ReadAllText(Path.Combine(outDir, "report.html"));
        int images = Regex.Matches(html, "<img ").Count;
        // Every picture written beside it, plus the loss, accuracy and confusion charts from the files beside the model.
        Assert.Equal(Directory.GetFiles(outDir, "*.png").Length + 3, images);
        Assert.Contains("Training history", html);
        HtmlReportTests.AssertRendersInChromium(Path.Combine(outDir, "report.html"), images);
    }

    [Fact]
    public void Visualize_layer_explains_the_named_convolution()
    {
        string outDir = Path.Combine(_dir, "layer");
        var run = CliProcess.Run("visualize", _model, _image, "--out", outDir, "--layer", "conv2d", "--class", "one", "--report", "--json");
        Assert.True(run.Code == 0, run.Err);
        var cams = JsonNode.Parse(run.Out)!["gradcam"]!.AsArray();
        Assert.NotEmpty(cams);
        Assert.All(cams, c => Assert.Equal("conv2d", (string)c!["layer"]!)); // not the default, relu_1
        Assert.Contains(Directory.GetFiles(outDir).Select(Path.GetFileName), f => f!.EndsWith("-gradcam-one.png", StringComparison.Ordinal));
        // Each Grad-CAM picture is titled with the layer, in the report as in the PNG.
        string html = File.ReadAllText(Path.Combine(outDir, "report.html"));
        Assert.Contains("<b>Grad-CAM: one at conv2d</b>", html);
        Assert.DoesNotContain(" at relu_1</b>", html);
    }

    /// <summary>A feature extractor without a classifier: output [16, 1, 1], no class names (like imported ResNet-18 features).</summary>
    internal static Model FeatureModel()
    {
        var model = new Model([1, 28, 28], "features");
        model.Add(new Conv2D(8, 3));
        model.Add(new ReLU());
        model.Add(new Conv2D(16, 3));
        model.Add(new ReLU());
        model.Add(new GlobalAvgPool2D(keepDims: true));
        return model;
    }

    [Fact]
    public void Visualize_names_outputs_of_a_model_that_is_not_a_classifier_and_gives_no_probabilities()
    {
        string modelPath = Path.Combine(_dir, "features.fovea");
        ModelFile.Save(FeatureModel(), modelPath);
        string outDir = Path.Combine(_dir, "features");
        var json = CliProcess.Run("visualize", modelPath, _image, "--out", outDir, "--report", "--json");
        Assert.True(json.Code == 0, json.Err);
        var result = JsonNode.Parse(json.Out)!;
        Assert.False((bool)result["class_scores"]!);
        var top = result["top"]!.AsArray();
        Assert.Equal(5, top.Count);
        Assert.All(top, t => { Assert.StartsWith("output channel ", (string)t!["output"]!); Assert.Null(t["probability"]); Assert.NotNull(t["value"]); });
        Assert.StartsWith("output channel ", (string)result["gradcam"]![0]!["class"]!);
        var files = Directory.GetFiles(outDir).Select(Path.GetFileName).ToList();
        Assert.Contains(files, f => f!.EndsWith("-outputs.png", StringComparison.Ordinal));
        Assert.Contains(files, f => f!.Contains("-gradcam-output_channel_", StringComparison.Ordinal));
        Assert.DoesNotContain(files, f => f!.EndsWith("-predictions.png", StringComparison.Ordinal));
        string html = File.ReadAllText(Path.Combine(outDir, "report.html"));
        Assert.Contains("<th>Output</th><th>Index</th><th>Value</th>", html);
        Assert.DoesNotContain("Probability", html);
        Assert.DoesNotContain("Top-k predictions", html);
        Assert.Contains("<b>Grad-CAM: output channel ", html);

        var text = CliProcess.Run("visualize", modelPath, _image, "--out", outDir);
        Assert.True(text.Code == 0, text.Err);
        string first = text.Out.Split('\n')[0];
        Assert.Contains("not class scores; largest is output channel ", first);
        Assert.DoesNotContain("%", first);
    }
}
