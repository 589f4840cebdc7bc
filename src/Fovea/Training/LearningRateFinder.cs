using Fovea.Autograd;
using Fovea.Data;
using Fovea.Layers;
using Fovea.Tensors;

namespace Fovea.Training;

/// <summary>Options of <see cref="LearningRateFinder.Run"/>. Defaults: rates from 1e-7 to 10 over 100 steps of 64 samples, seed 0.</summary>
public sealed record LearningRateFinderOptions
{
    /// <summary>Rate of the first step. Default 1e-7.</summary>
    public float StartRate { get; init; } = 1e-7f;
    /// <summary>Rate of the last step (the sweep stops earlier once the loss blows up). Default 10.</summary>
    public float EndRate { get; init; } = 10f;
    /// <summary>Steps, each at a rate a constant factor above the last. Default 100.</summary>
    public int Steps { get; init; } = 100;
    /// <summary>Samples per step. Default 64.</summary>
    public int BatchSize { get; init; } = 64;
    /// <summary>Seed of the shuffling. Default 0.</summary>
    public int Seed { get; init; }
}

/// <summary>One step of the sweep.</summary>
/// <param name="LearningRate">The step's rate.</param>
/// <param name="Loss">The step's training loss.</param>
/// <param name="SmoothedLoss">An exponential moving average of the losses so far (β = 0.9, bias-corrected): the curve to read.</param>
public sealed record LearningRatePoint(float LearningRate, double Loss, double SmoothedLoss);

/// <summary>The sweep and what it suggests.</summary>
/// <param name="Points">Every step taken, in order of rising rate.</param>
/// <param name="SuggestedRate">The rate where the smoothed loss fell fastest: the middle of the descent, a cautious choice
/// (measured: on the reference CNN it matched the hand-tuned 0.001; on the default network it was 0.00025, where 0.002
/// trains faster). Read the chart when it matters.</param>
/// <param name="MinimumLossRate">The rate where the smoothed loss was lowest.</param>
/// <param name="Diverged">True when the sweep stopped early because the loss exceeded four times its lowest value.</param>
public sealed record LearningRateFinderResult(IReadOnlyList<LearningRatePoint> Points, float SuggestedRate, float MinimumLossRate, bool Diverged);

/// <summary>
/// The learning-rate range test (Smith, 2017): train for a short while with the rate rising exponentially from tiny to
/// huge, watch the loss fall, bottom out and blow up, and take a rate on the steep part of the fall. The model, its BatchNorm
/// statistics, its dropout streams and the optimizer are put back exactly as they were afterwards, so a Fit that follows
/// starts from the same place it would have without the test.
/// </summary>
public static class LearningRateFinder
{
    /// <summary>Runs the sweep with <paramref name="trainer"/>'s model, optimizer and loss on <paramref name="data"/>.</summary>
    public static LearningRateFinderResult Run(Trainer trainer, IDataset data, LearningRateFinderOptions? options = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(data);
        options ??= new LearningRateFinderOptions();
        Validate(options, data);
        var model = trainer.Model;
        var optimizer = trainer.Optimizer;
        var saved = model.Parameters.Select(p => p.Value.ToArray()).ToList();
        var streams = model.Layers.OfType<Dropout>().Select(d => (Layer: d, Position: d.StreamPosition)).ToList();
        float savedRate = optimizer.LearningRate;
        int savedSteps = optimizer.Steps;
        var savedSlots = optimizer.Slots.ToDictionary(kv => kv.Key, kv => kv.Value.ToDictionary(e => e.Key, e => e.Value.ToArray()));
        try
        {
            return Sweep(trainer, data, options, cancellation);
        }
        finally
        {
            // Everything the sweep touched goes back: weights and statistics, dropout streams, the optimizer's state.
            foreach (var (p, values) in model.Parameters.Zip(saved)) p.Value.CopyFrom(values);
            foreach (var (layer, (seed, draws)) in streams) layer.RestoreStream(seed, draws);
            foreach (var p in model.Parameters) p.Value.ZeroGrad();
            optimizer.RestoreState(savedSlots, savedSteps);
            optimizer.LearningRate = savedRate;
        }
    }

    private static void Validate(LearningRateFinderOptions o, IDataset data)
    {
        if (!(o.StartRate > 0) || !float.IsFinite(o.StartRate)) throw new ArgumentException($"StartRate must be a positive finite number; received {o.StartRate}.");
        if (!(o.EndRate > o.StartRate) || !float.IsFinite(o.EndRate)) throw new ArgumentException($"EndRate must be finite and above StartRate ({o.StartRate}); received {o.EndRate}.");
        if (o.Steps < 2) throw new ArgumentException($"Steps must be at least 2; received {o.Steps}.");
        if (o.BatchSize < 1) throw new ArgumentException($"BatchSize must be at least 1; received {o.BatchSize}.");
        if (data.Count == 0) throw new ArgumentException("The learning-rate finder needs at least one sample; the data set is empty.");
    }

    private static LearningRateFinderResult Sweep(Trainer trainer, IDataset data, LearningRateFinderOptions options, CancellationToken cancellation)
    {
        var model = trainer.Model;
        var parameters = model.TrainableParameters.ToArray();
        var lossNode = trainer.LossNode;
        double factor = Math.Pow(options.EndRate / options.StartRate, 1.0 / (options.Steps - 1));
        var points = new List<LearningRatePoint>();
        double average = 0, best = double.PositiveInfinity;
        bool diverged = false;
        var tape = new Tape();
        var arena = new TensorArena();
        using var loader = new DataLoader(data, Math.Min(options.BatchSize, data.Count), shuffle: true, options.Seed, dropLast: false, augmentation: null);
        try
        {
            for (int epoch = 0, step = 0; step < options.Steps && !diverged; epoch++)
                foreach (var batch in loader.ForEpoch(epoch))
                {
                    cancellation.ThrowIfCancellationRequested();
                    float rate = (float)(options.StartRate * Math.Pow(factor, step));
                    trainer.Optimizer.LearningRate = rate;
                    arena.ReleaseAll();
                    float loss;
                    using (arena.Activate())
                    {
                        Tensor lossTensor;
                        using (tape.Record()) lossTensor = trainer.Loss.Compute(model.ForwardTo(batch.Images, lossNode, training: true), batch.Labels);
                        loss = lossTensor.Span[0];
                        if (!float.IsFinite(loss)) { tape.Clear(); diverged = true; break; }
                        Optimizers.Optimizer.ZeroGrad(parameters);
                        tape.Backward(lossTensor);
                        trainer.Optimizer.Step(parameters);
                    }
                    step++;
                    average = 0.9 * average + 0.1 * loss;
                    double smoothed = average / (1 - Math.Pow(0.9, step));
                    points.Add(new LearningRatePoint(rate, loss, smoothed));
                    best = Math.Min(best, smoothed);
                    // Past four times the best loss the curve says nothing more, and the weights are wrecked anyway.
                    if (step > 5 && smoothed > 4 * best) { diverged = true; break; }
                    if (step == options.Steps) break;
                }
        }
        finally { arena.ReleaseAll(); }
        if (points.Count == 0)
            throw new TrainingDivergedException($"The loss was not finite at the first rate, {options.StartRate}: the model or data gives NaN before any step.");
        int lowest = 0;
        for (int i = 1; i < points.Count; i++) if (points[i].SmoothedLoss < points[lowest].SmoothedLoss) lowest = i;
        int steepest = Steepest(points, lowest);
        return new LearningRateFinderResult(points, points[steepest].LearningRate, points[lowest].LearningRate, diverged);
    }

    /// <summary>
    /// The step where the smoothed loss falls fastest (per step of rate, over a window of ±3 steps, so one noisy batch does
    /// not decide), between the end of the average's warm-up and the lowest point: the middle of the descent, where the
    /// rate is high enough to learn quickly and well below where training turns unstable.
    /// </summary>
    private static int Steepest(IReadOnlyList<LearningRatePoint> points, int lowest)
    {
        const int window = 3;
        int first = Math.Min(lowest, Math.Max(window, points.Count / 10));
        int best = lowest;
        double bestSlope = 0;
        for (int i = first; i < lowest; i++)
        {
            double slope = points[Math.Min(lowest, i + window)].SmoothedLoss - points[Math.Max(0, i - window)].SmoothedLoss;
            if (slope < bestSlope) { bestSlope = slope; best = i; }
        }
        return best;
    }
}
