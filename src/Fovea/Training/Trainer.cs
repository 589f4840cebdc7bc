using System.Diagnostics;
using Fovea.Autograd;
using Fovea.Data;
using Fovea.Losses;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Tensors;

namespace Fovea.Training;

/// <summary>Options of <see cref="Trainer.Fit(IDataset, FitOptions, CancellationToken)"/>. Defaults: 10 epochs, batch 64, shuffled, seed 0,
/// no validation, constant rate, no checkpoint.</summary>
public sealed record FitOptions
{
    /// <summary>Passes over the training data.</summary>
    public int Epochs { get; init; } = 10;
    /// <summary>Samples per step.</summary>
    public int BatchSize { get; init; } = 64;
    /// <summary>Shuffle the training data every epoch (seeded).</summary>
    public bool Shuffle { get; init; } = true;
    /// <summary>Seed of shuffling, augmentation and the samples <see cref="ValidationSplit"/> holds out (see <see cref="SplitIndices"/>).</summary>
    public int Seed { get; init; }
    /// <summary>Fraction of the training data held out for validation when <see cref="ValidationData"/> is null (0 = none; a fraction
    /// that rounds to no sample holds none out).</summary>
    public double ValidationSplit { get; init; }
    /// <summary>Explicit validation data.</summary>
    public IDataset? ValidationData { get; init; }
    /// <summary>Learning-rate schedule (null = constant).</summary>
    public LearningRateSchedule? Schedule { get; init; }
    /// <summary>Random augmentation of training images (null = none).</summary>
    public Augmentation? Augmentation { get; init; }
    /// <summary>Hooks (progress, early stopping, checkpoints).</summary>
    public IReadOnlyList<ITrainingCallback> Callbacks { get; init; } = [];
    /// <summary>
    /// Where to keep a <see cref="TrainingCheckpoint"/> of the run (null = none, the default): written atomically after every
    /// epoch, and when the cancellation token stops the Fit. Kept when the Fit ends; delete it once the model is saved.
    /// </summary>
    public string? CheckpointPath { get; init; }
    /// <summary>Strings saved in every checkpoint (e.g. how the run was started), read back by <see cref="TrainingCheckpoint.Metadata"/>. Default: none.</summary>
    public IReadOnlyDictionary<string, string> CheckpointMetadata { get; init; } = new Dictionary<string, string>();
    /// <summary>Memory to plan against instead of what the GC reports as available (tests use a small one).</summary>
    internal long? MemoryLimitBytes { get; init; }

    /// <summary>
    /// Which samples of <paramref name="train"/> a <see cref="Trainer.Fit(IDataset, FitOptions, CancellationToken)"/> with
    /// these options trains on, and which it holds out for validation, as indices into <paramref name="train"/>. With
    /// <see cref="ValidationData"/> or a <see cref="ValidationSplit"/> of 0 it trains on all of them, in order, and holds
    /// none out. Otherwise (an <see cref="InMemoryDataset"/> only) a shuffle seeded by <see cref="Seed"/> holds out
    /// round(Count × ValidationSplit) samples, as <see cref="InMemoryDataset.Split"/> does, and Fit trains on the rest in
    /// the order given here; when that rounds to none it trains on all of them in that order, without validation. For
    /// example, input statistics such as <see cref="ChannelStatistics.Normalization(IDataset, IReadOnlyList{int})"/>
    /// computed over <c>Training</c> see exactly the images Fit trains on, none of those it validates on.
    /// </summary>
    /// <exception cref="ArgumentException">A validation split of data that is not an <see cref="InMemoryDataset"/>, or one
    /// that leaves no sample to train on; the options are out of range (<see cref="ArgumentOutOfRangeException"/>).</exception>
    public (int[] Training, int[] Validation) SplitIndices(IDataset train)
    {
        ArgumentNullException.ThrowIfNull(train);
        Validate();
        if (ValidationData is not null || ValidationSplit == 0) return (Enumerable.Range(0, train.Count).ToArray(), []);
        if (train is not InMemoryDataset) throw new ArgumentException($"ValidationSplit needs an InMemoryDataset; received a {train.GetType().Name}. Pass ValidationData instead.", nameof(train));
        var (training, validation) = InMemoryDataset.SplitIndices(train.Count, ValidationSplit, Seed);
        if (training.Length == 0)
            throw new ArgumentException($"ValidationSplit {ValidationSplit} of {train.Count} sample(s) leaves none to train on.", nameof(train));
        return (training, validation);
    }

    internal void Validate()
    {
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, $"Epochs must be at least 1. Received: {Epochs}.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, $"Batch size must be at least 1. Received: {BatchSize}.");
        if (!(ValidationSplit >= 0 && ValidationSplit < 1)) throw new ArgumentOutOfRangeException(nameof(ValidationSplit), ValidationSplit, $"Validation split must be in [0, 1). Received: {ValidationSplit}.");
        if (Callbacks is null) throw new ArgumentNullException(nameof(Callbacks), "Callbacks must be a list (empty for none). Received: null.");
        for (int i = 0; i < Callbacks.Count; i++)
            if (Callbacks[i] is null) throw new ArgumentException($"Callback {i} of {Callbacks.Count} is null.", nameof(Callbacks));
        if (CheckpointMetadata is null) throw new ArgumentNullException(nameof(CheckpointMetadata), "Checkpoint metadata must be a dictionary (empty for none). Received: null.");
    }
}

/// <summary>Loss, accuracy, top-k accuracy and confusion matrix of a model on a data set.</summary>
public sealed record EvaluationResult(double Loss, double Accuracy, double TopKAccuracy, int K, ConfusionMatrix Confusion, int Count)
{
    /// <summary>The worst wrong predictions (lowest probability of the true class first), as many as asked of <see cref="Trainer.Evaluate"/>; empty by default.</summary>
    public IReadOnlyList<Mistake> Mistakes { get; init; } = [];
}

/// <summary>Thrown when the loss becomes NaN or infinite; names the epoch and batch, and the input batch, weights or first layer where non-finite values appear.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>
/// Trains a model with an optimizer and a loss: <see cref="Fit(IDataset, FitOptions, CancellationToken)"/> (batched, shuffled,
/// validated, with callbacks, checkpointed and resumable), <see cref="Evaluate"/> and <see cref="Predict"/>. Seeded runs are reproducible.
/// </summary>
public sealed partial class Trainer
{
    /// <summary>Creates a trainer.</summary>
    public Trainer(Model model, Optimizer optimizer, Loss? loss = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        Loss = loss ?? new SoftmaxCrossEntropyLoss();
    }

    /// <summary>The model being trained.</summary>
    public Model Model { get; }

    /// <summary>
    /// The node whose value the loss reads: the model's output, or, when the model ends in Softmax (or an AxisSoftmax over
    /// the whole sample) and the loss is a
    /// <see cref="SoftmaxCrossEntropyLoss"/> (which applies softmax itself), that Softmax's input, so softmax is not
    /// applied twice: a classifier written as Dense then Softmax trains as it would without the Softmax. Its argmax, and
    /// so accuracy, is the output's.
    /// </summary>
    internal Node LossNode => Loss is SoftmaxCrossEntropyLoss && Model.IsSoftmaxOverSample(Model.Output)
        ? Model.Nodes[Model.Output.InputIndices[0]] : Model.Output;
    /// <summary>The optimizer.</summary>
    public Optimizer Optimizer { get; }
    /// <summary>The objective.</summary>
    public Loss Loss { get; }
    /// <summary>Set by a callback to stop after the current epoch.</summary>
    public bool StopRequested { get; set; }
    /// <summary>True while Fit runs with validation data (so "val_loss" and "val_accuracy" exist); callbacks check it at train begin.</summary>
    public bool HasValidation { get; private set; }

    /// <summary>
    /// Trains on <paramref name="train"/>; returns the per-epoch history. Cancelling <paramref name="cancellation"/> stops the run
    /// before its next batch with a <see cref="TrainingInterruptedException"/>, after writing the checkpoint when
    /// <see cref="FitOptions.CheckpointPath"/> is set.
    /// </summary>
    public History Fit(IDataset train, FitOptions options, CancellationToken cancellation = default) => Run(train, options, null, cancellation);

    /// <summary>
    /// Continues the run saved in <paramref name="resumeFrom"/> (see <see cref="TrainingCheckpoint"/>) up to
    /// <see cref="FitOptions.Epochs"/>; returns the whole history, the checkpoint's epochs first. The trainer's model and
    /// optimizer take the checkpoint's state. <paramref name="options"/> must be the run's own (the same batch size, seed,
    /// validation, schedule, augmentation and resumable callbacks; <see cref="FitOptions.Epochs"/> may be larger, which
    /// reshapes a schedule that depends on it, such as cosine, from here on) and <paramref name="train"/> the same data.
    /// Throws <see cref="ArgumentException"/> naming the checkpoint and every mismatch, before any change.
    /// </summary>
    public History Fit(IDataset train, FitOptions options, TrainingCheckpoint resumeFrom, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(resumeFrom);
        return Run(train, options, resumeFrom, cancellation);
    }

    private History Run(IDataset train, FitOptions options, TrainingCheckpoint? resumeFrom, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        CheckDataset(train, "training");
        IDataset trainSet = train;
        IDataset? validation = options.ValidationData;
        if (validation is null && options.ValidationSplit > 0)
        {
            var (t, v) = options.SplitIndices(train);
            var mem = (InMemoryDataset)train;
            // Too few samples to hold one out (e.g. a split of 0.1 of 4): train on all (shuffled), without validation.
            trainSet = mem.Subset(t); validation = v.Length > 0 ? mem.Subset(v) : null;
        }
        if (validation is not null) CheckDataset(validation, "validation");
        // The checkpoint is a model file: a model that cannot be saved is refused before training, not after an epoch.
        if (options.CheckpointPath is not null) Model.CheckClassNamesFitOutputs();
        CheckStepFits(options.BatchSize, trainSet.Count, options.MemoryLimitBytes);
        var run = new FitRun(options, Optimizer.LearningRate, trainSet.Count, validation?.Count);
        resumeFrom?.CheckCanResume(this, run);

        var history = new History();
        StopRequested = false;
        HasValidation = validation is not null;
        // A schedule overwrites the optimizer's rate every step; putting the base rate back (also on an exception or
        // cancellation) lets a second Fit start from it rather than from wherever the schedule left off.
        try
        {
            options.Schedule?.Reset();
            foreach (var c in options.Callbacks) c.OnTrainBegin(this);
            // After OnTrainBegin, which resets the callbacks, so that the state they had at the checkpoint comes back.
            var start = resumeFrom?.Restore(this, run, history) ?? FitPosition.StartOf(0);
            FitEpochs(trainSet, validation, run, start, history, cancellation);
        }
        finally { Optimizer.LearningRate = run.BaseRate; }
        return history;
    }

    private void FitEpochs(IDataset trainSet, IDataset? validation, FitRun run, FitPosition start, History history, CancellationToken cancellation)
    {
        var options = run.Options;
        using var loader = new DataLoader(trainSet, options.BatchSize, options.Shuffle, options.Seed, dropLast: false, options.Augmentation);
        int batches = (trainSet.Count + options.BatchSize - 1) / options.BatchSize;
        var parameters = Model.TrainableParameters.ToArray();
        var lossNode = LossNode;
        var tape = new Tape();
        var arena = new TensorArena();
        for (int epoch = start.Epoch; epoch < options.Epochs && !StopRequested; epoch++)
        {
            var from = epoch == start.Epoch ? start : FitPosition.StartOf(epoch);
            var clock = Stopwatch.StartNew();
            double lossSum = from.LossSum; long correct = from.Correct; int seen = from.Seen, batchIndex = from.Batch;
            foreach (var batch in loader.ForEpoch(epoch, from.Batch))
            {
                if (cancellation.IsCancellationRequested)
                    Interrupt(run, new FitPosition(epoch, batchIndex, lossSum, correct, seen, from.Seconds + clock.Elapsed.TotalSeconds), history, cancellation);
                if (options.Schedule is not null)
                    Optimizer.LearningRate = options.Schedule.RateAt(run.BaseRate, epoch, (float)batchIndex / batches, options.Epochs);
                // The step's activations and gradients live in the arena and are recycled by the next step.
                arena.ReleaseAll();
                float lossValue;
                using (arena.Activate())
                {
                    Tensor outputs, loss;
                    using (tape.Record())
                    {
                        outputs = Model.ForwardTo(batch.Images, lossNode, training: true);
                        loss = Loss.Compute(outputs, batch.Labels);
                    }
                    lossValue = loss.Span[0];
                    if (!float.IsFinite(lossValue))
                    {
                        tape.Clear();
                        string where = DivergenceDiagnosis.Describe(Model, batch.Images);
                        throw new TrainingDivergedException($"The loss became {lossValue} in epoch {epoch + 1}, batch {batchIndex + 1}: {where}; lower the learning rate (now {Optimizer.LearningRate}).");
                    }
                    Optimizer.ZeroGrad(parameters);
                    tape.Backward(loss);
                    Optimizer.Step(parameters);
                    correct += CountCorrect(outputs, batch.Labels);
                }
                lossSum += lossValue * batch.Count;
                seen += batch.Count;
                batchIndex++;
                var progress = new BatchProgress(epoch + 1, options.Epochs, batchIndex, batches, seen, trainSet.Count, lossSum / seen, (double)correct / seen, clock.Elapsed.TotalSeconds);
                foreach (var c in options.Callbacks) c.OnBatchEnd(this, progress);
            }
            double trainSeconds = from.Seconds + clock.Elapsed.TotalSeconds;
            double? valLoss = null, valAccuracy = null;
            if (validation is not null)
            {
                // What a training step holds stays held: the validation batch must fit beside it.
                int evaluationBatch = EvaluationBatchSize(Math.Max(options.BatchSize, 256), options.MemoryLimitBytes,
                    reservedBytes: EstimateStepBytes(Model, Math.Max(1, Math.Min(options.BatchSize, trainSet.Count))));
                var r = Evaluate(validation, evaluationBatch);
                valLoss = r.Loss; valAccuracy = r.Accuracy;
            }
            var metrics = new EpochMetrics(epoch + 1, lossSum / Math.Max(1, seen), (double)correct / Math.Max(1, seen), valLoss, valAccuracy,
                Optimizer.LearningRate, from.Seconds + clock.Elapsed.TotalSeconds, seen / Math.Max(1e-9, trainSeconds));
            history.Add(metrics);
            options.Schedule?.OnEpochEnd(epoch, valLoss ?? metrics.Loss);
            foreach (var c in options.Callbacks) c.OnEpochEnd(this, metrics);
            if (options.CheckpointPath is not null) TrainingCheckpoint.Save(options.CheckpointPath, this, run, FitPosition.StartOf(epoch + 1), history);
        }
        arena.ReleaseAll();
        foreach (var c in options.Callbacks) c.OnTrainEnd(this, history);
    }

    /// <summary>Stops the run between two batches: writes the checkpoint (when asked for one), then throws.</summary>
    private void Interrupt(FitRun run, FitPosition position, History history, CancellationToken cancellation)
    {
        string? path = run.Options.CheckpointPath;
        if (path is not null) TrainingCheckpoint.Save(path, this, run, position, history);
        throw new TrainingInterruptedException(
            $"Training was interrupted at epoch {position.Epoch + 1}, batch {position.Batch}" + (path is null ? "." : $"; {path} holds its state."),
            position.Epoch + 1, position.Batch, path, cancellation);
    }

    /// <summary>
    /// Loss, accuracy, top-k accuracy (default k = 5, capped at the class count) and confusion matrix, in inference mode,
    /// <paramref name="batchSize"/> samples at a time at most: fewer when that many large samples would not fit in memory
    /// (see <see cref="EvaluationBatchSize"/>), which changes the results only by float rounding. With
    /// <paramref name="mistakes"/> &gt; 0 the result also lists that many of the worst wrong predictions
    /// (<see cref="EvaluationResult.Mistakes"/>): the samples to look at first for mislabelled data or blind spots.
    /// <paramref name="cancellation"/> is checked before each batch: a cancelled evaluation throws
    /// <see cref="OperationCanceledException"/> after the batch in hand, its background reader stopped.
    /// </summary>
    public EvaluationResult Evaluate(IDataset data, int batchSize = 256, int topK = 5, int mistakes = 0, CancellationToken cancellation = default)
    {
        CheckDataset(data, "evaluation");
        ArgumentOutOfRangeException.ThrowIfNegative(mistakes);
        batchSize = EvaluationBatchSize(batchSize);
        int classes = Model.OutputShape.Aggregate(1, (a, b) => a * b);
        int k = Math.Min(topK, classes);
        var confusion = new ConfusionMatrix(classes, data.ClassNames.Count == classes ? data.ClassNames : null);
        double lossSum = 0; long topKCorrect = 0;
        var inference = Model.ToInference(LossNode); // the weights do not change during an evaluation
        var worst = new MistakeCollector(mistakes, Model.EndsInProbabilities(LossNode));
        int seen = 0;
        using var loader = new DataLoader(data, batchSize, shuffle: false, seed: 0, dropLast: false, augmentation: null);
        foreach (var batch in loader.ForEpoch(0))
        {
            cancellation.ThrowIfCancellationRequested();
            var labels = batch.Labels;
            var outputs = inference.Predict(batch.Images);
            lossSum += Tape.NoGrad(() => Loss.Compute(outputs, batch.Labels).Span[0]) * batch.Count;
            var predicted = Metrics.ArgMax(outputs.Span, classes);
            for (int i = 0; i < batch.Count; i++) confusion.Add(labels[i], predicted[i]);
            topKCorrect += Metrics.TopKCorrect(outputs.Span, classes, labels, k);
            worst.Add(outputs.Span, classes, labels, predicted, seen);
            seen += batch.Count;
        }
        long n = Math.Max(1, confusion.Total);
        return new EvaluationResult(lossSum / n, confusion.Accuracy, (double)topKCorrect / n, k, confusion, (int)confusion.Total) { Mistakes = worst.Worst() };
    }

    /// <summary>Class probabilities [Count, classes] for every sample of <paramref name="data"/>, <paramref name="batchSize"/>
    /// samples at a time at most (fewer when that many would not fit, as in <see cref="Evaluate"/>); cancelled as
    /// <see cref="Evaluate"/> is, between batches.</summary>
    public Tensor Predict(IDataset data, int batchSize = 256, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        batchSize = EvaluationBatchSize(batchSize);
        int classes = Model.OutputShape.Aggregate(1, (a, b) => a * b);
        var result = new Tensor(data.Count, classes);
        int offset = 0;
        var inference = Model.ToInference();
        using var loader = new DataLoader(data, batchSize, shuffle: false, seed: 0, dropLast: false, augmentation: null);
        foreach (var batch in loader.ForEpoch(0))
        {
            cancellation.ThrowIfCancellationRequested();
            var p = inference.PredictProbabilities(batch.Images);
            p.Span.CopyTo(result.Span.Slice(offset * classes));
            offset += batch.Count;
        }
        return result;
    }

    /// <summary>
    /// Rough bytes one training step of <paramref name="model"/> on <paramref name="batchSize"/> samples needs: every layer's
    /// output kept for the backward pass and its gradient, the im2col buffer of each convolution and its gradient, and per
    /// parameter its value, gradient and two optimizer moments.
    /// </summary>
    public static long EstimateStepBytes(Model model, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"Batch size must be at least 1. Received: {batchSize}.");
        long perSample = 0;
        foreach (var node in model.Nodes)
        {
            perSample += 2 * Size(node.OutputShape);
            if (node.Layer is Layers.Conv2D conv && node.InputIndices.Count == 1)
            {
                var input = model.Nodes[node.InputIndices[0]].OutputShape;
                var output = node.OutputShape;
                long columns = (long)(input[0] / conv.Groups) * conv.KernelSize.Height * conv.KernelSize.Width * output[1] * output[2];
                perSample += 2 * columns;
            }
        }
        long parameters = model.Parameters.Sum(p => (long)p.Value.Length);
        return sizeof(float) * (perSample * batchSize + 4 * parameters);
    }

    private static long Size(int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        return n;
    }

    // Better a clear error now than the process killed for lack of memory part-way through the first epoch.
    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> (naming the estimate, the memory and the largest batch that fits)
    /// when a training step of <paramref name="batchSize"/> samples, of <paramref name="trainingSamples"/> in all, would
    /// need more than 80% of <paramref name="availableBytes"/> (default: what the GC reports available). Fit
    /// checks this itself; call it earlier to refuse a run before loading or printing anything else.
    /// </summary>
    public void CheckStepFits(int batchSize, int trainingSamples, long? availableBytes = null)
    {
        int samplesPerStep = Math.Max(1, Math.Min(batchSize, trainingSamples));
        long available = availableBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (available <= 0) return; // nothing known about the limit
        long needed = EstimateStepBytes(Model, samplesPerStep);
        long budget = (long)(available * 0.8);
        if (needed <= budget) return;
        long fixedPart = EstimateStepBytes(Model, 1) - (EstimateStepBytes(Model, 2) - EstimateStepBytes(Model, 1));
        long perSample = EstimateStepBytes(Model, 2) - EstimateStepBytes(Model, 1);
        long fits = Math.Max(0, (budget - fixedPart) / Math.Max(1, perSample));
        throw new ArgumentOutOfRangeException("BatchSize", batchSize,
            $"Batch size {batchSize}{(samplesPerStep < batchSize ? $" ({samplesPerStep} samples per step with this data)" : "")} needs about {Gigabytes(needed)} for a training step of model '{Model.Name}' (activations, their gradients " +
            $"and convolution buffers), more than 80% of the {Gigabytes(available)} of memory available; " +
            (fits >= 1 ? $"use a batch size of at most {fits}." : "the model does not fit even with batch size 1."));
    }

    private static string Gigabytes(long bytes) => $"{bytes / (1024.0 * 1024 * 1024):0.##} GB";

    private static int CountCorrect(Tensor outputs, ReadOnlySpan<int> labels)
    {
        int classes = outputs.Length / Math.Max(1, labels.Length), correct = 0;
        var predicted = Metrics.ArgMax(outputs.Span, classes);
        for (int i = 0; i < labels.Length; i++) if (predicted[i] == labels[i]) correct++;
        return correct;
    }

    private void CheckDataset(IDataset data, string role)
    {
        if (data is null) throw new ArgumentNullException(nameof(data), $"The {role} data set is null.");
        if (data.Count == 0) throw new ArgumentException($"The {role} data set is empty.");
        if (!data.SampleShape.AsSpan().SequenceEqual(Model.InputShape))
            throw new ArgumentException($"The {role} images have shape {Tensor.ShapeToString(data.SampleShape)} but model '{Model.Name}' expects {Tensor.ShapeToString(Model.InputShape)}.");
        // Labels are class indices: data whose classes are another list (another order, another folder's subset) would be
        // scored against the wrong outputs without any error.
        if (Model.ClassNames.Count > 0 && data.ClassNames.Count > 0 && !Model.ClassNames.SequenceEqual(data.ClassNames))
        {
            int at = Enumerable.Range(0, Math.Min(Model.ClassNames.Count, data.ClassNames.Count)).FirstOrDefault(i => Model.ClassNames[i] != data.ClassNames[i], -1);
            string where = at >= 0 ? $"label {at} is '{data.ClassNames[at]}' there and '{Model.ClassNames[at]}' here"
                : $"{data.ClassNames.Count} classes there, {Model.ClassNames.Count} here";
            throw new ArgumentException($"The {role} data's classes ({Names(data.ClassNames)}) are not those of model '{Model.Name}' ({Names(Model.ClassNames)}): {where}. " +
                "Give the data the model's class list (e.g. ImageFileDataset.Open(folder, C, H, W, model.ClassNames)).");
        }
    }

    private static string Names(IReadOnlyList<string> names) =>
        names.Count <= 6 ? string.Join(", ", names) : string.Join(", ", names.Take(6)) + $", ... ({names.Count} in all)";
}
