using Fovea.Data;
using Fovea.Losses;
using Fovea.Optimizers;
using Fovea.Training;

namespace Fovea.Cli.Commands;

/// <summary>Defaults of the training options, which depend on what is trained (a Fashion-MNIST network, a model from scratch, a top on features).</summary>
internal sealed record TrainDefaults(int Epochs, double LearningRate, string Optimizer, string Schedule, bool Augment, double ValidationSplit, int BatchSize = 64);

/// <summary>The options every kind of <c>fovea train</c> shares, read from the command line over <see cref="TrainDefaults"/>.</summary>
internal sealed record TrainSettings(int Epochs, int BatchSize, float LearningRate, Optimizer Optimizer, string ScheduleName,
    LearningRateSchedule Schedule, float LabelSmoothing, bool BalanceClasses, bool Augment, double ValidationSplit, int Seed, int Threads, bool Json)
{
    /// <summary>--lr find: the rate comes from a learning-rate range test on the training images (see <see cref="FindRate"/>).</summary>
    public bool FindsRate { get; init; }

    public static TrainSettings Read(CommandLine cl, TrainDefaults defaults)
    {
        bool find = cl.Get("lr") is "find";
        // Above 0 (a rate of 0 runs every epoch and learns nothing) after the conversion to float32, which turns 1e-50 into 0.
        double requested = find ? defaults.LearningRate : cl.GetDouble("lr", defaults.LearningRate);
        float lr = (float)requested;
        if (!(requested > 0 && requested <= 10) || lr == 0)
            throw new UsageException($"Option --lr must be greater than 0 and at most 10; received {cl.Get("lr")}" +
                (requested > 0 && lr == 0 ? " (0 in single precision)." : "."));
        string schedule = cl.Get("schedule", defaults.Schedule)!;
        return new TrainSettings(
            Epochs: cl.GetInt("epochs", defaults.Epochs, 1, 100_000),
            BatchSize: cl.GetInt("batch-size", defaults.BatchSize, 1, 65_536),
            LearningRate: lr,
            Optimizer: CreateOptimizer(cl.Get("optimizer", defaults.Optimizer)!, lr, ClipNorm(cl)),
            ScheduleName: schedule,
            Schedule: LearningRateSchedule.Parse(schedule),
            LabelSmoothing: (float)cl.GetDouble("label-smoothing", 0, 0, 0.99),
            BalanceClasses: cl.Get("class-weights", "none") switch
            {
                "balanced" => true,
                "none" => false,
                var other => throw new UsageException($"Option --class-weights expects balanced or none; received '{other}'."),
            },
            Augment: cl.Has("augment") && cl.Has("no-augment")
                ? throw new UsageException("--augment and --no-augment contradict each other; give one.")
                : cl.Has("augment") || (defaults.Augment && !cl.Has("no-augment")),
            ValidationSplit: cl.GetDouble("validation-split", defaults.ValidationSplit, 0, 0.99),
            Seed: cl.GetInt("seed", 0),
            Threads: cl.GetInt("threads", Environment.ProcessorCount, 1, 1024),
            Json: cl.Has("json")) { FindsRate = find };
    }

    /// <summary>
    /// With --lr find, the rate to train at: on a fresh run, where the loss of a range test on
    /// <paramref name="images"/> fell fastest (its chart written as <paramref name="chartPath"/>); on a resumed run, the rate
    /// it started with. Sets the optimizer to it and returns the settings with it. Without --lr find, these settings.
    /// </summary>
    public TrainSettings FindRate(Trainer trainer, IDataset images, TrainingCheckpoint? resume, string chartPath)
    {
        if (!FindsRate) return this;
        float rate;
        if (resume is not null) rate = resume.BaseLearningRate;
        else
        {
            var result = LearningRateFinder.Run(trainer, images, new LearningRateFinderOptions { BatchSize = BatchSize, Seed = Seed });
            using (var chart = Vision.Charts.LearningRateFinder(result)) chart.SavePng(chartPath);
            rate = result.SuggestedRate;
            if (!Json)
                Console.Error.WriteLine($"Learning-rate range test: {result.Points.Count} steps, lowest loss at {result.MinimumLossRate:G2}; training at {rate:G2} (chart: {chartPath})");
        }
        trainer.Optimizer.LearningRate = rate;
        return this with { LearningRate = rate };
    }

    /// <summary>--clip-norm X: above 0 and finite, or null when not given.</summary>
    private static float? ClipNorm(CommandLine cl)
    {
        if (!cl.Has("clip-norm")) return null;
        double requested = cl.GetDouble("clip-norm", 0);
        if (!(requested > 0 && requested <= 1e30) || (float)requested == 0)
            throw new UsageException($"Option --clip-norm must be a number greater than 0 (the largest gradient norm a step may have); received {cl.Get("clip-norm")}.");
        return (float)requested;
    }

    private static Optimizer CreateOptimizer(string name, float learningRate, float? clipNorm)
    {
        var optimizer = Optimizer.Create(name, learningRate);
        optimizer.ClipNorm = clipNorm;
        return optimizer;
    }

    /// <summary>A new optimizer of these settings (type and gradient clipping) at another learning rate, e.g. for fine-tuning.</summary>
    public Optimizer CreateOptimizer(float learningRate) => CreateOptimizer(Optimizer.Name, learningRate, Optimizer.ClipNorm);

    /// <summary>
    /// The cross-entropy of these settings; with --class-weights balanced, weighted by the class counts of the images
    /// trained on: <paramref name="train"/>'s, or those at <paramref name="indices"/> when given (held-out ones excluded).
    /// </summary>
    public SoftmaxCrossEntropyLoss CreateLoss(IDataset train, int[]? indices = null) =>
        new(LabelSmoothing, BalanceClasses ? SoftmaxCrossEntropyLoss.BalancedClassWeights(train, indices) : null);

    /// <summary>One line describing the run, for the console.</summary>
    public string Describe() => $"{Epochs} epochs, batch {BatchSize}, {Optimizer.Name} lr {LearningRate}, {ScheduleName} schedule, " +
        $"augmentation {(Augment ? "on" : "off")}, {(BalanceClasses ? "balanced class weights, " : "")}{(Optimizer.ClipNorm is float c ? $"gradient norm clipped at {c}, " : "")}{Threads} thread(s), seed {Seed}";
}
