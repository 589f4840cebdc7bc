using System.Text.Json.Nodes;
using Fovea.Layers;
using Fovea.Serialization;

namespace Fovea.Training;

/// <summary>Progress of one batch, for progress displays.</summary>
public readonly record struct BatchProgress(int Epoch, int Epochs, int Batch, int Batches, int SamplesDone, int SamplesTotal,
    double RunningLoss, double RunningAccuracy, double ElapsedSeconds);

/// <summary>Hooks into <see cref="Trainer.Fit(Data.IDataset, FitOptions, CancellationToken)"/>. Every method has an empty default.</summary>
public interface ITrainingCallback
{
    /// <summary>Before the first epoch.</summary>
    void OnTrainBegin(Trainer trainer) { }
    /// <summary>After every batch.</summary>
    void OnBatchEnd(Trainer trainer, in BatchProgress progress) { }
    /// <summary>After every epoch (validation included); set <see cref="Trainer.StopRequested"/> to stop.</summary>
    void OnEpochEnd(Trainer trainer, EpochMetrics metrics) { }
    /// <summary>After the last epoch.</summary>
    void OnTrainEnd(Trainer trainer, History history) { }
}

/// <summary>What a <see cref="IResumableCallback"/> carries from epoch to epoch: JSON values and named float arrays (e.g. best weights).</summary>
public sealed class CallbackState
{
    /// <summary>An empty state, to fill in <see cref="IResumableCallback.SaveState"/>.</summary>
    public CallbackState() { }

    internal CallbackState(JsonObject values, Dictionary<string, float[]> arrays) { Values = values; Arrays = arrays; }

    /// <summary>Small values (counters, best metric). Numbers are kept exactly as written.</summary>
    public JsonObject Values { get; } = new();
    /// <summary>Named float arrays, saved as tensors of the checkpoint.</summary>
    public Dictionary<string, float[]> Arrays { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// A callback whose state a training checkpoint saves after every epoch and a resumed <see cref="Trainer.Fit(Data.IDataset, FitOptions, TrainingCheckpoint, CancellationToken)"/>
/// puts back after <see cref="ITrainingCallback.OnTrainBegin"/>. Resuming needs the same resumable callbacks, of the same types, in the same order.
/// </summary>
public interface IResumableCallback : ITrainingCallback
{
    /// <summary>The state after the epoch just finished.</summary>
    CallbackState SaveState();
    /// <summary>Puts back a state returned by <see cref="SaveState"/>; throws <see cref="FormatException"/> or <see cref="ArgumentException"/> naming what does not fit.</summary>
    void LoadState(CallbackState state);
}

/// <summary>
/// Stops when the monitored metric has not improved for <see cref="Patience"/> epochs; optionally restores the best weights.
/// Defaults: monitor "val_loss", patience 3, restore best.
/// </summary>
public sealed class EarlyStopping(string monitor = "val_loss", int patience = 3, bool restoreBestWeights = true) : IResumableCallback
{
    private double _best;
    private int _wait;
    private float[][]? _bestWeights;

    /// <summary>Monitored metric.</summary>
    public string Monitor { get; } = EpochMetrics.CheckMonitor(monitor);
    /// <summary>Epochs without improvement tolerated.</summary>
    public int Patience { get; } = patience >= 0 ? patience : throw new ArgumentOutOfRangeException(nameof(patience), patience, $"Patience must be ≥ 0. Received: {patience}.");
    /// <summary>Epoch (1-based) with the best value.</summary>
    public int BestEpoch { get; private set; }

    /// <inheritdoc/>
    public void OnTrainBegin(Trainer trainer)
    {
        RequireValidation(trainer, Monitor, nameof(EarlyStopping));
        _best = EpochMetrics.HigherIsBetter(Monitor) ? double.NegativeInfinity : double.PositiveInfinity;
        _wait = 0; BestEpoch = 0; _bestWeights = null;
        _parameters = trainer.Model.Parameters.ToArray();
    }

    /// <summary>Refuses a validation metric before the first epoch of a run that has no validation data.</summary>
    internal static void RequireValidation(Trainer trainer, string monitor, string callback)
    {
        if (EpochMetrics.NeedsValidation(monitor) && !trainer.HasValidation)
            throw new ArgumentException($"{callback} monitors '{monitor}', but this Fit has no validation data; pass ValidationData or a ValidationSplit, or monitor 'loss' or 'accuracy'.");
    }

    /// <inheritdoc/>
    public void OnEpochEnd(Trainer trainer, EpochMetrics metrics)
    {
        double v = metrics.Get(Monitor);
        bool better = EpochMetrics.HigherIsBetter(Monitor) ? v > _best : v < _best;
        if (better)
        {
            _best = v; _wait = 0; BestEpoch = metrics.Epoch;
            if (restoreBestWeights) _bestWeights = trainer.Model.Parameters.Select(p => p.Value.ToArray()).ToArray();
            return;
        }
        if (++_wait > Patience) trainer.StopRequested = true;
    }

    /// <inheritdoc/>
    public void OnTrainEnd(Trainer trainer, History history)
    {
        if (_bestWeights is null) return;
        int i = 0;
        foreach (var p in trainer.Model.Parameters) p.Value.CopyFrom(_bestWeights[i++]);
    }

    private Parameter[]? _parameters; // of the model whose best weights are kept, set by OnTrainBegin

    /// <inheritdoc/>
    public CallbackState SaveState()
    {
        var state = new CallbackState();
        state.Values["monitor"] = Monitor;
        state.Values["best"] = ExactNumber.Text(_best);
        state.Values["wait"] = _wait;
        state.Values["best_epoch"] = BestEpoch;
        if (_bestWeights is not null && _parameters is not null)
            for (int i = 0; i < _parameters.Length; i++) state.Arrays[_parameters[i].Name] = _bestWeights[i];
        return state;
    }

    /// <inheritdoc/>
    public void LoadState(CallbackState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        ResumableState.RequireMonitor(state, Monitor, nameof(EarlyStopping));
        _best = ExactNumber.Double(state.Values, "best");
        _wait = ConfigReader.Int(state.Values, "wait");
        BestEpoch = ConfigReader.Int(state.Values, "best_epoch");
        _bestWeights = null;
        if (state.Arrays.Count == 0 || _parameters is null) return;
        _bestWeights = _parameters.Select(p => state.Arrays.TryGetValue(p.Name, out var w) && w.Length == p.Value.Length ? w
            : throw new FormatException($"the best weights of EarlyStopping lack '{p.Name}' or have another size.")).ToArray();
    }
}

/// <summary>Checks shared by the built-in resumable callbacks.</summary>
internal static class ResumableState
{
    public static void RequireMonitor(CallbackState state, string monitor, string callback)
    {
        string saved = ConfigReader.String(state.Values, "monitor");
        if (saved != monitor)
            throw new ArgumentException($"{callback} monitored '{saved}' in the checkpoint; this one monitors '{monitor}'.");
    }
}

/// <summary>Saves the model (atomically) after an epoch that improves the monitored metric — or after every epoch.</summary>
public sealed class ModelCheckpoint(string path, string monitor = "val_loss", bool saveBestOnly = true) : IResumableCallback
{
    private double _best;

    /// <summary>Where the model is written.</summary>
    public string Path { get; } = !string.IsNullOrWhiteSpace(path) ? path
        : throw new ArgumentException($"A checkpoint needs a file path. Received: '{path}'.", nameof(path));
    /// <summary>Monitored metric.</summary>
    public string Monitor { get; } = EpochMetrics.CheckMonitor(monitor);

    /// <inheritdoc/>
    public void OnTrainBegin(Trainer trainer)
    {
        EarlyStopping.RequireValidation(trainer, Monitor, nameof(ModelCheckpoint));
        // A model that cannot be saved is refused now, not after the first epoch.
        trainer.Model.CheckClassNamesFitOutputs();
        _best = EpochMetrics.HigherIsBetter(Monitor) ? double.NegativeInfinity : double.PositiveInfinity;
    }

    /// <inheritdoc/>
    public void OnEpochEnd(Trainer trainer, EpochMetrics metrics)
    {
        double v = metrics.Get(Monitor);
        bool better = EpochMetrics.HigherIsBetter(Monitor) ? v > _best : v < _best;
        if (better) _best = v;
        if (better || !saveBestOnly) ModelFile.Save(trainer.Model, Path);
    }

    /// <inheritdoc/>
    public CallbackState SaveState()
    {
        var state = new CallbackState();
        state.Values["monitor"] = Monitor;
        state.Values["best"] = ExactNumber.Text(_best);
        return state;
    }

    /// <inheritdoc/>
    public void LoadState(CallbackState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        ResumableState.RequireMonitor(state, Monitor, nameof(ModelCheckpoint));
        _best = ExactNumber.Double(state.Values, "best");
    }
}
