using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Fovea.Serialization;

namespace Fovea.Tests.Cli;

/// <summary>
/// fovea train stopped by a real SIGINT, then resumed: the resumed run saves the very model an uninterrupted run saves.
/// </summary>
public sealed partial class CliResumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-resume-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // 8 epochs of 500 images: after the first epoch's line, time for the signal to arrive on a busy machine (with 4, the
    // run once ended before it did when other builds kept both cores busy).
    private static string[] Args(string model) => ["train", "--limit", "500", "--epochs", "8", "--threads", "1", "--seed", "3", "--out", model];

    /// <summary>Starts fovea and sends SIGINT once the first epoch's line is printed (one line per epoch when stderr is not a terminal).</summary>
    private static (int Code, string Err) RunAndInterrupt(string[] args) =>
        CliProcess.RunAndInterrupt(args, line => line.StartsWith("epoch 1:", StringComparison.Ordinal));

    [GeneratedRegex(@"^fovea: interrupted at epoch (\d+), batch (\d+); resume with \./fovea train --resume (\S+)$")]
    private static partial Regex InterruptedLine();

    [Fact]
    public void SigintWritesACheckpointAndResumingEndsWhereAnUninterruptedRunEnds()
    {
        string model = Path.Combine(_dir, "m.fovea"), checkpoint = model + ".checkpoint";
        var (code, err) = RunAndInterrupt(Args(model));
        Assert.True(code == 130, $"exit {code}: {err}");
        var last = err.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].TrimEnd('\r');
        var match = InterruptedLine().Match(last);
        Assert.True(match.Success, err);
        Assert.True(int.Parse(match.Groups[1].Value) >= 2, last);
        Assert.Equal(checkpoint, match.Groups[3].Value);
        Assert.DoesNotContain("   at ", err);
        // The checkpoint, nothing half-written, no model yet.
        Assert.Equal([checkpoint], Directory.GetFiles(_dir));

        // A new run would replace the unfinished one's checkpoint: refused, pointing at --resume.
        CliProcess.AssertUsageError(CliProcess.Run(Args(model)), checkpoint, "--resume");
        // The run's settings are the checkpoint's; other ones are refused, each named.
        CliProcess.AssertUsageError(CliProcess.Run("train", "--resume", checkpoint, "--epochs", "9", "--lr", "0.1"),
            "--epochs 9 (the run has 8)", "--lr 0.1 (the run did not set it)");

        var resumed = CliProcess.Run("train", "--resume", checkpoint, "--json");
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.False(File.Exists(checkpoint), "the checkpoint outlived the finished run");
        var whole = Path.Combine(_dir, "whole.fovea");
        var uninterrupted = CliProcess.Run([.. Args(whole), "--json"]);
        Assert.True(uninterrupted.Code == 0, uninterrupted.Err);

        var a = SafeTensors.Read(File.ReadAllBytes(model), model).Tensors;
        var b = SafeTensors.Read(File.ReadAllBytes(whole), whole).Tensors;
        Assert.Equal(b.Keys.Order(), a.Keys.Order());
        foreach (var (name, tensor) in b) Assert.True(tensor.Values.AsSpan().SequenceEqual(a[name].Values), $"weight {name} differs");
        static string[] Figures(string json) => JsonNode.Parse(json)!["history"]!.AsArray()
            .Select(e => $"{e!["loss"]} {e["accuracy"]} {e["validation_loss"]} {e["learning_rate"]}").ToArray();
        Assert.Equal(Figures(uninterrupted.Out), Figures(resumed.Out));
        Assert.Equal(8, Figures(resumed.Out).Length);
    }

    [Fact]
    public void SigtermStopsLikeCtrlCWithExitCode143()
    {
        // kill, docker stop and systemd send SIGTERM: the run stops after its batch and keeps its checkpoint.
        string model = Path.Combine(_dir, "m.fovea"), checkpoint = model + ".checkpoint";
        var (code, err) = CliProcess.RunAndInterrupt(Args(model), line => line.StartsWith("epoch 1:", StringComparison.Ordinal), CliProcess.SigTerm);
        Assert.True(code == 143, $"exit {code}: {err}");
        var last = err.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].TrimEnd('\r');
        Assert.Matches(InterruptedLine(), last);
        Assert.DoesNotContain("   at ", err);
        Assert.Equal([checkpoint], Directory.GetFiles(_dir));
        Assert.NotNull(Fovea.Training.TrainingCheckpoint.Load(checkpoint));
    }

    [Fact]
    public void ResumingFromAFileThatIsNotACheckpointIsOneLine()
    {
        string missing = Path.Combine(_dir, "none.checkpoint");
        CliProcess.AssertUsageError(CliProcess.Run("train", "--resume", missing), missing);
        string model = Path.Combine(_dir, "plain.fovea");
        ModelFile.Save(new global::Fovea.Models.Sequential([1, 4, 4]).Top(new global::Fovea.Layers.Flatten(), new global::Fovea.Layers.Dense(2)), model);
        CliProcess.AssertUsageError(CliProcess.Run("train", "--resume", model), model, "without training state");
    }
}
