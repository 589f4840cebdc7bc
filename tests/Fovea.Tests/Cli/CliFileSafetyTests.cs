using System.Text.Json.Nodes;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;
using Fovea.Tensors;
using Fovea.Vision;

namespace Fovea.Tests.Cli;

/// <summary>Paths a user gets wrong: the command refuses before doing any work, and nothing already saved is touched.</summary>
public class CliFileSafetyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-cli-files-").FullName;
    private readonly string _model;

    public CliFileSafetyTests()
    {
        _model = Path.Combine(_dir, "small.fovea");
        var model = new Sequential([1, 8, 8]).Base(new Conv2D(2, 3, padding: 1), new ReLU()).Top(new Flatten(), new Dense(3));
        model.ClassNames = ["a", "b", "c"];
        ModelFile.Save(model, _model);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ExportOverItsOwnInputIsRefusedAndTheModelKept()
    {
        byte[] before = File.ReadAllBytes(_model);
        CliTests.AssertUsageError(CliTests.Fovea("export", _model, "--out", _model), "is the input");
        Assert.Equal(before, File.ReadAllBytes(_model));
    }

    [Fact]
    public void ExportIntoAFolderOrADeviceIsRefusedWithoutLeftovers()
    {
        string folder = Directory.CreateDirectory(Path.Combine(_dir, "folder")).FullName;
        CliTests.AssertUsageError(CliTests.Fovea("export", _model, "--out", folder), "is a folder");
        CliTests.AssertUsageError(CliTests.Fovea("export", _model, "--out", folder + "/"), "is a folder");
        // A path under /dev is never written (with the check broken, this would only create a stray file there).
        string device = $"/dev/fovea-test-{Guid.NewGuid():N}.onnx";
        try { CliTests.AssertUsageError(CliTests.Fovea("export", _model, "--out", device), "not a regular file"); }
        finally { if (File.Exists(device)) File.Delete(device); }
        Assert.Equal(["folder", "small.fovea"], Directory.GetFileSystemEntries(_dir).Select(p => Path.GetFileName(p)!).Order().ToArray());
    }

    [Fact]
    public void TrainRefusesAnUnwritableOutBeforeTraining()
    {
        string file = Path.Combine(_dir, "plain.txt");
        File.WriteAllText(file, "keep");
        var r = CliTests.Fovea("train", "--model", "reference", "--epochs", "50", "--out", Path.Combine(file, "m.fovea"));
        CliTests.AssertUsageError(r, "plain.txt is a file, not a folder");
        Assert.Equal("keep", File.ReadAllText(file));
        Directory.CreateDirectory(Path.Combine(_dir, "m.history.csv"));
        CliTests.AssertUsageError(CliTests.Fovea("train", "--model", "reference", "--epochs", "50", "--out", Path.Combine(_dir, "m.fovea")), "m.history.csv is a folder");
    }

    [Fact]
    public void FoldersGivenAsFilesAreNamedAsFolders()
    {
        // predict takes folders of images: one holding none is named as such.
        CliProcess.AssertUsageError(CliTests.Fovea("predict", _model, _dir), $"Folder {_dir} has no images", "(it holds 1 other file)");
        CliTests.AssertUsageError(CliTests.Fovea("summary", _dir), $"{_dir} is a folder");
        string onnxFolder = Directory.CreateDirectory(Path.Combine(_dir, "x.onnx")).FullName;
        CliTests.AssertUsageError(CliTests.Fovea("summary", onnxFolder), "x.onnx is a folder");
    }

    [Fact]
    public void APipeGivenAsAnInputIsRefusedInsteadOfWaitingForAWriter()
    {
        string fifo = Path.Combine(_dir, "pipe.png");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo])) mkfifo.WaitForExit();
        Assert.True(File.Exists(fifo), "mkfifo did not create the pipe");
        // Opening a pipe blocks until someone writes: with the check broken these calls would never return.
        void Refused(Action call, string expected)
        {
            var run = Task.Run(call);
            Assert.True(run.Wait(TimeSpan.FromSeconds(60)) || run.IsFaulted, $"{expected}: still waiting on the pipe after 60 s");
        }
        Refused(() => CliTests.AssertUsageError(CliTests.Fovea("summary", fifo), "pipe.png is empty (0 bytes) or not a regular file"), "summary");
        Refused(() => CliTests.AssertUsageError(CliTests.Fovea("predict", _model, fifo), "pipe.png is empty (0 bytes) or not a regular file"), "predict");
        Refused(() => Assert.Contains("not a regular file", Assert.Throws<ImageLoadException>(() => ImageLoader.Load(fifo, 1, 8, 8)).Message), "ImageLoader");
        Refused(() => Assert.Contains("not a regular file", Assert.Throws<InvalidDataException>(() => Fovea.Data.IdxReader.OpenDecompressed(fifo)).Message), "IdxReader");
        Refused(() => Assert.Contains("not a regular file", Assert.Throws<Fovea.Onnx.OnnxImportException>(() => Fovea.Onnx.OnnxImporter.Import(fifo)).Message), "OnnxImporter");
    }

    [Fact]
    public void ALearningRateOfZeroIsRefused()
    {
        CliTests.AssertUsageError(CliTests.Fovea("train", "--lr", "0"), "--lr must be greater than 0 and at most 10; received 0.");
        CliTests.AssertUsageError(CliTests.Fovea("train", "--lr", "-1"), "--lr must be greater than 0 and at most 10; received -1.");
        CliTests.AssertUsageError(CliTests.Fovea("train", "--lr", "1e-50"), "received 1e-50 (0 in single precision).");
    }

    [Fact]
    public void HelpOfAnUnknownCommandIsAnError() => CliTests.AssertUsageError(CliTests.Fovea("fly", "--help"), "'fly'");

    [Fact]
    public void AWholeNumberOutOfRangeSaysSo() =>
        CliTests.AssertUsageError(CliTests.Fovea("predict", _model, "x.png", "--top", "99999999999"), "--top must be between 1 and 3; received 99999999999");

    [Fact]
    public void DoubleDashEndsTheOptions()
    {
        string image = Path.Combine(_dir, "--odd.png");
        ImageLoader.SavePng(new Tensor(1, 8, 8), image);
        var r = CliTests.Fovea("predict", _model, "--", image);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("--odd.png", r.Out);
    }

    [Fact]
    public void VisualizeTakesOnnxModelsAndRefusesAFileAsItsFolder()
    {
        string onnx = Path.Combine(_dir, "small.onnx"), image = Path.Combine(_dir, "x.png");
        Assert.Equal(0, CliTests.Fovea("export", _model, "--out", onnx).Code);
        ImageLoader.SavePng(new Tensor(1, 8, 8), image);
        CliTests.AssertUsageError(CliTests.Fovea("visualize", onnx, image, "--out", _model), "small.fovea is a file; expected a folder");
        var r = CliTests.Fovea("visualize", onnx, image, "--out", Path.Combine(_dir, "pictures"));
        Assert.True(r.Code == 0, r.Err);
    }

    [Fact]
    public void VisualizeRefusesToReplaceItsImageWithAPictureOfIt()
    {
        // An image drawn from the picture folder of an earlier run, under the name its own first picture gets.
        string folder = Directory.CreateDirectory(Path.Combine(_dir, "pictures")).FullName;
        string image = Path.Combine(folder, "00-input.png");
        var pixels = new Tensor(1, 8, 8);
        for (int i = 0; i < pixels.Length; i++) pixels.Span[i] = (i % 7) / 7f;
        ImageLoader.SavePng(pixels, image);
        byte[] before = File.ReadAllBytes(image);
        CliProcess.AssertUsageError(CliTests.Fovea("visualize", _model, image, "--out", folder), "would replace the input", "00-input.png");
        Assert.Equal(before, File.ReadAllBytes(image));
        Assert.Equal([image], Directory.GetFiles(folder));

        // One that an earlier run listed as its picture, which a run drawing other layers would remove.
        string listed = Path.Combine(folder, "07-act-old_layer.png");
        File.Move(image, listed);
        File.WriteAllText(Path.Combine(folder, Visualization.PictureListName), "07-act-old_layer.png\n");
        CliProcess.AssertUsageError(CliTests.Fovea("visualize", _model, listed, "--out", folder), "would replace the input", "07-act-old_layer.png");
        Assert.Equal(before, File.ReadAllBytes(listed));

        // Elsewhere it is drawn as before.
        var r = CliTests.Fovea("visualize", _model, listed, "--out", Path.Combine(_dir, "other"));
        Assert.True(r.Code == 0, r.Err);
    }

    [Fact]
    public void OptionsThatWouldBeSilentlyLostAreRefused()
    {
        CliTests.AssertUsageError(CliTests.Fovea("predict", _model, "x.png", "--top", "1", "--top", "2"), "--top is given twice");
        CliTests.AssertUsageError(CliTests.Fovea("train", "--augment", "--no-augment"), "--augment and --no-augment");
        CliTests.AssertUsageError(CliTests.Fovea("summary", _model, "--input", "3,8,8"), "--input applies to --model");
        CliTests.AssertUsageError(CliTests.Fovea("eval", _model, "--data", _model), "is a file; expected a folder");
        CliTests.AssertUsageError(CliTests.Fovea("summary", "--model", "reference", "--input", "3,100000,100000"), "--input 3,100000,100000");
        string image = Path.Combine(_dir, "x.png");
        ImageLoader.SavePng(new Tensor(1, 8, 8), image);
        CliTests.AssertUsageError(CliTests.Fovea("visualize", _model, image, "--out", Path.Combine(_dir, "v"), "--class", ","), "--class ',' names no class");
    }

    [Fact]
    public void EvalWritesItsFilesIntoTheOutFolderAndNothingBesideTheModel()
    {
        string images = Path.Combine(_dir, "images");
        foreach (var (name, i) in new[] { "a", "b", "c" }.Select((n, i) => (n, i)))
        {
            var pixels = new Tensor(1, 8, 8);
            pixels.Span.Fill(i / 2f);
            ImageLoader.SavePng(pixels, Path.Combine(Directory.CreateDirectory(Path.Combine(images, name)).FullName, "0.png"));
        }
        string outDir = Path.Combine(_dir, "eval-out");
        var r = CliTests.Fovea("eval", _model, "--data", images, "--out", outDir, "--json");
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal(Path.Combine(outDir, "small.eval.confusion.png"), (string)JsonNode.Parse(r.Out)!["confusion_png"]!);
        Assert.True(File.Exists(Path.Combine(outDir, "small.eval.confusion.json")));
        Assert.False(File.Exists(Path.Combine(_dir, "small.eval.confusion.png")));

        CliProcess.AssertUsageError(CliTests.Fovea("eval", _model, "--data", images, "--out", _model), "--out", "is a file; expected a folder");
    }
}
