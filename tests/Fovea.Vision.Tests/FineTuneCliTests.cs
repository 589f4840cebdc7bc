using System.Text.Json.Nodes;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;

namespace Fovea.Vision.Tests;

/// <summary>fovea train --fine-tune on a generated image folder with a tiny residual base from a model file, run as the real executable.</summary>
public sealed class FineTuneCliTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-finetune-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (int Code, string Out, string Err) Fovea(params string[] args) => CliProcess.Run(TimeSpan.FromMinutes(5), output, args);

    /// <summary>
    /// A stand-in for a pretrained network at 16 x 16: a stem, one residual block whose add reads the stem's ReLU, pooling.
    /// Its BatchNorm has running statistics away from 0 and 1, as a trained one has.
    /// </summary>
    private string SaveResidualBase()
    {
        var m = new Model([3, 16, 16], "residual-base", seed: 3);
        var stem = m.Add(new Conv2D(8, 3, stride: 2, padding: 1, name: "stem"));
        stem = m.Add(new ReLU(name: "stem_relu"), stem);
        var block = m.Add(new Conv2D(8, 3, padding: 1, name: "block_conv"), stem);
        block = m.Add(new BatchNorm2D(name: "block_bn"), block);
        block = m.Add(new Add(name: "block_add"), block, stem);
        m.Add(new ReLU(name: "block_relu"), block);
        m.Add(new MaxPool2D(2, name: "pool"));
        foreach (var p in m.GetLayer("block_bn").Parameters.Where(p => p.IsBuffer))
            for (int i = 0; i < p.Value.Length; i++) p.Value.Span[i] = p.LocalName == "running_var" ? 1.5f : 0.1f;
        string path = Path.Combine(_dir, "residual.fovea");
        ModelFile.Save(m, path);
        return path;
    }

    private static float[][] Weights(Model model, string layer) => model.GetLayer(layer).Parameters.Select(p => p.Value.ToArray()).ToArray();

    private void AssertOneLineError(string[] args, string expected) => CliProcess.AssertUsageError(Fovea(args), expected);

    [Fact]
    public void Fine_tuning_trains_the_base_after_the_layer_with_the_classifier_and_saves_one_model()
    {
        using var train = new SyntheticFolder(imagesPerClass: 10, seed: 71, minSide: 20, maxSide: 40);
        string basePath = SaveResidualBase();
        string model = Path.Combine(_dir, "tuned.fovea");
        var run = Fovea("train", "--data", train.Root, "--base", basePath, "--fine-tune", "stem_relu", "--epochs", "4", "--fine-tune-epochs", "2",
            "--out", model, "--json");
        Assert.True(run.Code == 0, run.Err);
        var result = JsonNode.Parse(run.Out)!;
        var fineTune = result["fine_tune"]!;
        Assert.Equal("stem_relu", (string)fineTune["layer"]!);
        Assert.Equal(2, (int)fineTune["epochs"]!);
        Assert.Equal(0.0001, (double)fineTune["learning_rate"]!, 9);   // a tenth of the classifier's 0.001
        Assert.NotNull(fineTune["frozen_validation"]!["accuracy"]);
        // One history: the classifier's 4 epochs, then fine-tuning's as epochs 5 and 6 at the lower rate.
        var history = (JsonArray)result["history"]!;
        Assert.Equal([1, 2, 3, 4, 5, 6], history.Select(e => (int)e!["epoch"]!));
        Assert.Equal(0.0001, (double)history[5]!["learning_rate"]!, 9);
        Assert.Equal(7, File.ReadAllLines(Path.Combine(_dir, "tuned.history.csv")).Length);

        // The saved model: the head as in the base file, the block's convolution trained, its BatchNorm kept.
        var original = ModelFile.Load(basePath);
        var tuned = ModelFile.Load(model);
        Assert.Equal(SyntheticFolder.ClassNames, tuned.ClassNames);
        Assert.Equal(Weights(original, "stem"), Weights(tuned, "stem"));
        Assert.Equal(Weights(original, "block_bn"), Weights(tuned, "block_bn"));
        Assert.NotEqual(Weights(original, "block_conv"), Weights(tuned, "block_conv"));
        var predict = Fovea("predict", model, train.Files[0].Path);
        Assert.True(predict.Code == 0, predict.Err);

        // Without --json it says what it fine-tunes, and the accuracy before and after.
        var text = Fovea("train", "--data", train.Root, "--base", basePath, "--fine-tune", "block_relu", "--epochs", "2", "--fine-tune-epochs", "1",
            "--out", Path.Combine(_dir, "tuned2.fovea"));
        Assert.True(text.Code == 0, text.Err);
        Assert.Contains("Fine-tuning the layers after block_relu with the classifier", text.Err);
        Assert.Contains("fine-tuning after block_relu (frozen features alone: ", text.Out);
    }

    [Fact]
    public void Ctrl_C_during_fine_tuning_keeps_its_checkpoint_and_resume_continues_it_to_the_uninterrupted_model()
    {
        using var train = new SyntheticFolder(imagesPerClass: 10, seed: 73, minSide: 20, maxSide: 40);
        string basePath = SaveResidualBase();
        string model = Path.Combine(_dir, "tuned.fovea"), checkpoint = model + ".checkpoint", fineTuneCheckpoint = Path.Combine(_dir, "tuned.fovea.fine-tune.checkpoint");
        string[] settings = ["--data", train.Root, "--base", basePath, "--fine-tune", "stem_relu", "--epochs", "4", "--fine-tune-epochs", "150", "--threads", "1"];
        // Signalled once fine-tuning has finished a few epochs of its own, so its checkpoint holds progress to continue.
        bool fineTuning = false;
        var (code, err) = CliProcess.RunAndInterrupt(["train", .. settings, "--out", model], line =>
        {
            fineTuning |= line.StartsWith("Fine-tuning the layers after", StringComparison.Ordinal);
            return fineTuning && line.StartsWith("epoch 3:", StringComparison.Ordinal);
        });
        Assert.True(code == 130, $"exit {code}: {err}");
        var last = err.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        var m = System.Text.RegularExpressions.Regex.Match(last, @"^fovea: interrupted at epoch (\d+), batch (\d+); resume with \./fovea train --resume (\S+)$");
        Assert.True(m.Success, last);
        Assert.InRange(int.Parse(m.Groups[1].Value), 4 + 3, 4 + 150);    // numbered on from the classifier's 4 epochs
        Assert.Equal(checkpoint, m.Groups[3].Value);                       // the run's checkpoint, which holds the command line
        Assert.True(File.Exists(checkpoint));
        Assert.True(File.Exists(fineTuneCheckpoint));
        Assert.False(File.Exists(model));                                  // nothing half fine-tuned is saved

        // The fine-tuning's checkpoint is not the one to resume, and a new run does not start over an unfinished one.
        AssertOneLineError(["train", "--resume", fineTuneCheckpoint], $"holds the fine-tuning of the run in {checkpoint}; continue it with ./fovea train --resume {checkpoint}");
        AssertOneLineError(["train", .. settings, "--out", model], $"{checkpoint} holds an unfinished run");

        var resumed = Fovea("train", "--resume", checkpoint);
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Contains($"Resuming the fine-tuning from {fineTuneCheckpoint}: ", resumed.Err);
        Assert.True(File.Exists(model));
        Assert.False(File.Exists(checkpoint));
        Assert.False(File.Exists(fineTuneCheckpoint));
        var history = File.ReadAllLines(Path.Combine(_dir, "tuned.history.csv"));
        Assert.Equal(1 + 4 + 150, history.Length);

        // The same run without the interruption ends with the same weights, bit for bit.
        string whole = Path.Combine(_dir, "whole.fovea");
        var uninterrupted = Fovea(["train", .. settings, "--out", whole, "--json"]);
        Assert.True(uninterrupted.Code == 0, uninterrupted.Err);
        var a = ModelFile.Load(model);
        var b = ModelFile.Load(whole);
        foreach (var layer in b.Layers) Assert.Equal(Weights(b, layer.Name), Weights(a, layer.Name));
    }

    [Fact]
    public void A_fine_tuning_checkpoint_left_without_its_run_is_named_instead_of_replaced()
    {
        using var train = new SyntheticFolder(imagesPerClass: 3, seed: 74, minSide: 20, maxSide: 30);
        string basePath = SaveResidualBase();
        string model = Path.Combine(_dir, "tuned.fovea"), orphan = Path.Combine(_dir, "tuned.fovea.fine-tune.checkpoint");
        File.WriteAllText(orphan, "left over");
        AssertOneLineError(["train", "--data", train.Root, "--base", basePath, "--fine-tune", "stem_relu", "--out", model],
            $"{orphan} holds the fine-tuning of an unfinished run whose checkpoint {model}.checkpoint is gone; delete it to start afresh");
        Assert.Equal("left over", File.ReadAllText(orphan));
    }

    [Fact]
    public void Fine_tuning_mistakes_are_one_line_naming_the_option()
    {
        using var train = new SyntheticFolder(imagesPerClass: 3, seed: 72, minSide: 20, maxSide: 30);
        string basePath = SaveResidualBase();
        string[] folder = ["train", "--data", train.Root];
        AssertOneLineError([.. folder, "--base", "none", "--fine-tune"], "--base none trains a network from scratch");
        AssertOneLineError([.. folder, "--base", basePath, "--fine-tune"], $"--fine-tune needs the layer after which to train with --base {basePath}");
        AssertOneLineError([.. folder, "--base", basePath, "--fine-tune", "block_conv"],
            "--fine-tune block_conv: Cannot cut model 'residual-base' after 'block_conv': layer 'block_add' after the cut also reads 'stem_relu'");
        AssertOneLineError([.. folder, "--base", basePath, "--fine-tune", "pool"], "it is the model's output, so nothing follows it");
        AssertOneLineError([.. folder, "--base", basePath, "--fine-tune", "nope"], "--fine-tune nope: Model 'residual-base' has no layer named 'nope'");
        AssertOneLineError([.. folder, "--base", basePath, "--fine-tune", "input"], "would train the whole base");
        AssertOneLineError([.. folder, "--base", basePath, "--fine-tune", "stem_relu", "--fine-tune-lr", "0"], "--fine-tune-lr must be greater than 0");
        AssertOneLineError([.. folder, "--base", basePath, "--fine-tune-epochs", "3"], "--fine-tune-epochs applies to fine-tuning; add --fine-tune");
        AssertOneLineError(["train", "--fine-tune"], "--fine-tune applies to image folders");
        AssertOneLineError([.. folder, "--base", basePath, "--fine-tune=", "x"], "--fine-tune= needs a value");
    }
}
