using System.Text.Json.Nodes;
using Fovea.Serialization;

namespace Fovea.Optimizers;

/// <summary>Learning rate as a function of training progress, set on the optimizer before each step.</summary>
public abstract class LearningRateSchedule
{
    /// <summary>Rate at <paramref name="epoch"/> (0-based) and <paramref name="progress"/> ∈ [0, 1) within that epoch.</summary>
    public abstract float RateAt(float baseRate, int epoch, float progress, int totalEpochs);

    /// <summary>Called at the end of an epoch with the monitored validation (or training) loss.</summary>
    public virtual void OnEpochEnd(int epoch, double monitoredLoss) { }

    /// <summary>Forgets what earlier epochs taught the schedule; <see cref="Training.Trainer.Fit(Data.IDataset, Training.FitOptions, CancellationToken)"/>
    /// calls it before the first epoch, so a schedule reused by a second Fit starts afresh.</summary>
    public virtual void Reset() { }

    /// <summary>Short name saved in training checkpoints, e.g. "cosine". Default: the class name.</summary>
    public virtual string Name => GetType().Name;

    /// <summary>The schedule's settings, saved in training checkpoints: resuming with other settings is refused. Default: empty.</summary>
    public virtual JsonObject GetConfig() => new();

    /// <summary>
    /// What earlier epochs taught the schedule (e.g. the plateau schedule's best loss and counters), saved in training
    /// checkpoints; null (the default) for a schedule that depends on the epoch alone.
    /// </summary>
    public virtual JsonObject? SaveState() => null;

    /// <summary>Puts back a state returned by <see cref="SaveState"/>; throws <see cref="FormatException"/> naming a missing or bad field.</summary>
    public virtual void LoadState(JsonObject state) { }

    /// <summary>Parses "constant", "step", "cosine" or "plateau".</summary>
    public static LearningRateSchedule Parse(string name) => (name ?? throw new ArgumentNullException(nameof(name))).ToLowerInvariant() switch
    {
        "constant" or "none" => new ConstantSchedule(),
        "step" => new StepSchedule(),
        "cosine" => new CosineSchedule(),
        "plateau" => new ReduceOnPlateauSchedule(),
        _ => throw new ArgumentException($"Unknown learning-rate schedule '{name}'. Expected one of: constant, step, cosine, plateau."),
    };
}

/// <summary>The base rate throughout.</summary>
public sealed class ConstantSchedule : LearningRateSchedule
{
    /// <inheritdoc/>
    public override float RateAt(float baseRate, int epoch, float progress, int totalEpochs) => baseRate;

    /// <inheritdoc/>
    public override string Name => "constant";
}

/// <summary>Multiplies the rate by <see cref="Gamma"/> every <see cref="StepEpochs"/> epochs. Defaults: every 5 epochs, ×0.1.</summary>
public sealed class StepSchedule : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    public StepSchedule(int stepEpochs = 5, float gamma = 0.1f)
    {
        if (stepEpochs <= 0) throw new ArgumentOutOfRangeException(nameof(stepEpochs), stepEpochs, $"Step size must be at least one epoch. Received: {stepEpochs}.");
        if (!(gamma > 0f && gamma <= 1f)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, $"Gamma must be in (0, 1]. Received: {gamma}.");
        StepEpochs = stepEpochs; Gamma = gamma;
    }

    /// <summary>Epochs between decays.</summary>
    public int StepEpochs { get; }
    /// <summary>Decay factor.</summary>
    public float Gamma { get; }

    /// <inheritdoc/>
    public override float RateAt(float baseRate, int epoch, float progress, int totalEpochs) => baseRate * MathF.Pow(Gamma, epoch / StepEpochs);

    /// <inheritdoc/>
    public override string Name => "step";

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["step_epochs"] = StepEpochs, ["gamma"] = Gamma };
}

/// <summary>Cosine annealing per step from the base rate to <see cref="MinimumFraction"/>·base at the end of the last epoch,
/// after an optional linear warm-up.</summary>
public sealed class CosineSchedule : LearningRateSchedule
{
    /// <summary>Creates the schedule. Defaults: decay to 0, no warm-up.</summary>
    public CosineSchedule(float minimumFraction = 0f, float warmupEpochs = 0f)
    {
        if (!(minimumFraction >= 0f && minimumFraction <= 1f)) throw new ArgumentOutOfRangeException(nameof(minimumFraction), minimumFraction, $"Minimum fraction must be in [0, 1]. Received: {minimumFraction}.");
        if (!(warmupEpochs >= 0f) || float.IsInfinity(warmupEpochs)) throw new ArgumentOutOfRangeException(nameof(warmupEpochs), warmupEpochs, $"Warm-up must be a finite number of epochs ≥ 0. Received: {warmupEpochs}.");
        MinimumFraction = minimumFraction; WarmupEpochs = warmupEpochs;
    }

    /// <summary>Final rate as a fraction of the base rate.</summary>
    public float MinimumFraction { get; }
    /// <summary>Epochs of linear warm-up from 0.</summary>
    public float WarmupEpochs { get; }

    /// <inheritdoc/>
    public override float RateAt(float baseRate, int epoch, float progress, int totalEpochs)
    {
        float t = epoch + progress;
        if (t < WarmupEpochs) return baseRate * (t + 1e-3f) / WarmupEpochs;
        float span = Math.Max(1e-6f, totalEpochs - WarmupEpochs);
        float x = Math.Clamp((t - WarmupEpochs) / span, 0f, 1f);
        float min = baseRate * MinimumFraction;
        return min + (baseRate - min) * 0.5f * (1f + MathF.Cos(MathF.PI * x));
    }

    /// <inheritdoc/>
    public override string Name => "cosine";

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["minimum_fraction"] = MinimumFraction, ["warmup_epochs"] = WarmupEpochs };
}

/// <summary>Multiplies the rate by <see cref="Factor"/> when the monitored loss has not improved for <see cref="Patience"/> epochs.
/// Defaults: factor 0.5, patience 2, minimum rate 1e-6.</summary>
public sealed class ReduceOnPlateauSchedule : LearningRateSchedule
{
    private double _best = double.PositiveInfinity;
    private int _badEpochs;
    private float _scale = 1f;

    /// <summary>Creates the schedule.</summary>
    public ReduceOnPlateauSchedule(float factor = 0.5f, int patience = 2, float minimumRate = 1e-6f)
    {
        if (!(factor > 0f && factor < 1f)) throw new ArgumentOutOfRangeException(nameof(factor), factor, $"Factor must be in (0, 1). Received: {factor}.");
        if (patience < 0) throw new ArgumentOutOfRangeException(nameof(patience), patience, $"Patience must be ≥ 0. Received: {patience}.");
        if (!(minimumRate >= 0f) || float.IsInfinity(minimumRate)) throw new ArgumentOutOfRangeException(nameof(minimumRate), minimumRate, $"Minimum rate must be a finite value ≥ 0. Received: {minimumRate}.");
        Factor = factor; Patience = patience; MinimumRate = minimumRate;
    }

    /// <summary>Reduction factor.</summary>
    public float Factor { get; }
    /// <summary>Epochs without improvement before reducing.</summary>
    public int Patience { get; }
    /// <summary>Lower bound of the rate.</summary>
    public float MinimumRate { get; }

    /// <inheritdoc/>
    public override float RateAt(float baseRate, int epoch, float progress, int totalEpochs) => Math.Max(MinimumRate, baseRate * _scale);

    /// <inheritdoc/>
    public override void Reset() { _best = double.PositiveInfinity; _badEpochs = 0; _scale = 1f; }

    /// <inheritdoc/>
    public override void OnEpochEnd(int epoch, double monitoredLoss)
    {
        // The first value is the best so far by definition: with _best infinite the relative threshold is ∞ - ∞ = NaN, which
        // no comparison passes, so every epoch used to count as bad and the rate fell regardless of progress.
        bool first = double.IsPositiveInfinity(_best) && double.IsFinite(monitoredLoss);
        if (first || monitoredLoss < _best - 1e-4 * Math.Abs(_best)) { _best = monitoredLoss; _badEpochs = 0; return; }
        if (++_badEpochs > Patience) { _scale *= Factor; _badEpochs = 0; }
    }

    /// <inheritdoc/>
    public override string Name => "plateau";

    /// <inheritdoc/>
    public override JsonObject GetConfig() => new() { ["factor"] = Factor, ["patience"] = Patience, ["minimum_rate"] = MinimumRate };

    /// <inheritdoc/>
    public override JsonObject SaveState() => new()
    {
        ["best"] = ExactNumber.Text(_best),
        ["bad_epochs"] = _badEpochs,
        ["scale"] = ExactNumber.Text(_scale),
    };

    /// <inheritdoc/>
    public override void LoadState(JsonObject state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _best = ExactNumber.Double(state, "best");
        _badEpochs = Layers.ConfigReader.Int(state, "bad_epochs");
        _scale = ExactNumber.Float(state, "scale");
        // The rate is the base rate times the scale, which only ever shrinks from 1: a NaN or negative scale from a damaged
        // checkpoint would set a rate the optimizer refuses (an ArgumentOutOfRangeException mid-run).
        if (!(_scale is >= 0f and <= 1f)) throw new FormatException($"field 'scale' is {_scale}; expected a value from 0 to 1.");
        if (_badEpochs < 0) throw new FormatException($"field 'bad_epochs' is {_badEpochs}; expected a count ≥ 0.");
    }
}
