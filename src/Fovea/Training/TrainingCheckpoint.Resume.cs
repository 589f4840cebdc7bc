using System.Text.Json.Nodes;
using Fovea.Data;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Serialization;

namespace Fovea.Training;

public sealed partial class TrainingCheckpoint
{
    /// <summary>
    /// Refuses, before anything is changed, a trainer or Fit that cannot continue this run: another architecture, another
    /// optimizer type or settings, or other Fit settings. Throws <see cref="ArgumentException"/> naming the file and every mismatch.
    /// </summary>
    internal void CheckCanResume(Trainer trainer, FitRun run)
    {
        if (ArchitectureDifference(_architecture, ModelArchitecture.ToJson(trainer.Model)) is { } difference)
            throw new ArgumentException($"{Path} holds another model than '{trainer.Model.Name}': {difference}. Resume with the model the checkpoint was made from.");
        CheckOptimizer(trainer.Optimizer, run.BaseRate);
        var differences = SettingDifferences(trainer, run);
        if (differences.Count > 0)
            throw new ArgumentException($"{Path} was written by a Fit with other settings, and resuming needs the same: {string.Join("; ", differences)}.");
    }

    /// <summary>Puts the checkpoint's state into the trainer, its optimizer, schedule and callbacks; returns where the run continues.</summary>
    internal FitPosition Restore(Trainer trainer, FitRun run, History history)
    {
        var parameters = trainer.Model.Parameters.ToDictionary(p => p.Name, StringComparer.Ordinal);
        foreach (var saved in Model.Parameters) parameters[saved.Name].Value.CopyFrom(saved.Value.Span);

        var optimizer = trainer.Optimizer;
        foreach (var (slot, store) in optimizer.Slots)
        {
            store.Clear();
            if (_optimizerSlots.TryGetValue(slot, out var saved))
                foreach (var (name, values) in saved) store[parameters[name]] = (float[])values.Clone();
        }
        optimizer.Steps = ConfigReader.Int(_optimizer, "steps");
        optimizer.LearningRate = ExactNumber.Float(_optimizer, "learning_rate");

        if (run.Options.Schedule is { } schedule && _schedule?["state"] is JsonObject state)
            Damaged(() => schedule.LoadState(state.DeepClone().AsObject()), "the schedule's state");
        var callbacks = run.Options.Callbacks.OfType<IResumableCallback>().ToArray();
        for (int i = 0; i < callbacks.Length; i++)
        {
            var (type, saved) = _callbacks[i];
            var copy = new CallbackState(saved.Values.DeepClone().AsObject(), saved.Arrays.ToDictionary(kv => kv.Key, kv => (float[])kv.Value.Clone(), StringComparer.Ordinal));
            Damaged(() => callbacks[i].LoadState(copy), $"the state of {type}");
        }
        foreach (var dropout in trainer.Model.Layers.OfType<Dropout>())
        {
            if (!_dropoutStreams.TryGetValue(dropout.Name, out var stream))
                throw new FormatException($"{Path}: the random stream of dropout layer '{dropout.Name}' is missing.");
            dropout.RestoreStream(stream.Seed, stream.Draws);
        }
        trainer.StopRequested = _stopRequested;
        foreach (var epoch in History) history.Add(epoch);
        return _position;
    }

    private void Damaged(Action load, string what)
    {
        try { load(); }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            throw new FormatException($"{Path}: {what} cannot be restored: {e.Message}", e);
        }
    }

    private void CheckOptimizer(Optimizer optimizer, float baseRate)
    {
        if (optimizer.Name != OptimizerName)
            throw new ArgumentException($"{Path} holds the state of optimizer '{OptimizerName}', but this trainer's optimizer is '{optimizer.Name}'. Resume with a '{OptimizerName}' optimizer of the same settings.");
        var differences = ConfigDifferences(ConfigReader.Object(_optimizer, "config"), optimizer.SavedConfig(), "this optimizer");
        float savedRate = ExactNumber.Float(_optimizer, "base_learning_rate");
        if (savedRate != baseRate) differences.Add($"learning rate {Show(savedRate)} (this optimizer: {Show(baseRate)})");
        foreach (var slot in _optimizerSlots.Keys.Where(s => !optimizer.Slots.ContainsKey(s)))
            differences.Add($"state '{slot}', which this optimizer does not keep");
        if (differences.Count > 0)
            throw new ArgumentException($"{Path} holds the state of a '{OptimizerName}' optimizer with other settings: {string.Join("; ", differences)}.");
    }

    private List<string> SettingDifferences(Trainer trainer, FitRun run)
    {
        var o = run.Options;
        var differences = new List<string>();
        void Compare<T>(string what, T saved, T now)
        {
            if (!EqualityComparer<T>.Default.Equals(saved, now)) differences.Add($"{what} {Show(saved)} (this Fit: {Show(now)})");
        }
        int reached = EpochsCompleted + (BatchesIntoEpoch > 0 ? 1 : 0);
        if (o.Epochs < reached) differences.Add($"Epochs {o.Epochs} ends before epoch {reached}, which the checkpoint has reached");
        Compare("BatchSize", Settings.BatchSize, o.BatchSize);
        Compare("Shuffle", Settings.Shuffle, o.Shuffle);
        Compare("Seed", Settings.Seed, o.Seed);
        Compare("ValidationSplit", Settings.ValidationSplit, o.ValidationSplit);
        Compare("Augmentation", Settings.Augmentation, o.Augmentation);
        Compare("training samples", Settings.TrainingSamples, run.TrainingSamples);
        Compare("validation samples", Settings.ValidationSamples, run.ValidationSamples);
        Compare("Schedule", Describe(_schedule), o.Schedule is null ? null : $"{o.Schedule.Name} {o.Schedule.GetConfig().ToJsonString()}");
        Compare("loss", $"{ConfigReader.String(_loss, "name")} {ConfigReader.Object(_loss, "config").ToJsonString()}", $"{trainer.Loss.Name} {trainer.Loss.GetConfig().ToJsonString()}");
        Compare("resumable callbacks", string.Join(", ", _callbacks.Select(c => c.Type)),
            string.Join(", ", o.Callbacks.OfType<IResumableCallback>().Select(c => c.GetType().Name)));
        return differences;
    }

    private static string? Describe(JsonObject? schedule) =>
        schedule is null ? null : $"{ConfigReader.String(schedule, "name")} {ConfigReader.Object(schedule, "config").ToJsonString()}";

    private static string Show<T>(T value) => value switch
    {
        null => "none",
        "" => "none",
        float f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        Augmentation a => $"flip {Show(a.HorizontalFlipProbability)}, shift {a.MaxTranslation}",
        _ => value.ToString() ?? "none",
    };

    private static List<string> ConfigDifferences(JsonObject saved, JsonObject current, string now)
    {
        var differences = new List<string>();
        foreach (var key in saved.Select(kv => kv.Key).Union(current.Select(kv => kv.Key)))
        {
            string a = saved[key]?.ToJsonString() ?? "none", b = current[key]?.ToJsonString() ?? "none";
            if (a != b) differences.Add($"{key} {a} ({now}: {b})");
        }
        return differences;
    }

    /// <summary>The first difference between two architectures, ignoring the model's name and seed (the weights come from the checkpoint); null when equal.</summary>
    private static string? ArchitectureDifference(JsonObject saved, JsonObject current)
    {
        static string Text(JsonNode? n) => n?.ToJsonString() ?? "none";
        foreach (var field in new[] { "kind", "input_shape" })
            if (Text(saved[field]) != Text(current[field]))
                return $"{field.Replace('_', ' ')} {Text(saved[field])} in the checkpoint, {Text(current[field])} in this model";
        var a = saved["nodes"] as JsonArray ?? [];
        var b = current["nodes"] as JsonArray ?? [];
        for (int i = 0; i < Math.Min(a.Count, b.Count); i++)
        {
            if (Text(a[i]) == Text(b[i])) continue;
            if (a[i] is JsonObject x && b[i] is JsonObject z && Text(x["type"]) == Text(z["type"]) && Text(x["name"]) == Text(z["name"]) && Text(x["config"]) == Text(z["config"]))
            {
                string field = new[] { "stage", "trainable", "inputs" }.FirstOrDefault(f => Text(x[f]) != Text(z[f])) ?? "definition";
                return $"layer {Text(x["name"])} has {field} {Text(x[field])} in the checkpoint, {Text(z[field])} in this model";
            }
            return $"layer {i + 1} is {Layer(a[i])} in the checkpoint but {Layer(b[i])} in this model";
        }
        if (a.Count != b.Count) return $"{a.Count} layers in the checkpoint, {b.Count} in this model";
        foreach (var field in new[] { "output", "class_names", "normalization" })
            if (Text(saved[field]) != Text(current[field]))
                return $"{field.Replace('_', ' ')} {Text(saved[field])} in the checkpoint, {Text(current[field])} in this model";
        return null;

        static string Layer(JsonNode? n) => n is JsonObject o ? $"{o["type"]} '{o["name"]}' {Text(o["config"])}" : Text(n);
    }
}
