using Fovea.Data;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Serialization;
using Fovea.Training;

namespace Fovea.Tests.Training;

/// <summary>
/// A run stopped and resumed from its checkpoint ends bit for bit where an uninterrupted run ends. Parallelism.Degree is
/// fixed for the comparison, so the class runs alone.
/// </summary>
[Collection(DegreeCollection.Name)]
public sealed class TrainingCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static InMemoryDataset Data() => TrainerTests.Blobs(200, 3);

    // BatchNorm (running statistics) and Dropout (a random stream) carry state beyond the weights.
    private static Sequential Net(int seed, int filters = 4) => new Sequential([1, 6, 6], seed: seed)
        .Base(new Conv2D(filters, 3, padding: 1), new BatchNorm2D(), new ReLU(), new MaxPool2D(2))
        .Top(new Flatten(), new Dropout(0.25f), new Dense(3));

    private static Optimizer NewOptimizer(string kind) => kind == "adam" ? new Adam(0.01f) : new Sgd(0.05f, momentum: 0.9f);

    private static LearningRateSchedule NewSchedule(string kind) => kind == "adam" ? new CosineSchedule(0.1f, warmupEpochs: 1) : new ReduceOnPlateauSchedule(0.5f, patience: 0);

    /// <summary>The options of every run: shuffled, augmented, 20% held out, a schedule and early stopping (restoring the best weights).</summary>
    private static FitOptions Options(string kind, string? checkpoint = null, params ITrainingCallback[] extra) => new()
    {
        Epochs = 6, BatchSize = 16, Seed = 7, ValidationSplit = 0.2, Schedule = NewSchedule(kind),
        Augmentation = new Augmentation(0.5, 1), CheckpointPath = checkpoint,
        Callbacks = [new EarlyStopping("val_loss", patience: 10), .. extra],
    };

    /// <summary>Cancels once batch <paramref name="batch"/> of epoch <paramref name="epoch"/> (both from 1) is done.</summary>
    private sealed class CancelAfter(CancellationTokenSource source, int epoch, int batch) : ITrainingCallback
    {
        public void OnBatchEnd(Trainer trainer, in BatchProgress p) { if (p.Epoch == epoch && p.Batch == batch) source.Cancel(); }
    }

    private static float[] Weights(Model model) => model.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();

    private static object[] Comparable(History h) =>
        h.Epochs.Select(e => (object)(e.Epoch, e.Loss, e.Accuracy, e.ValidationLoss, e.ValidationAccuracy, e.LearningRate)).ToArray();

    /// <summary>Stops a run after batch <paramref name="batch"/> of epoch <paramref name="epoch"/> (batch 8 of 8 = the epoch's end); returns the checkpoint.</summary>
    private string Interrupted(string kind, int epoch, int batch)
    {
        string path = Path.Combine(_dir, $"{kind}.checkpoint");
        using var source = new CancellationTokenSource();
        var e = Assert.Throws<TrainingInterruptedException>(() => new Trainer(Net(seed: 1), NewOptimizer(kind))
            .Fit(Data(), Options(kind, path, new CancelAfter(source, epoch, batch)), source.Token));
        (int expectedEpoch, int expectedBatch) = batch == 10 ? (epoch + 1, 0) : (epoch, batch);
        Assert.Equal((expectedEpoch, expectedBatch, path), (e.Epoch, e.Batch, e.CheckpointPath));
        return path;
    }

    [Theory]
    [InlineData("adam", 2, 10)]   // at the end of epoch 2 (160 training samples: 10 batches per epoch)
    [InlineData("adam", 3, 4)]    // part-way through epoch 3
    [InlineData("sgd", 4, 10)]    // after the best validation loss: the plateau's and early stopping's memory of it must survive
    [InlineData("sgd", 5, 7)]
    public void AResumedRunEqualsAnUninterruptedOne(string kind, int epoch, int batch)
    {
        int saved = Parallelism.Degree;
        Parallelism.Degree = 2;
        try
        {
            var whole = Net(seed: 1);
            var wholeHistory = new Trainer(whole, NewOptimizer(kind)).Fit(Data(), Options(kind));

            var checkpoint = TrainingCheckpoint.Load(Interrupted(kind, epoch, batch));
            Assert.Equal(batch == 10 ? epoch : epoch - 1, checkpoint.EpochsCompleted);
            Assert.Equal(batch == 10 ? 0 : batch, checkpoint.BatchesIntoEpoch);
            Assert.Equal(2, checkpoint.Threads);
            // Another seed: everything the run depends on must come from the checkpoint.
            var resumed = Net(seed: 99);
            var history = new Trainer(resumed, NewOptimizer(kind)).Fit(Data(), Options(kind), checkpoint);

            Assert.Equal(Comparable(wholeHistory), Comparable(history));
            if (kind == "sgd") // the plateau schedule's counters matter only if it cuts the rate after the resumption
                Assert.True(history.Epochs.Skip(epoch - 1).Select(e => e.LearningRate).Distinct().Count() > 1,
                    string.Join(", ", history.Epochs.Select(e => $"{e.ValidationLoss:F4}@{e.LearningRate}")));
            Assert.Equal(Weights(whole), Weights(resumed));
            Assert.Empty(Directory.GetFiles(_dir, "*.tmp-*"));
        }
        finally { Parallelism.Degree = saved; }
    }

    [Fact]
    public void ACheckpointIsWrittenAfterEveryEpochAndReadsAsAModelFile()
    {
        string path = Path.Combine(_dir, "run.checkpoint");
        var model = Net(seed: 1);
        new Trainer(model, new Adam(0.01f)).Fit(Data(), Options("adam", path) with { Epochs = 2 });
        var checkpoint = TrainingCheckpoint.Load(path);
        Assert.True(checkpoint.IsFinished);
        Assert.Equal(2, checkpoint.History.Count);
        Assert.Equal("adam", checkpoint.OptimizerName);
        Assert.Equal(new CheckpointSettings(2, 16, true, 7, 0.2, new Augmentation(0.5, 1), "cosine", 160, 40), checkpoint.Settings);
        Assert.Equal(Weights(checkpoint.Model), Weights(ModelFile.Load(path)));
        // Finished: resuming trains nothing more and gives the whole history back.
        var again = Net(seed: 1);
        var history = new Trainer(again, new Adam(0.01f)).Fit(Data(), Options("adam") with { Epochs = 2 }, checkpoint);
        Assert.Equal(2, history.Epochs.Count);
        // A longer run continues it; a shorter one than the checkpoint has done is refused.
        history = new Trainer(Net(seed: 1), new Adam(0.01f)).Fit(Data(), Options("adam") with { Epochs = 3 }, checkpoint);
        Assert.Equal([1, 2, 3], history.Epochs.Select(e => e.Epoch));
        var e = Refused(checkpoint, Net(seed: 1), new Adam(0.01f), Options("adam") with { Epochs = 1 });
        Assert.Contains("Epochs 1 ends before epoch 2", e.Message);
    }

    private TrainingCheckpoint SmallCheckpoint(string kind = "adam")
    {
        string path = Path.Combine(_dir, $"small-{kind}.checkpoint");
        new Trainer(Net(seed: 1), NewOptimizer(kind)).Fit(Data(), Options(kind, path) with { Epochs = 1 });
        return TrainingCheckpoint.Load(path);
    }

    private static ArgumentException Refused(TrainingCheckpoint checkpoint, Model model, Optimizer optimizer, FitOptions options)
    {
        var e = Assert.Throws<ArgumentException>(() => new Trainer(model, optimizer).Fit(Data(), options, checkpoint));
        Assert.Contains(checkpoint.Path, e.Message);
        return e;
    }

    [Fact]
    public void AnotherArchitectureIsRefusedNamingTheLayer()
    {
        var e = Refused(SmallCheckpoint(), Net(seed: 1, filters: 5), new Adam(0.01f), Options("adam") with { Epochs = 1 });
        Assert.Contains("another model", e.Message);
        Assert.Contains("\"filters\":4", e.Message);
        Assert.Contains("\"filters\":5", e.Message);
    }

    [Fact]
    public void AnotherOptimizerTypeIsRefusedNamingBoth()
    {
        var e = Refused(SmallCheckpoint(), Net(seed: 1), new Sgd(0.01f, momentum: 0.9f), Options("adam") with { Epochs = 1 });
        Assert.Contains("optimizer 'adam'", e.Message);
        Assert.Contains("this trainer's optimizer is 'sgd'", e.Message);
    }

    [Fact]
    public void OtherOptimizerSettingsAreRefusedNamingTheValues()
    {
        var e = Refused(SmallCheckpoint(), Net(seed: 1), new Adam(0.02f, beta1: 0.8f), Options("adam") with { Epochs = 1 });
        Assert.Contains("beta1 0.9 (this optimizer: 0.8)", e.Message);
        Assert.Contains("learning rate 0.01 (this optimizer: 0.02)", e.Message);
    }

    [Fact]
    public void OtherFitSettingsAreRefusedNamingEveryOne()
    {
        var e = Refused(SmallCheckpoint("sgd"), Net(seed: 1), NewOptimizer("sgd"),
            Options("sgd") with { Epochs = 1, BatchSize = 32, Seed = 8, Schedule = new StepSchedule() });
        Assert.Contains("BatchSize 16 (this Fit: 32)", e.Message);
        Assert.Contains("Seed 7 (this Fit: 8)", e.Message);
        Assert.Contains("(this Fit: step {\"step_epochs\":5,\"gamma\":0.1})", e.Message);
    }

    [Fact]
    public void ATruncatedCheckpointIsRefusedNamingTheFile()
    {
        string path = SmallCheckpoint().Path;
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<FormatException>(() => TrainingCheckpoint.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    /// <summary>Rewrites the checkpoint's metadata entry <paramref name="key"/>.</summary>
    private static string WithMetadata(string path, string key, Func<string, string> change)
    {
        var (tensors, metadata) = SafeTensors.Read(File.ReadAllBytes(path), path);
        metadata[key] = change(metadata[key]);
        var list = tensors.Select(t => (t.Key, t.Value.Shape, t.Value.Values)).ToList();
        // Checksummed again, as a Fovea that wrote this metadata would: the test is about the field, not the checksum.
        metadata[ModelChecksum.MetadataKey] = ModelChecksum.Compute(list, metadata);
        using (var stream = File.Create(path))
            SafeTensors.Write(stream, list, metadata);
        return path;
    }

    [Fact]
    public void ANewerFormatIsRefusedNamingTheVersion()
    {
        string path = WithMetadata(SmallCheckpoint().Path, "training_checkpoint_version", _ => "7");
        var e = Assert.Throws<FormatException>(() => TrainingCheckpoint.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("newer Fovea (training checkpoint format version 7)", e.Message);
    }

    [Fact]
    public void ADamagedTrainingStateIsRefusedNamingTheField()
    {
        string path = WithMetadata(SmallCheckpoint().Path, "training", text => text.Replace("\"batch_size\"", "\"batch_count\""));
        var e = Assert.Throws<FormatException>(() => TrainingCheckpoint.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("field 'batch_size' is missing", e.Message);

        WithMetadata(path, "training", text => text[..^3]);
        e = Assert.Throws<FormatException>(() => TrainingCheckpoint.Load(path));
        Assert.Contains("not valid JSON", e.Message);
    }

    [Fact]
    public void AModelFileIsNotACheckpoint()
    {
        string path = Path.Combine(_dir, "plain.fovea");
        ModelFile.Save(Net(seed: 1), path);
        var e = Assert.Throws<FormatException>(() => TrainingCheckpoint.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("without training state", e.Message);
    }
}
