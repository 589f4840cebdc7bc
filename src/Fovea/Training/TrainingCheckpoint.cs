using System.Text.Json.Nodes;
using Fovea.Data;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;

namespace Fovea.Training;

/// <summary>
/// Thrown by <see cref="Trainer.Fit(IDataset, FitOptions, CancellationToken)"/> when its cancellation token stops it between two
/// batches. With <see cref="FitOptions.CheckpointPath"/> set, the checkpoint was written first, so the run can be resumed.
/// </summary>
public sealed class TrainingInterruptedException(string message, int epoch, int batch, string? checkpointPath, CancellationToken token)
    : OperationCanceledException(message, token)
{
    /// <summary>The epoch (from 1) that was running.</summary>
    public int Epoch { get; } = epoch;
    /// <summary>Batches of that epoch done before the stop (0 when it stopped before the epoch's first batch).</summary>
    public int Batch { get; } = batch;
    /// <summary>The checkpoint written, or null when the Fit had no <see cref="FitOptions.CheckpointPath"/>.</summary>
    public string? CheckpointPath { get; } = checkpointPath;
}

/// <summary>The settings of the Fit that wrote a checkpoint: a resumed Fit must use the same (a longer <see cref="Epochs"/> is allowed).</summary>
/// <param name="Epochs">Epochs the run was to train.</param>
/// <param name="BatchSize">Samples per step.</param>
/// <param name="Shuffle">Whether every epoch was shuffled.</param>
/// <param name="Seed">Seed of shuffling, augmentation and the validation split.</param>
/// <param name="ValidationSplit">Fraction held out for validation (0 with explicit validation data or none).</param>
/// <param name="Augmentation">The augmentation, or null.</param>
/// <param name="ScheduleName">The learning-rate schedule's <see cref="Optimizers.LearningRateSchedule.Name"/>, or null for none.</param>
/// <param name="TrainingSamples">Samples trained on (after the validation split).</param>
/// <param name="ValidationSamples">Samples validated on, or null without validation.</param>
public sealed record CheckpointSettings(int Epochs, int BatchSize, bool Shuffle, int Seed, double ValidationSplit, Augmentation? Augmentation,
    string? ScheduleName, int TrainingSamples, int? ValidationSamples);

/// <summary>
/// Everything needed to continue a <see cref="Trainer.Fit(IDataset, FitOptions, CancellationToken)"/> exactly where it stopped: the model
/// (weights, BatchNorm statistics, architecture), the optimizer's state (every moment or velocity, the step count, the
/// learning rate), the schedule's state, the position in the run (epoch, batch, the epoch's running loss), the dropout
/// streams, the state of resumable callbacks (<see cref="EarlyStopping"/>, <see cref="ModelCheckpoint"/>), the history
/// and the settings of the Fit. The data order needs no state: it follows from the seed and the epoch.
/// <para>Written by Fit when <see cref="FitOptions.CheckpointPath"/> is set, after every epoch and when cancelled, atomically
/// (a temporary file renamed over the old checkpoint). The file is a Fovea model file with the training state added, so
/// <see cref="ModelFile.Load"/> (and <c>fovea eval</c>, <c>predict</c>) read it as the model at that point.</para>
/// <para>Resume with <c>trainer.Fit(data, options, TrainingCheckpoint.Load(path))</c> on a trainer with a model of the same
/// architecture and an optimizer of the same type and settings: with the same data, options and thread count
/// (<see cref="Parallelism.Degree"/>), the weights and history come out bit for bit as an uninterrupted run's.</para>
/// </summary>
public sealed partial class TrainingCheckpoint
{
    /// <summary>Training-state format version this build writes and the newest it reads.</summary>
    public const int FormatVersion = 1;

    private const string VersionKey = "training_checkpoint_version", StateKey = "training";
    private const string OptimizerPrefix = "optimizer/", CallbackPrefix = "callback/";

    /// <summary>The file it was read from.</summary>
    public string Path { get; }
    /// <summary>The model as saved: a new instance with the checkpoint's weights and architecture.</summary>
    public Model Model { get; }
    /// <summary>Epochs finished.</summary>
    public int EpochsCompleted => _position.Epoch;
    /// <summary>Batches of the next epoch already trained (0 when saved at the end of an epoch).</summary>
    public int BatchesIntoEpoch => _position.Batch;
    /// <summary>True when the run had nothing left to train: every epoch done, or stopped by a callback (early stopping).</summary>
    public bool IsFinished => _stopRequested || (_position.Epoch >= Settings.Epochs);
    /// <summary>The settings of the Fit that wrote it.</summary>
    public CheckpointSettings Settings { get; }
    /// <summary>The epochs finished, as the Fit's history held them.</summary>
    public IReadOnlyList<EpochMetrics> History { get; }
    /// <summary>The optimizer's <see cref="Optimizers.Optimizer.Name"/> (e.g. "adam").</summary>
    public string OptimizerName { get; }
    /// <summary><see cref="Parallelism.Degree"/> when it was written: resume at the same count for a bit-identical continuation.</summary>
    public int Threads { get; }
    /// <summary>The strings of <see cref="FitOptions.CheckpointMetadata"/>.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>The learning rate the run started with (before any schedule): what a resumed run must use again.</summary>
    public float BaseLearningRate => ExactNumber.Float(_optimizer, "base_learning_rate");

    private readonly FitPosition _position;
    private readonly bool _stopRequested;
    private readonly JsonObject _architecture, _optimizer, _loss, _fit;
    private readonly JsonObject? _schedule;
    private readonly IReadOnlyList<(string Type, CallbackState State)> _callbacks;
    private readonly Dictionary<string, (int Seed, long Draws)> _dropoutStreams;
    private readonly Dictionary<string, Dictionary<string, float[]>> _optimizerSlots;

    /// <summary>
    /// Reads a checkpoint. Throws <see cref="FileNotFoundException"/>, or <see cref="FormatException"/> naming the file and the
    /// problem: not a Fovea file, a model file without training state, truncated or corrupt, or written by a newer Fovea.
    /// </summary>
    public static TrainingCheckpoint Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var (tensors, metadata) = ModelFile.ReadContainer(path, "training checkpoint");
        if (!metadata.TryGetValue(VersionKey, out var versionText))
            throw new FormatException($"{path} is a Fovea model file without training state, not a training checkpoint; it cannot be resumed.");
        if (!int.TryParse(versionText, out int version) || version < 1)
            throw new FormatException($"{path}: invalid {VersionKey} '{versionText}'.");
        if (version > FormatVersion)
            throw new FormatException($"{path} was written by a newer Fovea (training checkpoint format version {version}); this build reads versions up to {FormatVersion}. Upgrade Fovea to resume it.");
        var model = ModelFile.BuildModel(path, tensors, metadata);
        JsonObject state;
        // A field named twice would otherwise surface in Fit, when first read, as an ArgumentException naming no file.
        try { state = JsonNode.Parse(metadata.GetValueOrDefault(StateKey) ?? throw new FormatException("the training state is missing."),
                documentOptions: new System.Text.Json.JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject
                ?? throw new FormatException("the training state is not a JSON object."); }
        catch (System.Text.Json.JsonException e) { throw new FormatException($"{path}: the training state is not valid JSON ({e.Message}).", e); }
        catch (FormatException e) { throw new FormatException($"{path}: {e.Message}", e); }
        try { return new TrainingCheckpoint(path, model, JsonNode.Parse(metadata["architecture"])!.AsObject(), state, tensors); }
        catch (Exception e) when (e is FormatException or InvalidOperationException or ArgumentException)
        {
            throw new FormatException($"{path}: damaged training state: {e.Message}", e);
        }
    }

    private TrainingCheckpoint(string path, Model model, JsonObject architecture, JsonObject state, Dictionary<string, (int[] Shape, float[] Values)> tensors)
    {
        Path = path;
        Model = model;
        _architecture = architecture;
        var position = ConfigReader.Object(state, "position");
        _position = new FitPosition(ConfigReader.Int(position, "epoch"), ConfigReader.Int(position, "batch"), ExactNumber.Double(position, "loss_sum"),
            ConfigReader.Int(position, "correct"), ConfigReader.Int(position, "seen"), ExactNumber.Double(position, "seconds"));
        if (_position.Epoch < 0 || _position.Batch < 0 || _position.Seen < 0)
            throw new FormatException($"position epoch {_position.Epoch}, batch {_position.Batch}, {_position.Seen} samples seen is impossible.");
        _stopRequested = ConfigReader.Bool(state, "stop_requested");
        _fit = ConfigReader.Object(state, "fit");
        Settings = ReadSettings(_fit);
        _loss = ConfigReader.Object(state, "loss");
        _optimizer = ConfigReader.Object(state, "optimizer");
        OptimizerName = ConfigReader.String(_optimizer, "name");
        _schedule = state["schedule"] is null ? null : ConfigReader.Object(state, "schedule");
        Threads = ConfigReader.Int(state, "threads");
        History = ConfigReader.Array(state, "history").Select((e, i) => ReadEpoch(e as JsonObject ?? throw new FormatException($"history[{i}] is not an object."))).ToArray();
        if (History.Count != _position.Epoch)
            throw new FormatException($"the history holds {History.Count} epoch(s) but the position is after epoch {_position.Epoch}.");
        Metadata = ConfigReader.Object(state, "metadata").ToDictionary(kv => kv.Key, kv => kv.Value is JsonValue v && v.TryGetValue(out string? s) ? s
            : throw new FormatException($"metadata '{kv.Key}' is not a string."));
        _dropoutStreams = ConfigReader.Object(state, "dropout_streams").ToDictionary(kv => kv.Key, kv =>
        {
            var o = kv.Value as JsonObject ?? throw new FormatException($"dropout stream '{kv.Key}' is not an object.");
            string draws = ConfigReader.String(o, "draws");
            // Restoring replays every draw: a damaged count of 10^10 kept Fit busy for minutes before its first batch.
            return long.TryParse(draws, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n) && n <= MaxDropoutDraws
                ? (ConfigReader.Int(o, "seed"), n)
                : throw new FormatException($"dropout stream '{kv.Key}' has drawn '{draws}' masks; expected a whole number from 0 to {MaxDropoutDraws:N0}.");
        });
        CheckResumeState();
        (_optimizerSlots, var callbackArrays) = SplitStateTensors(tensors, model);
        _callbacks = ConfigReader.Array(state, "callbacks").Select((c, i) =>
        {
            var o = c as JsonObject ?? throw new FormatException($"callbacks[{i}] is not an object.");
            return (ConfigReader.String(o, "type"), new CallbackState(ConfigReader.Object(o, "values"), callbackArrays.GetValueOrDefault(i) ?? new(StringComparer.Ordinal)));
        }).ToArray();
    }

    /// <summary>One mask per training batch: more than any run trains (10^9 batches), so restoring a stream stays quick.</summary>
    private const long MaxDropoutDraws = 1_000_000_000;

    /// <summary>
    /// Checks now what resuming reads later (<see cref="CheckCanResume"/>, <see cref="Restore"/>): a damaged value is then a
    /// FormatException naming the file from Load, not an unnamed one, or an argument error deep in the optimizer or the data
    /// loader, from Fit.
    /// </summary>
    private void CheckResumeState()
    {
        long batches = Settings.BatchSize < 1 || Settings.TrainingSamples < 1 ? -1 : (Settings.TrainingSamples + (long)Settings.BatchSize - 1) / Settings.BatchSize;
        if (batches < 0 || _position.Batch > batches)
            throw new FormatException($"position batch {_position.Batch} does not fit an epoch of {Settings.TrainingSamples} samples in batches of {Settings.BatchSize}.");
        int steps = ConfigReader.Int(_optimizer, "steps");
        // The next step is steps + 1, which must not wrap around to a negative count.
        if (steps is < 0 or int.MaxValue) throw new FormatException($"the optimizer has taken {steps} steps.");
        foreach (var field in new[] { "learning_rate", "base_learning_rate" })
        {
            float rate = ExactNumber.Float(_optimizer, field);
            if (!float.IsFinite(rate) || rate < 0) throw new FormatException($"field '{field}' is {rate}; expected a finite rate ≥ 0.");
        }
        ConfigReader.Object(_optimizer, "config");
        ConfigReader.String(_loss, "name");
        ConfigReader.Object(_loss, "config");
        if (_schedule is not null)
        {
            ConfigReader.String(_schedule, "name");
            ConfigReader.Object(_schedule, "config");
        }
    }

    private static CheckpointSettings ReadSettings(JsonObject fit)
    {
        Augmentation? augmentation = fit["augmentation"] is null ? null : ReadAugmentation(ConfigReader.Object(fit, "augmentation"));
        return new CheckpointSettings(ConfigReader.Int(fit, "epochs"), ConfigReader.Int(fit, "batch_size"), ConfigReader.Bool(fit, "shuffle"),
            ConfigReader.Int(fit, "seed"), ExactNumber.Double(fit, "validation_split"), augmentation, ConfigReader.OptionalString(fit, "schedule"),
            ConfigReader.Int(fit, "training_samples"), fit["validation_samples"] is null ? null : ConfigReader.Int(fit, "validation_samples"));
    }

    private static Augmentation ReadAugmentation(JsonObject o) =>
        new(ExactNumber.Double(o, "horizontal_flip_probability"), ConfigReader.Int(o, "max_translation"));

    private static EpochMetrics ReadEpoch(JsonObject e) => new(ConfigReader.Int(e, "epoch"), ExactNumber.Double(e, "loss"), ExactNumber.Double(e, "accuracy"),
        ExactNumber.OptionalDouble(e, "val_loss"), ExactNumber.OptionalDouble(e, "val_accuracy"), ExactNumber.Float(e, "learning_rate"),
        ExactNumber.Double(e, "seconds"), ExactNumber.Double(e, "images_per_second"));

    /// <summary>Sorts the tensors that are not weights: "optimizer/SLOT/PARAM" by slot, "callback/I/NAME" by callback.</summary>
    private static (Dictionary<string, Dictionary<string, float[]>>, Dictionary<int, Dictionary<string, float[]>>) SplitStateTensors(
        Dictionary<string, (int[] Shape, float[] Values)> tensors, Model model)
    {
        var sizes = model.Parameters.ToDictionary(p => p.Name, p => p.Value.Length, StringComparer.Ordinal);
        var slots = new Dictionary<string, Dictionary<string, float[]>>(StringComparer.Ordinal);
        var callbacks = new Dictionary<int, Dictionary<string, float[]>>();
        foreach (var (name, (_, values)) in tensors)
        {
            if (name.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
            {
                int slash = name.IndexOf('/', OptimizerPrefix.Length);
                string slot = slash < 0 ? "" : name[OptimizerPrefix.Length..slash], parameter = slash < 0 ? "" : name[(slash + 1)..];
                if (!sizes.TryGetValue(parameter, out int size) || size != values.Length)
                    throw new FormatException($"optimizer state '{name}' belongs to no weight of the model, or differs in size from it.");
                // A NaN moment or velocity turns its weight into NaN at the first step: the run would "diverge" at once.
                if (Array.FindIndex(values, float.IsNaN) is var nan and >= 0)
                    throw new FormatException($"optimizer state '{name}' holds NaN at index {nan}.");
                (slots.TryGetValue(slot, out var store) ? store : slots[slot] = new(StringComparer.Ordinal))[parameter] = values;
            }
            else if (name.StartsWith(CallbackPrefix, StringComparison.Ordinal))
            {
                int slash = name.IndexOf('/', CallbackPrefix.Length);
                if (slash < 0 || !int.TryParse(name.AsSpan(CallbackPrefix.Length, slash - CallbackPrefix.Length), out int index))
                    throw new FormatException($"callback state '{name}' names no callback.");
                (callbacks.TryGetValue(index, out var arrays) ? arrays : callbacks[index] = new(StringComparer.Ordinal))[name[(slash + 1)..]] = values;
            }
        }
        return (slots, callbacks);
    }
}

/// <summary>Where a Fit stands: the epoch in progress (from 0), the batches of it done, and its running sums.</summary>
internal sealed record FitPosition(int Epoch, int Batch, double LossSum, long Correct, int Seen, double Seconds)
{
    /// <summary>The start of epoch <paramref name="epoch"/>.</summary>
    public static FitPosition StartOf(int epoch) => new(epoch, 0, 0, 0, 0, 0);
}
