using System.Text.Json.Nodes;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Serialization;
using Fovea.Training;

namespace Fovea.Tests.Training;

/// <summary>
/// Damaged training state found by mutation fuzzing of checkpoints: each value loaded, then failed inside Fit with an
/// error that did not name the file (or an argument error from the optimizer or the data loader), or kept Fit busy for
/// minutes. Load now refuses them with a <see cref="FormatException"/> naming the file.
/// </summary>
public sealed class TrainingCheckpointFuzzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-checkpointfuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A checkpoint after one epoch of a small run with dropout and Adam.</summary>
    private string Checkpoint(string name = "run")
    {
        string path = Path.Combine(_dir, name + ".checkpoint");
        var model = new Sequential([1, 6, 6], seed: 1).Base(new Conv2D(2, 3), new ReLU()).Top(new Flatten(), new Dropout(0.25f), new Dense(3));
        new Trainer(model, new Adam(0.01f)).Fit(TrainerTests.Blobs(40, 3), new FitOptions { Epochs = 1, BatchSize = 16, CheckpointPath = path });
        return path;
    }

    /// <summary>Rewrites the checkpoint at <paramref name="path"/> with <paramref name="edit"/> applied to its training state (or its tensors), without a checksum.</summary>
    private static void Rewrite(string path, Action<JsonObject> editState, Action<Dictionary<string, (int[] Shape, float[] Values)>>? editTensors = null)
    {
        var (tensors, metadata) = SafeTensors.Read(File.ReadAllBytes(path), path);
        var state = JsonNode.Parse(metadata["training"])!.AsObject();
        editState(state);
        editTensors?.Invoke(tensors);
        metadata["training"] = state.ToJsonString();
        metadata.Remove("checksum"); // files without one load unchecked
        using var stream = File.Create(path);
        SafeTensors.Write(stream, tensors.Select(kv => (kv.Key, kv.Value.Shape, kv.Value.Values)).ToList(), metadata);
    }

    public static TheoryData<string, Action<JsonObject>, string> DamagedStates => new()
    {
        { "draws-huge", s => s["dropout_streams"]!["dropout"]!["draws"] = "9999999999", "has drawn '9999999999' masks" },
        { "draws-overflow", s => s["dropout_streams"]!["dropout"]!["draws"] = "99999999999999999999", "has drawn '99999999999999999999' masks" },
        { "draws-negative", s => s["dropout_streams"]!["dropout"]!["draws"] = "-1", "has drawn '-1' masks" },
        { "steps-negative", s => s["optimizer"]!["steps"] = -4, "the optimizer has taken -4 steps" },
        { "steps-max", s => s["optimizer"]!["steps"] = int.MaxValue, "the optimizer has taken 2147483647 steps" }, // the next one wrapped to int.MinValue
        { "rate-nan", s => s["optimizer"]!["learning_rate"] = "NaN", "field 'learning_rate' is NaN" },
        { "rate-text", s => s["optimizer"]!["base_learning_rate"] = "0.01x", "field 'base_learning_rate' is '0.01x'" },
        { "optimizer-config", s => s["optimizer"]!.AsObject().Remove("config"), "field 'config' is missing" },
        { "loss-name", s => s["loss"]!["name"] = 0, "field 'name' is 0" },
        { "batch-past-epoch", s => s["position"]!["batch"] = 1999, "position batch 1999 does not fit an epoch of 40 samples in batches of 16" },
    };

    [Theory]
    [MemberData(nameof(DamagedStates))]
    public void DamagedTrainingStateIsRefusedByLoadNamingTheFile(string name, Action<JsonObject> edit, string expected)
    {
        string path = Checkpoint(name);
        Rewrite(path, edit);
        var e = Assert.Throws<FormatException>(() => TrainingCheckpoint.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void AFieldNamedTwiceInTheTrainingStateIsRefusedByLoad()
    {
        // It loaded, and Fit then failed comparing optimizer settings: "An item with the same key has already been added".
        string path = Checkpoint();
        var (tensors, metadata) = SafeTensors.Read(File.ReadAllBytes(path), path);
        metadata["training"] = metadata["training"].Replace("\"epsilon\":", "\"epsilon\":1,\"epsilon\":", StringComparison.Ordinal);
        metadata.Remove("checksum");
        using (var stream = File.Create(path))
            SafeTensors.Write(stream, tensors.Select(kv => (kv.Key, kv.Value.Shape, kv.Value.Values)).ToList(), metadata);
        var e = Assert.Throws<FormatException>(() => TrainingCheckpoint.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("the training state is not valid JSON", e.Message);
    }

    [Fact]
    public void NaNInTheOptimizerStateIsRefused()
    {
        string path = Checkpoint();
        Rewrite(path, _ => { }, tensors => tensors["optimizer/m/dense.bias"].Values[1] = float.NaN);
        var e = Assert.Throws<FormatException>(() => TrainingCheckpoint.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("optimizer state 'optimizer/m/dense.bias' holds NaN at index 1", e.Message);
    }

    [Theory]
    [InlineData("NaN", 0, "field 'scale' is NaN")]     // the optimizer refused the NaN rate mid-run: ArgumentOutOfRangeException
    [InlineData("-0.5", 0, "field 'scale' is -0.5")]
    [InlineData("1", -3, "field 'bad_epochs' is -3")]
    public void ADamagedPlateauStateIsAFormatError(string scale, int badEpochs, string expected)
    {
        var state = new JsonObject { ["best"] = "1.5", ["bad_epochs"] = badEpochs, ["scale"] = scale };
        var e = Assert.Throws<FormatException>(() => new ReduceOnPlateauSchedule().LoadState(state));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void AnUntouchedRewriteStillLoads()
    {
        string path = Checkpoint();
        Rewrite(path, _ => { });
        Assert.Equal(1, TrainingCheckpoint.Load(path).EpochsCompleted);
    }
}
