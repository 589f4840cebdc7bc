using Fovea.Losses;
using Fovea.Data;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Training;

namespace Fovea.Tests.Training;

public class TrainerTests
{
    internal static InMemoryDataset Blobs(int count, int seed)
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

    /// <summary>After epoch <paramref name="epoch"/>, scrambles the weights and stops learning, so later epochs are worse and all alike.</summary>
    private sealed class SpoilAfter(int epoch) : ITrainingCallback
    {
        public void OnEpochEnd(Trainer trainer, EpochMetrics metrics)
        {
            if (metrics.Epoch != epoch) return;
            var rng = new Random(1);
            foreach (var p in trainer.Model.Parameters) for (int i = 0; i < p.Value.Length; i++) p.Value.Span[i] += 3f * (rng.NextSingle() - 0.5f);
            trainer.Optimizer.LearningRate = 0f;
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EarlyStoppingStopsAndCheckpointKeepsTheBest(bool restoreBestWeights)
    {
        string path = Path.Combine(Path.GetTempPath(), $"fovea-ckpt-{Guid.NewGuid():N}.fovea");
        try
        {
            var model = SmallNet(seed: 2);
            var validation = Blobs(30, 9);
            var stop = new EarlyStopping("val_loss", patience: 1, restoreBestWeights);
            // Callbacks run in order: the checkpoint sees an epoch's weights before they are spoilt.
            var history = new Trainer(model, new Sgd(0.1f)).Fit(Blobs(60, 5), new FitOptions
            {
                Epochs = 10, BatchSize = 8, Shuffle = false, ValidationData = validation,
                Callbacks = [stop, new ModelCheckpoint(path, "val_loss"), new SpoilAfter(2)],
            });
            var losses = history.Epochs.Select(e => e.ValidationLoss!.Value).ToArray();
            Assert.True(losses[1] < losses[0], $"epoch 2 should improve: {string.Join(", ", losses)}");
            Assert.True(losses[2] > losses[1], $"epoch 3 should be worse: {string.Join(", ", losses)}");
            // Best epoch 2; epochs 3 and 4 do not improve, and patience 1 stops after the second of them.
            Assert.Equal(2, stop.BestEpoch);
            Assert.Equal(4, history.Epochs.Count);
            var best = new Trainer(Fovea.Serialization.ModelFile.Load(path), new Sgd(0f)).Evaluate(validation);
            Assert.Equal(losses[1], best.Loss, 5);
            Assert.Equal(history.Epochs[1].ValidationAccuracy!.Value, best.Accuracy, 6);
            var saved = Fovea.Serialization.ModelFile.Load(path).Parameters.SelectMany(p => p.Value.ToArray()).ToArray();
            var final = model.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();
            if (restoreBestWeights) Assert.Equal(saved, final);
            else Assert.NotEqual(saved, final);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void EarlyStoppingWithoutImprovementStopsAfterPatiencePlusOne()
    {
        // A learning rate of zero never improves: best epoch 1, then epochs 2..4 wait, and patience 2 stops after epoch 4.
        var stop = new EarlyStopping("loss", patience: 2);
        var history = new Trainer(SmallNet(seed: 2), new Sgd(0f)).Fit(Blobs(60, 5), new FitOptions { Epochs = 10, Callbacks = [stop] });
        Assert.Equal(1, stop.BestEpoch);
        Assert.Equal(4, history.Epochs.Count);
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
        // A rate this small leaves the loss flat: epoch 1 sets the best, and with patience 0 every later epoch halves the rate.
        const float rate = 1e-20f;
        var optimizer = new Sgd(rate);
        var trainer = new Trainer(SmallNet(seed: 2), optimizer);
        var options = new FitOptions { Epochs = 4, BatchSize = 32, Shuffle = false, Schedule = new ReduceOnPlateauSchedule(0.5f, patience: 0, minimumRate: 0f) };
        var first = trainer.Fit(Blobs(60, 5), options);
        Assert.Equal([rate, rate, rate / 2, rate / 4], first.Epochs.Select(e => e.LearningRate));
        var second = trainer.Fit(Blobs(60, 5), options);
        Assert.Equal([rate, rate, rate / 2, rate / 4], second.Epochs.Select(e => e.LearningRate));
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
    public void TheStepMemoryEstimateAddsActivationsGradientsColumnsAndParameters()
    {
        // Per sample, floats: outputs input 36 + conv 144 + relu 144 + pool 36 + flatten 36 + dense 3 = 399, twice (gradients);
        // conv columns 1·3·3·6·6 = 324, twice. Parameters (4·9 + 4) + (36·3 + 3) = 151, four times (value, gradient, 2 moments).
        long perSample = 4 * (2 * 399 + 2 * 324), parameters = 4 * 4 * 151;
        Assert.Equal(64 * perSample + parameters, Trainer.EstimateStepBytes(SmallNet(seed: 0), 64));
        Assert.Equal(perSample + parameters, Trainer.EstimateStepBytes(SmallNet(seed: 0), 1));
    }

    [Fact]
    public void ABatchThatWouldNotFitInMemoryIsRefusedBeforeTraining()
    {
        var counter = new BatchCounter();
        // 64 samples need 64·5784 + 2416 = 372,592 bytes; 80% of 400,000 is 320,000, which holds (320,000 - 2416) / 5784 = 54.
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(SmallNet(seed: 2), new Sgd(0.1f)).Fit(Blobs(90, 5),
            new FitOptions { Epochs = 1, BatchSize = 64, MemoryLimitBytes = 400_000, Callbacks = [counter] }));
        Assert.Contains("Batch size 64 needs about", e.Message);
        Assert.Contains("available", e.Message);
        Assert.Contains("at most 54", e.Message);
        Assert.Equal(0, counter.Batches);
        // The batch is at most the data set: 40 samples in batches of 64 fit.
        new Trainer(SmallNet(seed: 2), new Sgd(0.1f)).Fit(Blobs(40, 5), new FitOptions { Epochs = 1, BatchSize = 64, MemoryLimitBytes = 400_000 });
    }

    [Fact]
    public void DivergenceNamesEpochAndBatch()
    {
        var model = SmallNet(seed: 3);
        var e = Assert.Throws<TrainingDivergedException>(() =>
            new Trainer(model, new Sgd(1e30f)).Fit(Blobs(64, 6), new FitOptions { Epochs = 3, BatchSize = 8 }));
        Assert.Contains("epoch", e.Message);
        Assert.Contains("batch", e.Message);
        // A rate of 1e30 blows up the weights in the first step; the next loss is not finite and the message names the layer.
        Assert.Contains("batch 2:", e.Message);
        Assert.Matches("layer '[^']+' \\((Conv2D|Dense)\\)", e.Message);
    }

    [Fact]
    public void DivergenceFromBadDataSaysSo()
    {
        var data = Blobs(16, 6);
        var images = data.Images.ToArray();
        images[9 * 36 + 4] = float.NaN; // sample 9, in the second batch of 8
        var bad = new InMemoryDataset(images, Enumerable.Range(0, 16).Select(i => i % 3).ToArray(), [1, 6, 6], ["a", "b", "c"]);
        var e = Assert.Throws<TrainingDivergedException>(() =>
            new Trainer(SmallNet(seed: 3), new Sgd(0.01f)).Fit(bad, new FitOptions { Epochs = 1, BatchSize = 8, Shuffle = false }));
        Assert.Contains("batch 2: the input batch itself holds NaN", e.Message);
    }

    [Fact]
    public void DivergenceFromAnOverflowingLayerNamesIt()
    {
        var model = SmallNet(seed: 3);
        var conv = model.Layers.OfType<Fovea.Layers.Conv2D>().Single();
        conv.Parameters[0].Value.Span.Fill(1e38f); // finite weights whose sums over a bright 2x2 square overflow to infinity
        var e = Assert.Throws<TrainingDivergedException>(() =>
            new Trainer(model, new Sgd(0.01f)).Fit(Blobs(16, 6), new FitOptions { Epochs = 1, BatchSize = 8 }));
        Assert.Contains($"batch 1: layer '{conv.Name}' (Conv2D) is the first to output NaN or infinite values", e.Message);
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

    [Theory]
    // Step: ×0.5 every 2 epochs; the position within an epoch does not matter.
    [InlineData("step", 0, 0f, 0.1f)]
    [InlineData("step", 1, 0.9f, 0.1f)]
    [InlineData("step", 2, 0f, 0.05f)]
    [InlineData("step", 3, 0.5f, 0.05f)]
    [InlineData("step", 4, 0f, 0.025f)]
    [InlineData("step", 9, 0f, 0.00625f)]
    // Cosine over 10 epochs to 0: 0.1·(1 + cos(π·t/10))/2.
    [InlineData("cosine", 0, 0f, 0.1f)]
    [InlineData("cosine", 2, 0.5f, 0.0853553f)]
    [InlineData("cosine", 5, 0f, 0.05f)]
    [InlineData("cosine", 7, 0.5f, 0.0146447f)]
    [InlineData("cosine", 9, 1f, 0f)]
    // Cosine to 10% of the base: 0.01 + 0.09·(1 + cos(π·t/10))/2.
    [InlineData("cosine-min", 0, 0f, 0.1f)]
    [InlineData("cosine-min", 5, 0f, 0.055f)]
    [InlineData("cosine-min", 9, 1f, 0.01f)]
    // Warm-up over 2 epochs, linear from (nearly) 0: 0.1·(t + 0.001)/2; then cosine over the remaining 8 epochs.
    [InlineData("warmup", 0, 0f, 0.00005f)]
    [InlineData("warmup", 1, 0f, 0.05005f)]
    [InlineData("warmup", 1, 0.5f, 0.07505f)]
    [InlineData("warmup", 2, 0f, 0.1f)]
    [InlineData("warmup", 6, 0f, 0.05f)]
    [InlineData("warmup", 9, 1f, 0f)]
    public void SchedulesFollowTheirFormulas(string kind, int epoch, float progress, float expected)
    {
        LearningRateSchedule schedule = kind switch
        {
            "step" => new StepSchedule(2, 0.5f),
            "cosine" => new CosineSchedule(),
            "cosine-min" => new CosineSchedule(minimumFraction: 0.1f),
            _ => new CosineSchedule(warmupEpochs: 2f),
        };
        Assert.Equal(expected, schedule.RateAt(0.1f, epoch, progress, 10), 6);
    }

    [Fact]
    public void PlateauHalvesAfterPatienceAndStopsAtTheMinimum()
    {
        var plateau = new ReduceOnPlateauSchedule(0.5f, patience: 1, minimumRate: 0.02f);
        // (loss reported at the end of epoch e, rate during epoch e + 1) worked out by hand:
        (double Loss, float Rate)[] steps =
        [
            (1.0, 0.1f),      // first value: the best so far
            (0.9, 0.1f),      // improves
            (0.95, 0.1f),     // 1 bad epoch: within patience
            (0.95, 0.05f),    // 2 bad epochs > patience 1: halve, count restarts
            (0.89995, 0.05f), // less than 1e-4 relative below the best 0.9: not an improvement (1 bad)
            (0.8, 0.05f),     // improves
            (0.8, 0.05f),     // 1 bad
            (0.8, 0.025f),    // 2 bad: halve
            (0.8, 0.025f),    // 1 bad
            (0.8, 0.02f),     // 2 bad: 0.0125, held at the minimum 0.02
        ];
        Assert.Equal(0.1f, plateau.RateAt(0.1f, 0, 0, 20));
        for (int e = 0; e < steps.Length; e++)
        {
            plateau.OnEpochEnd(e, steps[e].Loss);
            Assert.Equal(steps[e].Rate, plateau.RateAt(0.1f, e + 1, 0.5f, 20), 6);
        }
        plateau.Reset();
        Assert.Equal(0.1f, plateau.RateAt(0.1f, 0, 0, 20));
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
    public void PerClassF1AndTheBalancedAveragesOfAnImbalancedSet()
    {
        // 8 of class 0, all predicted 0; 2 of class 1: one right, one predicted 0; class 2 absent, predicted once (wrongly).
        var m = new ConfusionMatrix(3);
        for (int i = 0; i < 8; i++) m.Add(0, 0);
        m.Add(1, 1); m.Add(1, 0);
        m.Add(0, 2);
        Assert.Equal(9, m.Support(0));
        Assert.Equal(0, m.Support(2));
        Assert.Equal(8.0 / 9, m.Precision(0), 12);                 // 8 right of 9 predicted 0
        Assert.Equal(8.0 / 9, m.Recall(0), 12);
        Assert.Equal(8.0 / 9, m.F1(0), 12);
        Assert.Equal(2 * 1.0 * 0.5 / 1.5, m.F1(1), 12);          // precision 1, recall 1/2
        Assert.Equal(0, m.F1(2));                                 // no true samples, one wrong prediction
        // Averages over the classes that have samples: class 2 would otherwise drag them down for nothing.
        Assert.Equal((8.0 / 9 + 0.5) / 2, m.BalancedAccuracy, 12);
        Assert.Equal((8.0 / 9 + 2.0 / 3) / 2, m.MacroF1, 12);
        Assert.Equal(9.0 / 11, m.Accuracy, 12);
        Assert.Equal(0, new ConfusionMatrix(2).BalancedAccuracy);
    }

    [Fact]
    public void BalancedClassWeightsMakeEveryClassCountAlike()
    {
        // 6 of class 0, 2 of class 1, none of class 2: weights 8/(2·6) and 8/(2·2), 0 for the absent class.
        var w = SoftmaxCrossEntropyLoss.BalancedClassWeights([0, 0, 1, 0, 0, 1, 0, 0], 3);
        Assert.Equal([8f / 12, 2f, 0f], w);
        Assert.Equal(6 * w[0], 2 * w[1], 6);                       // the two classes' totals are equal
        Assert.Equal(8, 6 * w[0] + 2 * w[1], 5);                   // and the weights average 1 over the samples
        // From a data set, counted only on the samples at the given indices (those trained on): Blobs labels i % 3.
        var blobs = Blobs(9, 1);
        Assert.Equal([1f, 1f, 1f], SoftmaxCrossEntropyLoss.BalancedClassWeights(blobs));
        // Labels 0, 0, 0, 1, 2, 2: counts 3, 1, 2 of 6, weights 6 / (3 · count).
        Assert.Equal([6f / 9, 2f, 1f], SoftmaxCrossEntropyLoss.BalancedClassWeights(blobs, [0, 3, 6, 1, 2, 5]));
        var loss = new SoftmaxCrossEntropyLoss(0.1f, w);
        Assert.Equal("{\"label_smoothing\":0.1,\"class_weights\":[0.6666667,2,0]}", loss.GetConfig().ToJsonString());
    }

    [Fact]
    public void BalancedClassWeightsRaiseTheRareClassesRecall()
    {
        // One feature; 190 samples of class 0 around 0, 10 of class 1 around 1.5 (overlapping). Unweighted, the boundary
        // sits far into class 1 (few of its samples are worth moving it for); balanced, near the midpoint.
        static InMemoryDataset Samples(int common, int rare, int seed)
        {
            var rng = new Random(seed);
            float Normal() => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
            var x = new float[common + rare]; var y = new int[common + rare];
            for (int i = 0; i < x.Length; i++) { y[i] = i < common ? 0 : 1; x[i] = Normal() + 1.5f * y[i]; }
            return new InMemoryDataset(x, y, [1, 1, 1], ["common", "rare"]);
        }
        var train = Samples(190, 10, seed: 1);
        var test = Samples(500, 500, seed: 2);
        ConfusionMatrix Fit(Loss loss)
        {
            var model = new Sequential([1, 1, 1], seed: 3).Top(new Fovea.Layers.Flatten(), new Fovea.Layers.Dense(2));
            var trainer = new Trainer(model, new Adam(0.05f), loss);
            trainer.Fit(train, new FitOptions { Epochs = 60, BatchSize = 20, Seed = 4 });
            return trainer.Evaluate(test).Confusion;
        }
        var weights = SoftmaxCrossEntropyLoss.BalancedClassWeights(Enumerable.Range(0, train.Count).Select(train.GetLabel).ToArray(), 2);
        var plain = Fit(new SoftmaxCrossEntropyLoss());
        var balanced = Fit(new SoftmaxCrossEntropyLoss(classWeights: weights));
        Assert.True(plain.Recall(1) < 0.4, $"unweighted recall of the rare class {plain.Recall(1):P1}");
        Assert.True(balanced.Recall(1) > 0.6, $"balanced recall of the rare class {balanced.Recall(1):P1}");
        Assert.True(balanced.BalancedAccuracy > plain.BalancedAccuracy + 0.1, $"{balanced.BalancedAccuracy:P1} vs {plain.BalancedAccuracy:P1}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AFinalSoftmaxIsNotAppliedTwiceByTheCrossEntropy(bool axisSoftmax)
    {
        // Written the Keras way, Dense then Softmax: the loss reads the logits, so training equals that of the same
        // network without the Softmax, bit for bit, instead of learning from the softmax of probabilities.
        Sequential Net(bool softmax)
        {
            var model = new Sequential([1, 6, 6], seed: 2).Top(new Fovea.Layers.Flatten(), new Fovea.Layers.Dense(3));
            // AxisSoftmax over the sample's one axis: what an imported ONNX classifier ends in.
            if (softmax) model.Add(axisSoftmax ? new Fovea.Layers.AxisSoftmax(-1) : new Fovea.Layers.Softmax(), ModelStage.Top);
            return model;
        }
        var withSoftmax = Net(softmax: true);
        var plain = Net(softmax: false);
        var data = Blobs(60, 1);
        var options = new FitOptions { Epochs = 3, BatchSize = 16, Seed = 5 };
        var a = new Trainer(withSoftmax, new Adam(0.01f));
        var b = new Trainer(plain, new Adam(0.01f));
        var historyA = a.Fit(data, options);
        var historyB = b.Fit(data, options);
        Assert.Equal(plain.Parameters.SelectMany(p => p.Value.ToArray()), withSoftmax.Parameters.SelectMany(p => p.Value.ToArray()));
        Assert.Equal(historyB.Epochs.Select(e => e.Loss), historyA.Epochs.Select(e => e.Loss));
        var test = Blobs(30, 2);
        Assert.Equal(b.Evaluate(test).Loss, a.Evaluate(test).Loss, 5);
        // Predictions are still the Softmax's: probabilities.
        var probabilities = withSoftmax.Predict(Fovea.Tensors.Tensor.FromArray(test.Take(4).Images.ToArray(), 4, 1, 6, 6));
        for (int r = 0; r < 4; r++) Assert.Equal(1f, probabilities.Span.Slice(r * 3, 3).ToArray().Sum(), 5);
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

    [Theory]
    [InlineData(0.002f, "0.002")]
    [InlineData(0.00104f, "0.00104")]
    [InlineData(6.67e-7f, "6.67e-7")]
    [InlineData(0f, "0")]
    [InlineData(0.1f, "0.1")]
    public void ProgressLinesWriteTheLearningRateInOneStyle(float rate, string text) => Assert.Equal(text, ConsoleProgress.FormatRate(rate));
}
