using Fovea.Data;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Training;

namespace Fovea.Tests.Training;

public class TrainerTests
{
    private static InMemoryDataset Blobs(int count, int seed)
    {
        // Three classes of 1x6x6 images: a bright square in one of three places, plus noise.
        var rng = new Random(seed);
        var images = new float[count * 36];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int label = i % 3;
            labels[i] = label;
            for (int p = 0; p < 36; p++) images[i * 36 + p] = 0.2f * rng.NextSingle();
            int r0 = label * 2;
            for (int y = r0; y < r0 + 2; y++) for (int x = r0; x < r0 + 2; x++) images[i * 36 + y * 6 + x] += 0.8f;
        }
        return new InMemoryDataset(images, labels, [1, 6, 6], ["a", "b", "c"]);
    }

    private static Sequential SmallNet(int seed) => new Sequential([1, 6, 6], seed: seed)
        .Base(new Fovea.Layers.Conv2D(4, 3, padding: 1), new Fovea.Layers.ReLU(), new Fovea.Layers.MaxPool2D(2))
        .Top(new Fovea.Layers.Flatten(), new Fovea.Layers.Dense(3));

    [Fact]
    public void SeededRunsAreReproducible()
    {
        float[] Run()
        {
            var model = SmallNet(seed: 11);
            new Trainer(model, new Adam(0.01f)).Fit(Blobs(90, 1), new FitOptions { Epochs = 2, BatchSize = 16, Seed = 5, Augmentation = new Augmentation(0.5, 1) });
            return model.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void FitRecordsHistoryWithValidationAndEvaluates()
    {
        var model = SmallNet(seed: 1);
        var trainer = new Trainer(model, new Sgd(0.1f, momentum: 0.9f, nesterov: true));
        var history = trainer.Fit(Blobs(300, 2), new FitOptions { Epochs = 4, BatchSize = 32, ValidationSplit = 0.2, Schedule = new CosineSchedule() });
        Assert.Equal(4, history.Epochs.Count);
        Assert.All(history.Epochs, e => Assert.NotNull(e.ValidationAccuracy));
        Assert.True(history.Epochs[^1].Loss < history.Epochs[0].Loss);
        var result = trainer.Evaluate(Blobs(90, 3));
        Assert.True(result.Accuracy > 0.9, $"accuracy {result.Accuracy}");
        Assert.Equal(90, result.Confusion.Total);
        Assert.Equal(3, result.K);
        Assert.StartsWith("epoch,loss,accuracy,val_loss", history.ToCsv());
        var probabilities = trainer.Predict(Blobs(6, 4));
        Assert.Equal([6, 3], probabilities.Shape);
        Assert.Equal(1.0, probabilities.Span[..3].ToArray().Sum(), 4);
    }

    [Fact]
    public void FitsAResidualNetworkWithBatchNormAndDropout()
    {
        // Every op of this graph runs inside the training arena, whose recycled buffers are NaN-poisoned in debug builds.
        var model = new Model([1, 6, 6], "res", seed: 4);
        var a = model.Add(new Fovea.Layers.Conv2D(4, 3, padding: 1));
        a = model.Add(new Fovea.Layers.BatchNorm2D(), a);
        a = model.Add(new Fovea.Layers.ReLU(), a);
        var b = model.Add(new Fovea.Layers.Conv2D(4, 3, padding: 1), a);
        var sum = model.Add(new Fovea.Layers.Add(), a, b);
        var p = model.Add(new Fovea.Layers.AvgPool2D(2), sum);
        var f = model.AddTop(new Fovea.Layers.Flatten(), p);
        f = model.AddTop(new Fovea.Layers.Dropout(0.2f), f);
        model.AddTop(new Fovea.Layers.Dense(3), f);
        var trainer = new Trainer(model, new AdamW(0.01f));
        var history = trainer.Fit(Blobs(240, 7), new FitOptions { Epochs = 5, BatchSize = 32 });
        Assert.All(history.Epochs, e => Assert.True(double.IsFinite(e.Loss)));
        Assert.True(trainer.Evaluate(Blobs(90, 8)).Accuracy > 0.9);
    }

    [Fact]
    public void EarlyStoppingStopsAndCheckpointKeepsTheBest()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fovea-ckpt-{Guid.NewGuid():N}.fovea");
        try
        {
            var model = SmallNet(seed: 2);
            // A learning rate of zero never improves, so patience 1 stops after epoch 2.
            var stop = new EarlyStopping("loss", patience: 1);
            var history = new Trainer(model, new Sgd(0f)).Fit(Blobs(60, 5),
                new FitOptions { Epochs = 10, Callbacks = [stop, new ModelCheckpoint(path, "loss")] });
            Assert.True(history.Epochs.Count <= 3, $"ran {history.Epochs.Count} epochs");
            Assert.True(File.Exists(path));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ASecondFitStartsFromTheBaseRate()
    {
        var optimizer = new Sgd(0.1f);
        var trainer = new Trainer(SmallNet(seed: 2), optimizer);
        var options = new FitOptions { Epochs = 3, BatchSize = 32, Schedule = new StepSchedule(1, 0.5f) };
        var first = trainer.Fit(Blobs(60, 5), options);
        Assert.Equal([0.1f, 0.05f, 0.025f], first.Epochs.Select(e => e.LearningRate));
        Assert.Equal(0.1f, optimizer.LearningRate);
        var second = trainer.Fit(Blobs(60, 5), options);
        Assert.Equal([0.1f, 0.05f, 0.025f], second.Epochs.Select(e => e.LearningRate));
    }

    [Fact]
    public void AReusedPlateauScheduleStartsAfresh()
    {
        // A rate this small leaves the loss flat, so patience 0 halves the rate after every epoch but the first.
        const float rate = 1e-20f;
        var optimizer = new Sgd(rate);
        var trainer = new Trainer(SmallNet(seed: 2), optimizer);
        var options = new FitOptions { Epochs = 3, BatchSize = 32, Shuffle = false, Schedule = new ReduceOnPlateauSchedule(0.5f, patience: 0, minimumRate: 0f) };
        var first = trainer.Fit(Blobs(60, 5), options);
        Assert.Equal([rate, rate / 2, rate / 4], first.Epochs.Select(e => e.LearningRate));
        var second = trainer.Fit(Blobs(60, 5), options);
        Assert.Equal([rate, rate / 2, rate / 4], second.Epochs.Select(e => e.LearningRate));
        Assert.Equal(rate, optimizer.LearningRate);
    }

    private sealed class CancelAt(CancellationTokenSource source, int epoch) : ITrainingCallback
    {
        public void OnBatchEnd(Trainer trainer, in BatchProgress progress) { if (progress.Epoch == epoch) source.Cancel(); }
    }

    [Fact]
    public void ACancelledFitRestoresTheBaseRate()
    {
        var optimizer = new Sgd(0.1f);
        using var source = new CancellationTokenSource();
        var options = new FitOptions { Epochs = 5, BatchSize = 8, Schedule = new StepSchedule(1, 0.5f), Callbacks = [new CancelAt(source, 3)] };
        Assert.ThrowsAny<OperationCanceledException>(() => new Trainer(SmallNet(seed: 2), optimizer).Fit(Blobs(60, 5), options, source.Token));
        Assert.Equal(0.1f, optimizer.LearningRate);
    }

    private sealed class BatchCounter : ITrainingCallback
    {
        public int Batches;
        public void OnBatchEnd(Trainer trainer, in BatchProgress progress) => Batches++;
    }

    [Theory]
    [InlineData("val_loss", false)]
    [InlineData("val_accuracy", true)]
    public void MonitoringValidationWithoutValidationDataFailsBeforeTraining(string monitor, bool checkpoint)
    {
        string path = Path.Combine(Path.GetTempPath(), $"fovea-ckpt-{Guid.NewGuid():N}.fovea");
        var counter = new BatchCounter();
        ITrainingCallback watcher = checkpoint ? new ModelCheckpoint(path, monitor) : new EarlyStopping(monitor);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(SmallNet(seed: 2), new Sgd(0.1f)).Fit(Blobs(30, 5),
            new FitOptions { Epochs = 2, Callbacks = [counter, watcher] }));
        Assert.Contains($"'{monitor}'", e.Message);
        Assert.Contains("no validation data", e.Message);
        Assert.Equal(0, counter.Batches);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void MonitoringValidationWithValidationDataRuns()
    {
        var history = new Trainer(SmallNet(seed: 2), new Sgd(0.1f)).Fit(Blobs(30, 5),
            new FitOptions { Epochs = 1, ValidationData = Blobs(9, 6), Callbacks = [new EarlyStopping("val_accuracy")] });
        Assert.Single(history.Epochs);
    }

    [Fact]
    public void AValidationMetricOfAnEpochWithoutValidationIsNotTheTrainingValue()
    {
        var metrics = new EpochMetrics(3, 0.5, 0.8, null, null, 0.1f, 1, 1);
        Assert.Equal(0.5, metrics.Get("loss"));
        Assert.Contains("'val_loss'", Assert.Throws<InvalidOperationException>(() => metrics.Get("val_loss")).Message);
        Assert.Contains("epoch 3", Assert.Throws<InvalidOperationException>(() => metrics.Get("val_accuracy")).Message);
    }

    [Fact]
    public void DivergenceNamesEpochAndBatch()
    {
        var model = SmallNet(seed: 3);
        var e = Assert.Throws<TrainingDivergedException>(() =>
            new Trainer(model, new Sgd(1e30f)).Fit(Blobs(64, 6), new FitOptions { Epochs = 3, BatchSize = 8 }));
        Assert.Contains("epoch", e.Message);
        Assert.Contains("batch", e.Message);
    }

    [Fact]
    public void ValidationsNameTheValue()
    {
        var trainer = new Trainer(SmallNet(0), new Adam());
        Assert.Contains("Received: 0", Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(Blobs(9, 1), new FitOptions { Epochs = 0 })).Message);
        Assert.Contains("Received: -2", Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(Blobs(9, 1), new FitOptions { Epochs = -2 })).Message);
        Assert.Contains("(1, 28, 28)", Assert.Throws<ArgumentException>(() =>
            trainer.Fit(new InMemoryDataset(new float[784], [0], [1, 28, 28], ["x"]), new FitOptions())).Message);
        Assert.Contains("-1", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(-1f)).Message);
        Assert.Contains("momentum=1.5", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(0.1f, momentum: 1.5f)).Message);
        Assert.Contains("'rmsprop'", Assert.Throws<ArgumentException>(() => Optimizer.Create("rmsprop", 0.1f)).Message);
        Assert.Contains("'linear'", Assert.Throws<ArgumentException>(() => LearningRateSchedule.Parse("linear")).Message);
    }

    [Fact]
    public void SchedulesFollowTheirFormulas()
    {
        Assert.Equal(0.01f, new StepSchedule(5, 0.1f).RateAt(0.1f, 5, 0, 10), 6);
        Assert.Equal(0.1f, new CosineSchedule().RateAt(0.1f, 0, 0, 10), 6);
        Assert.Equal(0.05f, new CosineSchedule().RateAt(0.1f, 5, 0, 10), 6);
        var plateau = new ReduceOnPlateauSchedule(0.5f, patience: 1);
        plateau.OnEpochEnd(0, 1.0); plateau.OnEpochEnd(1, 1.0); plateau.OnEpochEnd(2, 1.0);
        Assert.Equal(0.05f, plateau.RateAt(0.1f, 3, 0, 10), 6);
    }

    [Fact]
    public void TopKAndConfusionMatrix()
    {
        float[] scores = [0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f];
        Assert.Equal(1, Metrics.TopKCorrect(scores, 3, [1, 1], 1));
        Assert.Equal(2, Metrics.TopKCorrect(scores, 3, [2, 1], 2));
        var m = new ConfusionMatrix(3);
        m.Add(0, 0); m.Add(0, 1); m.Add(2, 2);
        Assert.Equal(2.0 / 3, m.Accuracy, 6);
        Assert.Equal(0.5, m.Recall(0), 6);
    }

    [Fact]
    public void NaNScoresCountAsWrong()
    {
        // Label 0's score is NaN: every comparison with it is false, which used to rank it first.
        float[] scores = [float.NaN, 0.1f, 0.2f, 0.3f, 0.2f, 0.1f];
        Assert.Equal(1, Metrics.TopKCorrect(scores, 3, [0, 0], 1));
        Assert.Equal(1, Metrics.TopKCorrect(scores, 3, [0, 0], 3));
        // A NaN elsewhere in the row makes the whole row meaningless, even with k = classes.
        Assert.Equal(0, Metrics.TopKCorrect([0.9f, float.NaN, 0.1f], 3, [0], 3));
        Assert.Equal([Metrics.NoPrediction, 0], Metrics.ArgMax(scores, 3));
        Assert.Equal([Metrics.NoPrediction], Metrics.ArgMax([0.2f, float.NaN, 0.1f], 3));
        var m = new ConfusionMatrix(3);
        m.Add(0, Metrics.NoPrediction); m.Add(0, 0);
        Assert.Equal(2, m.Total);
        Assert.Equal(1, m.Unpredicted);
        Assert.Equal(0.5, m.Accuracy, 6);
        Assert.Equal(0.5, m.Recall(0), 6);
        Assert.Equal(1.0, m.Precision(0), 6);
    }

    [Fact]
    public void EvaluateCountsNaNOutputsAsWrong()
    {
        var model = SmallNet(seed: 1);
        foreach (var p in model.Parameters.Where(p => p.Name.EndsWith("bias"))) p.Value.Span.Fill(float.NaN);
        var result = new Trainer(model, new Sgd(0.1f)).Evaluate(Blobs(30, 1));
        Assert.Equal(0, result.Accuracy);
        Assert.Equal(0, result.TopKAccuracy);
        Assert.Equal(30, result.Confusion.Unpredicted);
    }

    [Fact]
    public void AValidationSplitThatLeavesNothingToTrainOnIsRefused()
    {
        var one = new InMemoryDataset(new float[36], [0], [1, 6, 6], ["a", "b", "c"]);
        var model = new Sequential([1, 6, 6]).Top(new Flatten(), new Dense(3));
        var e = Assert.Throws<ArgumentException>(() => new Trainer(model, new Sgd(0.1f)).Fit(one, new FitOptions { ValidationSplit = 0.5 }));
        Assert.Contains("ValidationSplit 0.5 of 1 sample(s) leaves none", e.Message);
    }

    [Fact]
    public void AValidationSplitThatRoundsToNoSampleTrainsOnAll()
    {
        var history = new Trainer(SmallNet(seed: 2), new Sgd(0.1f)).Fit(Blobs(4, 1), new FitOptions { Epochs = 1, ValidationSplit = 0.1 });
        Assert.Null(history.Epochs[0].ValidationAccuracy);
        Assert.StartsWith("1,", history.ToCsv().Split('\n')[1]);
    }
}
