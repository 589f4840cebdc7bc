using System.Diagnostics;
using System.Text.Json.Nodes;
using Fovea.Tensors;
using Fovea.Vision;

namespace Fovea.Tests.Cli;

/// <summary>Runs the real fovea executable (built next to the tests) as a separate process.</summary>
public class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static (int Code, string Out, string Err) Fovea(params string[] args) => CliProcess.Run(args);

    /// <summary>Runs fovea with extra environment variables.</summary>
    internal static (int Code, string Out, string Err) FoveaWith(Dictionary<string, string?> environment, params string[] args) =>
        CliProcess.Run(environment, null, args);

    internal static void AssertUsageError((int Code, string Out, string Err) r, string expected) => CliProcess.AssertUsageError(r, expected);

    [Fact]
    public void UnknownOptionIsOneLineAndExitCode2() => AssertUsageError(Fovea("train", "--epocs", "3"), "--epocs");

    [Fact]
    public void BadNumberNamesTheValue() => AssertUsageError(Fovea("train", "--epochs", "abc"), "'abc'");

    [Fact]
    public void ACorruptArchitectureIsAUsageErrorNamingTheField()
    {
        var model = new global::Fovea.Models.Sequential([1, 6, 6], "small").Top(new global::Fovea.Layers.Flatten(), new global::Fovea.Layers.Dense(3));
        var arch = global::Fovea.Serialization.ModelArchitecture.ToJson(model);
        arch.Remove("nodes");
        string path = Path.Combine(_dir, "corrupt.fovea");
        using (var stream = File.Create(path))
            global::Fovea.Serialization.SafeTensors.Write(stream, model.Parameters.Select(p => (p.Name, p.Value.Shape, p.Value.ToArray())).ToList(),
                new Dictionary<string, string> { ["format"] = "fovea", ["format_version"] = "1", ["architecture"] = arch.ToJsonString() });
        AssertUsageError(Fovea("summary", path), "field 'nodes' is missing");
    }

    [Fact]
    public void RuntimeArgumentFailuresAreInternalErrorsNotUsageErrors()
    {
        // Thrown by the runtime (a bad slice): a bug, to be reported as an internal error.
        var slice = Record.Exception(() => new int[1].AsSpan().Slice(5));
        Assert.IsType<ArgumentOutOfRangeException>(slice);
        Assert.False(global::Fovea.Cli.Cli.IsUserError(slice));
        Assert.False(global::Fovea.Cli.Cli.IsUserError(Record.Exception(() => ArgumentNullException.ThrowIfNull((object?)null, "x"))!));
        // Thrown by a Fovea check that names the value: the user's mistake.
        Assert.True(global::Fovea.Cli.Cli.IsUserError(Record.Exception(() => new global::Fovea.Optimizers.Sgd(-1f))!));
        Assert.True(global::Fovea.Cli.Cli.IsUserError(Record.Exception(() => global::Fovea.Optimizers.LearningRateSchedule.Parse("linear"))!));
        Assert.True(global::Fovea.Cli.Cli.IsUserError(new FormatException("model.fovea: field 'nodes' is missing.")));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    public void ABadLimitFailsBeforeAnyLoading(string limit)
    {
        // AssertUsageError wants stderr to be the error line alone: no "using /usr/share/..." loading line before it.
        var r = Fovea("train", "--limit", limit, "--out", Path.Combine(_dir, "m.fovea"));
        AssertUsageError(r, $"Option --limit must be between 1 and");
        Assert.Contains($"received {limit}", r.Err);
    }

    [Fact]
    public void PredictOnAModelWithoutClassScoresPrintsRawOutputs()
    {
        // Feature maps [4, 1, 1] with no class names and no classification head: raw values by flat index, no percentages.
        var features = new global::Fovea.Models.Model([1, 8, 8], "features", seed: 2);
        features.Add(new global::Fovea.Layers.Conv2D(4, 3, padding: 1));
        features.Add(new global::Fovea.Layers.GlobalAvgPool2D(keepDims: true));
        string model = Path.Combine(_dir, "features.fovea");
        global::Fovea.Serialization.ModelFile.Save(features, model);
        string image = Path.Combine(_dir, "grey.png");
        var grey = new Tensor(1, 8, 8);
        for (int i = 0; i < grey.Length; i++) grey.Span[i] = (i % 5) / 5f;
        ImageLoader.SavePng(grey, image);
        var expected = features.Predict(ImageLoader.Load(image, 1, 8, 8).View(1, 1, 8, 8));

        var json = Fovea("predict", model, image, "--top", "4", "--json");
        Assert.True(json.Code == 0, json.Err);
        var result = JsonNode.Parse(json.Out)![0]!;
        Assert.False((bool)result["class_scores"]!);
        var top = (JsonArray)result["top"]!;
        Assert.Equal(4, top.Count);
        foreach (var entry in top)
            Assert.Equal(expected.Span[(int)entry!["output"]!], (float)entry["value"]!, 4);

        var text = Fovea("predict", model, image, "--top", "2");
        Assert.True(text.Code == 0, text.Err);
        Assert.Contains("  output ", text.Out);
        Assert.DoesNotContain("%", text.Out);
    }

    [Fact]
    public void ARefusedTrainLeavesNoOutputFolder()
    {
        // The output folder is proved writable before training, but a run refused after that check creates nothing.
        string outDir = Path.Combine(_dir, "new", "runs");
        var r = Fovea("train", "--limit", "0", "--out", Path.Combine(outDir, "m.fovea"));
        AssertUsageError(r, "--limit");
        Assert.False(Directory.Exists(Path.Combine(_dir, "new")));
    }

    [Fact]
    public void AShapeTooLargeForSummaryIsOneCleanLine()
    {
        var r = Fovea("summary", "--model", "reference", "--input", "1,100000,100000");
        AssertUsageError(r, "--model reference with --input 1,100000,100000:");
        Assert.DoesNotContain("(Parameter", r.Err);
    }

    [Fact]
    public void ABatchTooLargeForMemoryIsAUsageError()
    {
        // 60,000 images of the reference CNN need about 70 GB for one step; the process used to be killed for lack of memory.
        // The GC's hard limit (4 GiB) is the available memory the check sees, so the outcome is the same on any machine.
        var r = FoveaWith(new() { ["DOTNET_GCHeapHardLimit"] = "0x100000000" },
            "train", "--model", "reference", "--batch-size", "65536", "--out", Path.Combine(_dir, "big.fovea"));
        AssertUsageError(r, "Batch size 65536 (60000 samples per step with this data) needs about");
        Assert.DoesNotContain("(Parameter", r.Err);
        Assert.DoesNotContain("Actual value was", r.Err);
        Assert.Contains("of memory available; use a batch size of at most", r.Err);
        Assert.False(File.Exists(Path.Combine(_dir, "big.fovea")));
    }

    [Fact]
    public void AnUnexpectedArgumentIsNamed() => AssertUsageError(Fovea("train", "extra-positional"), "Unexpected argument 'extra-positional'. Usage: fovea train");

    [Fact]
    public void AMissingArgumentIsCounted() => AssertUsageError(Fovea("export"), "Expected 1 argument, received 0. Usage: fovea export MODEL");

    [Fact]
    public void TheUsageLinePointsToTheHelp() => AssertUsageError(Fovea("eval"), "(fovea eval --help lists every option)");

    [Fact]
    public void UnknownCommand() => AssertUsageError(Fovea("fly"), "'fly'");

    [Fact]
    public void UnknownModelName() => AssertUsageError(Fovea("train", "--model", "vgg99"), "vgg99");

    [Fact]
    public void MissingModelFileIsNamed() => AssertUsageError(Fovea("predict", Path.Combine(_dir, "none.fovea"), "x.png"), "none.fovea");

    [Fact]
    public void SummaryOfTheReferenceModel()
    {
        var r = Fovea("summary", "--model", "reference");
        Assert.Equal(0, r.Code);
        Assert.Contains("421,642", r.Out);
        var json = JsonNode.Parse(Fovea("summary", "--model", "reference", "--json").Out)!;
        Assert.Equal(421_642, (long)json["total_parameters"]!);
    }

    [Fact]
    public void SeededTrainingIsReproducibleAcrossProcesses()
    {
        // Separate processes: nothing may depend on per-process randomness (e.g. string hashing).
        string[] args = ["train", "--model", "default", "--epochs", "1", "--limit", "300", "--seed", "5", "--json"];
        var first = Fovea([.. args, "--out", Path.Combine(_dir, "a.fovea")]);
        var second = Fovea([.. args, "--out", Path.Combine(_dir, "b.fovea")]);
        Assert.True(first.Code == 0, first.Err);
        var a = JsonNode.Parse(first.Out)!; var b = JsonNode.Parse(second.Out)!;
        Assert.Equal((double)a["history"]![0]!["loss"]!, (double)b["history"]![0]!["loss"]!);
        Assert.Equal((double)a["test_loss"]!, (double)b["test_loss"]!);
    }

    [Fact]
    public void ClassWeightsAreBalancedOrNone()
    {
        AssertUsageError(Fovea("train", "--class-weights", "inverse"), "--class-weights expects balanced or none; received 'inverse'");
        var r = Fovea("train", "--model", "reference", "--epochs", "1", "--limit", "300", "--class-weights", "balanced", "--out", Path.Combine(_dir, "w.fovea"));
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("balanced class weights", r.Err);
    }

    [Fact]
    public void ClipNormIsAPositiveLimitThatTheRunReports()
    {
        AssertUsageError(Fovea("train", "--clip-norm", "0"), "--clip-norm must be a number greater than 0");
        AssertUsageError(Fovea("train", "--clip-norm", "1e-60"), "received 1e-60");
        AssertUsageError(Fovea("train", "--clip-norm", "-3"), "received -3");
        var r = Fovea("train", "--model", "reference", "--epochs", "1", "--limit", "300", "--clip-norm", "0.5", "--out", Path.Combine(_dir, "c.fovea"));
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("gradient norm clipped at 0.5", r.Err);
    }

    [Fact]
    public void LrFindPicksTheRateAndChartsTheSweep()
    {
        var r = Fovea("train", "--model", "reference", "--epochs", "1", "--limit", "640", "--lr", "find", "--out", Path.Combine(_dir, "f.fovea"), "--json");
        Assert.True(r.Code == 0, r.Err);
        Assert.True(File.Exists(Path.Combine(_dir, "f.lr-finder.png")));
        double rate = (double)JsonNode.Parse(r.Out)!["history"]![0]!["learning_rate"]!;
        Assert.InRange(rate, 1e-6, 1.0);
        AssertUsageError(Fovea("train", "--lr", "fnd"), "Option --lr expects a number; received 'fnd'");
    }

    [Fact]
    public void TrainEvalPredictEndToEnd()
    {
        string model = Path.Combine(_dir, "small.fovea");
        var train = Fovea("train", "--model", "reference", "--epochs", "1", "--limit", "1000", "--out", model, "--json", "--seed", "1");
        Assert.True(train.Code == 0, train.Err);
        var trained = JsonNode.Parse(train.Out)!;
        Assert.True((double)trained["test_accuracy"]! > 0.5, train.Out);
        Assert.True(File.Exists(Path.Combine(_dir, "small.history.csv")));
        Assert.True(File.Exists(Path.Combine(_dir, "small.mistakes.png")));

        var eval = JsonNode.Parse(Fovea("eval", model, "--json").Out)!;
        Assert.Equal(24, ((JsonArray)eval["mistakes"]!).Count); // 10,000 test images: far more than 24 wrong after one epoch on 1,000
        Assert.True(File.Exists(Path.Combine(_dir, "small.eval.mistakes.png")));
        Assert.Equal((double)trained["test_accuracy"]!, (double)eval["accuracy"]!, 6);
        Assert.Equal(10, ((JsonArray)eval["confusion_matrix"]!).Count);
        // Per class: support adds up to the images, recall averages to the balanced accuracy.
        var perClass = ((JsonArray)eval["per_class"]!).Select(n => n!).ToList();
        Assert.Equal((long)eval["images"]!, perClass.Sum(n => (long)n["support"]!));
        Assert.Equal(perClass.Where(n => (long)n["support"]! > 0).Average(n => (double)n["recall"]!), (double)eval["balanced_accuracy"]!, 9);
        Assert.InRange((double)eval["macro_f1"]!, 0.0, 1.0);

        // A colour image of another size: converted to grey and resized to 28x28 by predict.
        string image = Path.Combine(_dir, "colour.png");
        var rgb = new Tensor(3, 50, 40);
        for (int i = 0; i < rgb.Length; i++) rgb.Span[i] = (i % 7) / 7f;
        ImageLoader.SavePng(rgb, image);
        var predict = Fovea("predict", model, image, "--top", "2", "--json");
        Assert.True(predict.Code == 0, predict.Err);
        var top = (JsonArray)JsonNode.Parse(predict.Out)![0]!["top"]!;
        Assert.Equal(2, top.Count);
        Assert.True((double)top[0]!["probability"]! >= (double)top[1]!["probability"]!);

        string notAnImage = Path.Combine(_dir, "text.png");
        File.WriteAllText(notAnImage, "not an image");
        AssertUsageError(Fovea("predict", model, notAnImage), "text.png");
        AssertUsageError(Fovea("eval", notAnImage), "text.png");
    }
}
