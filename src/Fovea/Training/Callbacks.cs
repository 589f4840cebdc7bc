using Fovea.Models;
using Fovea.Serialization;

namespace Fovea.Training;

/// <summary>Progress of one batch, for progress displays.</summary>
public readonly record struct BatchProgress(int Epoch, int Epochs, int Batch, int Batches, int SamplesDone, int SamplesTotal,
    double RunningLoss, double RunningAccuracy, double ElapsedSeconds);

/// <summary>Hooks into <see cref="Trainer.Fit"/>. Every method has an empty default.</summary>
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

/// <summary>
/// Stops when the monitored metric has not improved for <see cref="Patience"/> epochs; optionally restores the best weights.
/// Defaults: monitor "val_loss", patience 3, restore best.
/// </summary>
public sealed class EarlyStopping(string monitor = "val_loss", int patience = 3, bool restoreBestWeights = true) : ITrainingCallback
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
}

/// <summary>Saves the model (atomically) after an epoch that improves the monitored metric — or after every epoch.</summary>
public sealed class ModelCheckpoint(string path, string monitor = "val_loss", bool saveBestOnly = true) : ITrainingCallback
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
}
