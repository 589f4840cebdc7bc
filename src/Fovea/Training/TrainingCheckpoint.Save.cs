using System.Globalization;
using System.Text.Json.Nodes;
using Fovea.Layers;
using Fovea.Serialization;

namespace Fovea.Training;

/// <summary>What a Fit knows about itself beyond its options: the data sizes and the base learning rate.</summary>
internal sealed record FitRun(FitOptions Options, float BaseRate, int TrainingSamples, int? ValidationSamples);

public sealed partial class TrainingCheckpoint
{
    /// <summary>Writes the state of <paramref name="trainer"/>'s run at <paramref name="position"/> to <paramref name="path"/>, atomically.</summary>
    internal static void Save(string path, Trainer trainer, FitRun run, FitPosition position, History history)
    {
        var model = trainer.Model;
        var names = model.Parameters.ToDictionary(p => p, p => p.Name);
        var extra = new List<(string, int[], float[])>();
        foreach (var (slot, store) in trainer.Optimizer.Slots)
            foreach (var (parameter, values) in store)
                if (names.TryGetValue(parameter, out var name)) extra.Add(($"{OptimizerPrefix}{slot}/{name}", parameter.Value.Shape, values));

        var callbacks = new JsonArray();
        foreach (var (callback, index) in run.Options.Callbacks.OfType<IResumableCallback>().Select((c, i) => (c, i)))
        {
            var saved = callback.SaveState();
            callbacks.Add(new JsonObject { ["type"] = callback.GetType().Name, ["values"] = saved.Values.DeepClone() });
            foreach (var (name, values) in saved.Arrays) extra.Add(($"{CallbackPrefix}{index}/{name}", [values.Length], values));
        }

        var streams = new JsonObject();
        foreach (var dropout in model.Layers.OfType<Dropout>())
        {
            var (seed, draws) = dropout.StreamPosition;
            streams[dropout.Name] = new JsonObject { ["seed"] = seed, ["draws"] = draws.ToString(CultureInfo.InvariantCulture) };
        }

        var optimizer = trainer.Optimizer;
        var schedule = run.Options.Schedule;
        var state = new JsonObject
        {
            ["position"] = new JsonObject
            {
                ["epoch"] = position.Epoch, ["batch"] = position.Batch, ["loss_sum"] = ExactNumber.Text(position.LossSum),
                ["correct"] = position.Correct, ["seen"] = position.Seen, ["seconds"] = ExactNumber.Text(position.Seconds),
            },
            ["stop_requested"] = trainer.StopRequested,
            ["fit"] = FitJson(run),
            ["loss"] = new JsonObject { ["name"] = trainer.Loss.Name, ["config"] = trainer.Loss.GetConfig().DeepClone() },
            ["optimizer"] = new JsonObject
            {
                ["name"] = optimizer.Name, ["config"] = optimizer.SavedConfig(), ["steps"] = optimizer.Steps,
                ["base_learning_rate"] = ExactNumber.Text(run.BaseRate), ["learning_rate"] = ExactNumber.Text(optimizer.LearningRate),
            },
            ["schedule"] = schedule is null ? null
                : new JsonObject { ["name"] = schedule.Name, ["config"] = schedule.GetConfig().DeepClone(), ["state"] = schedule.SaveState()?.DeepClone() },
            ["callbacks"] = callbacks,
            ["dropout_streams"] = streams,
            ["threads"] = Parallelism.Degree,
            ["history"] = new JsonArray(history.Epochs.Select(EpochJson).ToArray()),
            ["metadata"] = new JsonObject(run.Options.CheckpointMetadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))),
        };
        ModelFile.Write(model, path, extra, new Dictionary<string, string>
        {
            [VersionKey] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            [StateKey] = state.ToJsonString(),
        });
    }

    private static JsonObject FitJson(FitRun run)
    {
        var o = run.Options;
        return new JsonObject
        {
            ["epochs"] = o.Epochs, ["batch_size"] = o.BatchSize, ["shuffle"] = o.Shuffle, ["seed"] = o.Seed,
            ["validation_split"] = ExactNumber.Text(o.ValidationSplit),
            ["augmentation"] = o.Augmentation is null ? null : new JsonObject
            {
                ["horizontal_flip_probability"] = ExactNumber.Text(o.Augmentation.HorizontalFlipProbability),
                ["max_translation"] = o.Augmentation.MaxTranslation,
            },
            ["schedule"] = o.Schedule?.Name,
            ["training_samples"] = run.TrainingSamples, ["validation_samples"] = run.ValidationSamples,
        };
    }

    private static JsonNode EpochJson(EpochMetrics e) => new JsonObject
    {
        ["epoch"] = e.Epoch, ["loss"] = ExactNumber.Text(e.Loss), ["accuracy"] = ExactNumber.Text(e.Accuracy),
        ["val_loss"] = e.ValidationLoss is { } vl ? ExactNumber.Text(vl) : null,
        ["val_accuracy"] = e.ValidationAccuracy is { } va ? ExactNumber.Text(va) : null,
        ["learning_rate"] = ExactNumber.Text(e.LearningRate), ["seconds"] = ExactNumber.Text(e.Seconds),
        ["images_per_second"] = ExactNumber.Text(e.ImagesPerSecond),
    };
}
