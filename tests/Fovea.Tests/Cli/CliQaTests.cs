using System.Text.Json.Nodes;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;
using Fovea.Tensors;
using Fovea.Vision;

namespace Fovea.Tests.Cli;

/// <summary>Command-line defects found by hand (QA round on the CLI): each test is the invocation that went wrong.</summary>
public class CliQaTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-cli-qa-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Fovea(params string[] args) => CliProcess.Run(args);

    /// <summary>
    /// A model whose finite weights are so large that its scores overflow: its probabilities are NaN. Such a model loads
    /// (only NaN or infinite weights are refused), so predict and visualize must still print valid JSON.
    /// </summary>
    private (string Model, string Image) OverflowingModel()
    {
        var model = new Sequential([1, 8, 8], "overflow").Top(new Flatten(), new Dense(3));
        model.ClassNames = ["a", "b", "c"];
        foreach (var p in model.Parameters)
            foreach (ref float v in p.Value.Span) v = 1e38f;
        string path = Path.Combine(_dir, "overflow.fovea");
        ModelFile.Save(model, path);
        string image = Path.Combine(_dir, "grey.png");
        var grey = new Tensor(1, 8, 8);
        for (int i = 0; i < grey.Length; i++) grey.Span[i] = (i % 5) / 5f;
        ImageLoader.SavePng(grey, image);
        return (path, image);
    }

    [Fact]
    public void PredictJsonOfNonFiniteProbabilitiesIsValidJsonWithNulls()
    {
        var (model, image) = OverflowingModel();
        var r = Fovea("predict", model, image, "--json");
        Assert.True(r.Code == 0, r.Err);
        var top = (JsonArray)JsonNode.Parse(r.Out)![0]!["top"]!;
        Assert.Equal(3, top.Count);
        // The text output prints NaN; JSON has no NaN, so the value is null.
        Assert.All(top, entry => Assert.Null(entry!["probability"]));
        Assert.Contains("NaN", Fovea("predict", model, image).Out);
    }

    [Fact]
    public void VisualizeJsonOfNonFiniteProbabilitiesIsValidJson()
    {
        var (model, image) = OverflowingModel();
        var r = Fovea("visualize", model, image, "--out", Path.Combine(_dir, "pictures"), "--json");
        Assert.True(r.Code == 0, r.Err);
        var json = JsonNode.Parse(r.Out)!;
        Assert.NotEmpty((JsonArray)json["files"]!);
    }

    [Fact]
    public void AnUnknownCommandListsEveryCommand() =>
        CliProcess.AssertUsageError(Fovea("fly"), "train, eval, predict, summary, export, compress, import, visualize, bench");

    [Theory]
    [InlineData("eval")]
    [InlineData("visualize")]
    public void AnEmptyOutFolderNamesTheOption(string command)
    {
        var (model, image) = OverflowingModel();
        // Path.GetFullPath("") threw "The value cannot be an empty string.", which named neither the option nor the value.
        var r = command == "eval" ? Fovea("eval", model, "--out", "") : Fovea("visualize", model, image, "--out", "");
        CliProcess.AssertUsageError(r, "--out");
        Assert.DoesNotContain("The value cannot be an empty string", r.Err);
    }

    [Fact]
    public void ASignalDuringASaveLeavesNoHalfWrittenFile()
    {
        // 16.8 M weights: the export's 64 MB take long enough to write (and flush to disk) for the signal to land during it.
        var model = new Sequential([1, 64, 64], "big").Top(new Flatten(), new Dense(4096));
        string input = Path.Combine(_dir, "big.fovea"), output = Path.Combine(_dir, "big.onnx");
        ModelFile.Save(model, input);
        File.WriteAllText(output, "the previous export");
        bool Writing() => Directory.EnumerateFiles(_dir, "big.onnx.tmp-*").Any();
        var r = CliProcess.RunAndSignalWhen(["export", input, "--out", output], Writing);
        // Ctrl-C ends a command at once, but not with the temporary file it was writing left behind, half-written.
        Assert.False(Writing(), $"a temporary file was left: exit {r.Code}, stderr {r.Err}");
        string now = File.ReadAllText(output);
        // The rename may have come first: then the export is complete. Either way the path holds a whole file.
        Assert.True(now == "the previous export" || new FileInfo(output).Length > 60_000_000, $"{output} holds {new FileInfo(output).Length} bytes");
    }

    [Fact]
    public void EvalOfAnImageFolderModelWithoutDataSaysToGiveData()
    {
        // Classes of no built-in data set: eval fell back to Fashion-MNIST and failed on its image shape, which named neither
        // the model file nor the missing --data.
        var model = new Sequential([3, 8, 8], "photos").Top(new Flatten(), new Dense(2));
        model.ClassNames = ["blue", "red"];
        string path = Path.Combine(_dir, "photos.fovea");
        ModelFile.Save(model, path);
        var r = Fovea("eval", path);
        CliProcess.AssertUsageError(r, path, "Fashion-MNIST", "--data DIR");
    }

    [Fact]
    public void EvalOnADataSetOfOtherClassesGivesCommandLineAdvice()
    {
        var model = new Sequential([1, 28, 28], "letters").Top(new Flatten(), new Dense(10));
        model.ClassNames = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
        string path = Path.Combine(_dir, "letters.fovea");
        ModelFile.Save(model, path);
        var r = Fovea("eval", path, "--dataset", "fashion-mnist");
        // The library's advice (ImageFileDataset.Open(...)) means nothing on the command line.
        CliProcess.AssertUsageError(r, path, "Fashion-MNIST", "--data DIR");
        Assert.DoesNotContain("ImageFileDataset.Open", r.Err);
    }

    [Fact]
    public void AFileNamedLikeTheHelpOptionAfterDoubleDashIsAPath()
    {
        var (model, image) = OverflowingModel();
        string dashH = Path.Combine(_dir, "-h");
        File.Copy(image, dashH);
        // "--" ends the options (CommandLine.Parse), but the help check before it printed predict's help.
        var r = CliProcess.Run(new Dictionary<string, string?>(), _dir, "predict", model, "--", "-h");
        Assert.True(r.Code == 0, r.Err);
        Assert.StartsWith("-h\n", r.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("Usage:", r.Out);
        Assert.Contains("Usage:", Fovea("predict", "-h").Out);
    }

    [Fact]
    public void EvalWritesNoConfusionMatrixIntoAClassFolderOfItsImages()
    {
        var model = new Sequential([3, 8, 8], "photos").Top(new Flatten(), new Dense(2));
        model.ClassNames = ["blue", "red"];
        string path = Path.Combine(_dir, "photos.fovea");
        ModelFile.Save(model, path);
        string images = Path.Combine(_dir, "images");
        foreach (var (name, value) in new[] { ("blue", 0.2f), ("red", 0.8f) })
        {
            Directory.CreateDirectory(Path.Combine(images, name));
            var picture = new Tensor(3, 8, 8);
            picture.Span.Fill(value);
            ImageLoader.SavePng(picture, Path.Combine(images, name, "1.png"));
        }
        // The PNG written there was read as a further image of 'red' by the next eval (and train) of the folder.
        var r = Fovea("eval", path, "--data", images, "--out", Path.Combine(images, "red"));
        CliProcess.AssertUsageError(r, "class folder", "red", "--out DIR");
        Assert.Single(Directory.GetFiles(Path.Combine(images, "red")));
        var fine = Fovea("eval", path, "--data", images, "--out", images, "--json");
        Assert.True(fine.Code == 0, fine.Err);
        Assert.Equal(2, (int)JsonNode.Parse(fine.Out)!["images"]!);
    }

    [Fact]
    public void BenchRefusesABatchWhoseLayerOutputsDoNotFit()
    {
        // The GC's hard limit (4 GiB) is the memory the check sees, so the outcome is the same on any machine. The inputs of
        // 65,536 images of 28 x 28 fit bench's input limit; its first feature maps (6.6 GB) did not, and Predict threw
        // OutOfMemoryException: "internal error", exit 1.
        var r = CliProcess.Run(new Dictionary<string, string?> { ["DOTNET_GCHeapHardLimit"] = "0x100000000" }, (string?)null,
            "bench", "--model", "default", "--batch-sizes", "1,65536", "--threads", "1", "--seconds", "0.05");
        CliProcess.AssertUsageError(r, "--batch-sizes 65536", "at most");
    }

    [Fact]
    public void FashionMnistFilesGivenAsMnistAreRefused()
    {
        // Both data sets use the same four file names and shapes, and MNIST has no content checksum on record: clothing was
        // trained under the digit labels 0-9 without a word.
        string fashion = global::Fovea.Data.MnistFamily.FashionMnist.SystemFolder;
        Assert.SkipUnless(Directory.Exists(fashion), $"needs Fashion-MNIST in {fashion}");
        var r = Fovea("train", "--dataset", "mnist", "--data", fashion, "--limit", "100", "--epochs", "1", "--out", Path.Combine(_dir, "m.fovea"));
        CliProcess.AssertUsageError(r, "Fashion-MNIST", "not MNIST");
        Assert.False(File.Exists(Path.Combine(_dir, "m.fovea")));
    }

    [Fact]
    public void AValidationSplitThatLeavesNothingToTrainOnNamesTheOption()
    {
        // The library's message named its property: "ValidationSplit 0.99 of 2 sample(s) leaves none to train on."
        var r = Fovea("train", "--limit", "2", "--validation-split", "0.99", "--epochs", "1", "--out", Path.Combine(_dir, "m.fovea"));
        CliProcess.AssertUsageError(r, "--validation-split 0.99 of 2 training image(s)", "--limit");
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task InputsThatCannotBeReadAreNamedAsTheInputsTheyAre()
    {
        // Root reads any file: run as the user nobody (setpriv) when the tests run as root, as the suite does in CI.
        bool root = Environment.UserName == "root";
        Assert.SkipWhen(root && !File.Exists("/usr/bin/setpriv"), "needs setpriv to run the CLI as another user");
        Assert.SkipWhen(root && !OthersCanRun(), $"the CLI under {AppContext.BaseDirectory} cannot be reached by another user (a parent folder is private, e.g. a clone in a mktemp folder)");
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_101_101);
        var (model, image) = OverflowingModel();
        string folder = Path.Combine(_dir, "closed");
        Directory.CreateDirectory(folder);
        File.Copy(image, Path.Combine(folder, "1.png"));
        File.SetUnixFileMode(folder, UnixFileMode.None);
        File.SetUnixFileMode(model, UnixFileMode.None);
        // Both were .NET's "Access to the path '...' is denied.", which did not say which input that was.
        CliProcess.AssertUsageError(await RunAsAnotherUser(root, "predict", model, image), $"Model file {model} cannot be read", "permission");
        File.SetUnixFileMode(model, (UnixFileMode)0b110_100_100);
        var closed = await RunAsAnotherUser(root, "predict", model, folder);
        File.SetUnixFileMode(folder, (UnixFileMode)0b111_101_101); // so that a user other than root can delete it
        CliProcess.AssertUsageError(closed, $"Image folder {folder} cannot be read", "permission");
        // A class folder of an image folder given to train.
        string photos = Path.Combine(_dir, "photos"), red = Path.Combine(photos, "red");
        foreach (var name in new[] { "blue", "red" })
        {
            Directory.CreateDirectory(Path.Combine(photos, name));
            File.Copy(image, Path.Combine(photos, name, "1.png"));
            File.Copy(image, Path.Combine(photos, name, "2.png"));
        }
        File.SetUnixFileMode(red, UnixFileMode.None);
        var train = await RunAsAnotherUser(root, "train", "--data", photos, "--base", "none", "--out", Path.Combine(_dir, "out", "m.fovea"));
        File.SetUnixFileMode(red, (UnixFileMode)0b111_101_101);
        CliProcess.AssertUsageError(train, $"--data folder {photos} cannot be read (its subfolder {red})", "permission");
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task ResumingACheckpointInAFolderThatTakesNoFilesIsRefusedBeforeTraining()
    {
        bool root = Environment.UserName == "root";
        Assert.SkipWhen(root && !File.Exists("/usr/bin/setpriv"), "needs setpriv to run the CLI as another user");
        Assert.SkipWhen(root && !OthersCanRun(), $"the CLI under {AppContext.BaseDirectory} cannot be reached by another user (a parent folder is private, e.g. a clone in a mktemp folder)");
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_101_101);
        string runs = Path.Combine(_dir, "runs"), closed = Path.Combine(_dir, "closed");
        Directory.CreateDirectory(runs);
        Directory.CreateDirectory(closed);
        File.SetUnixFileMode(runs, (UnixFileMode)0b111_111_111); // the model's folder takes files for anyone
        var (code, err) = CliProcess.RunAndInterrupt(["train", "--limit", "500", "--epochs", "8", "--threads", "1", "--out", Path.Combine(runs, "m.fovea")],
            line => line.StartsWith("epoch 1:", StringComparison.Ordinal));
        Assert.True(code == 130, $"exit {code}: {err}");
        // Moved where the user running it may read but not write: the run rewrites its checkpoint after every epoch.
        string checkpoint = Path.Combine(closed, "m.fovea.checkpoint");
        File.Move(Path.Combine(runs, "m.fovea.checkpoint"), checkpoint);
        File.SetUnixFileMode(checkpoint, (UnixFileMode)0b110_100_100);
        if (!root) File.SetUnixFileMode(closed, (UnixFileMode)0b101_101_101);
        var r = await RunAsAnotherUser(root, "train", "--resume", checkpoint);
        File.SetUnixFileMode(closed, (UnixFileMode)0b111_101_101);
        // It trained an epoch, then failed on .NET's "Access to the path '...tmp-...' is denied." when it saved the checkpoint.
        CliProcess.AssertUsageError(r, $"--resume {checkpoint}", "cannot write in");
    }

    /// <summary>Whether a user other than the owner may run the built CLI: every folder above it searchable, the file readable.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static bool OthersCanRun()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Fovea.Cli.dll");
        if (!File.GetUnixFileMode(dll).HasFlag(UnixFileMode.OtherRead)) return false;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (!dir.UnixFileMode.HasFlag(UnixFileMode.OtherExecute)) return false;
        return true;
    }

    private async Task<(int, string, string)> RunAsAnotherUser(bool root, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(root ? "/usr/bin/setpriv" : CliProcess.DotnetHost) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (root) foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", CliProcess.DotnetHost }) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Fovea.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = _dir;
        psi.Environment["DOTNET_CLI_HOME"] = _dir;
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout, err);
    }
}
