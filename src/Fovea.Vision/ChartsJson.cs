using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fovea.Training;

namespace Fovea.Vision;

public static partial class Charts
{
    /// <summary>The largest count one cell of a saved confusion matrix may hold (more images than any evaluation sees).</summary>
    public const long MaxConfusionCount = int.MaxValue;

    /// <summary>
    /// Reads a history written by <see cref="History.ToJson"/> (e.g. model.history.json): an array of epoch objects, each
    /// with a whole-number "epoch" and numeric "loss" and "accuracy"; "validation_loss", "validation_accuracy" (number or
    /// null), "learning_rate", "seconds" and "images_per_second" are optional. Throws <see cref="FormatException"/> naming
    /// <paramref name="source"/> (a file path, for messages), the entry and the field when it is not one.
    /// </summary>
    public static IReadOnlyList<EpochMetrics> ReadHistoryJson(string json, string source = "training history")
    {
        var root = Parse(json, source, "a training history (a JSON array of epochs)");
        if (root is not JsonArray epochs) throw new FormatException($"{source}: expected a JSON array of epochs; found {Kind(root)}.");
        var result = new List<EpochMetrics>(epochs.Count);
        for (int i = 0; i < epochs.Count; i++)
        {
            string where = $"{source}: epoch entry {i}";
            if (epochs[i] is not JsonObject o) throw new FormatException($"{where} is {Kind(epochs[i])}; expected an object with epoch, loss and accuracy.");
            double epoch = Number(o, "epoch", where) ?? throw Missing(where, "epoch");
            if (epoch != Math.Floor(epoch) || epoch < 0 || epoch > int.MaxValue)
                throw new FormatException($"{where}: \"epoch\" is {Text(o["epoch"])}; expected a whole number from 0 to {int.MaxValue}.");
            result.Add(new EpochMetrics((int)epoch,
                Number(o, "loss", where) ?? throw Missing(where, "loss"),
                Number(o, "accuracy", where) ?? throw Missing(where, "accuracy"),
                Number(o, "validation_loss", where), Number(o, "validation_accuracy", where),
                (float)(Number(o, "learning_rate", where) ?? 0), Number(o, "seconds", where) ?? 0, Number(o, "images_per_second", where) ?? 0));
        }
        return result;
    }

    /// <summary>A confusion matrix as JSON: {"class_names": [...], "counts": [[...], ...]} (rows: true class).</summary>
    public static string ConfusionToJson(ConfusionMatrix m) => new JsonObject
    {
        ["class_names"] = new JsonArray(m.ClassNames.Select(c => (JsonNode)JsonValue.Create(c)).ToArray()),
        ["counts"] = new JsonArray(m.ToRows().Select(r => (JsonNode)new JsonArray(r.Select(v => (JsonNode)JsonValue.Create(v)).ToArray())).ToArray()),
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>
    /// Reads <see cref="ConfusionToJson"/> output: "class_names" (an array of at least one string) and "counts" (one row per
    /// class, each a whole number from 0 to <see cref="MaxConfusionCount"/>). Throws <see cref="FormatException"/> naming
    /// <paramref name="source"/> (a file path, for messages), the field or cell and the value when it is malformed.
    /// </summary>
    public static ConfusionMatrix ConfusionFromJson(string json, string source = "confusion matrix")
    {
        var root = Parse(json, source, "a confusion matrix (an object with class_names and counts)");
        if (root is not JsonObject o) throw new FormatException($"{source}: expected a JSON object with class_names and counts; found {Kind(root)}.");
        if (o["class_names"] is not JsonArray nameArray)
            throw new FormatException($"{source}: \"class_names\" is {Kind(o["class_names"])}; expected an array of class names.");
        if (nameArray.Count == 0) throw new FormatException($"{source}: \"class_names\" is empty; expected at least one class.");
        var names = new string[nameArray.Count];
        for (int i = 0; i < names.Length; i++)
            names[i] = nameArray[i] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>()
                : throw new FormatException($"{source}: class_names[{i}] is {Kind(nameArray[i])}; expected a string.");
        if (o["counts"] is not JsonArray rows)
            throw new FormatException($"{source}: \"counts\" is {Kind(o["counts"])}; expected an array of {names.Length} rows.");
        if (rows.Count != names.Length)
            throw new FormatException($"{source}: \"counts\" has {rows.Count} rows for {names.Length} classes; expected one row per class.");
        var m = new ConfusionMatrix(names.Length, names);
        for (int i = 0; i < rows.Count; i++)
        {
            if (rows[i] is not JsonArray row || row.Count != names.Length)
                throw new FormatException($"{source}: counts[{i}] is {(rows[i] is JsonArray r ? $"a row of {r.Count}" : Kind(rows[i]))}; expected a row of {names.Length} counts.");
            for (int j = 0; j < row.Count; j++)
            {
                long count = row[j] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.GetValue<JsonElement>().TryGetInt64(out long c) ? c : -1;
                if (count < 0 || count > MaxConfusionCount)
                    throw new FormatException($"{source}: counts[{i}][{j}] is {Text(row[j])}; expected a whole number of images from 0 to {MaxConfusionCount:N0}.");
                m.Add(i, j, count);
            }
        }
        return m;
    }

    private static JsonNode? Parse(string json, string source, string expected)
    {
        // A repeated field name would otherwise surface later, when the object is first read, as an ArgumentException
        // ("An item with the same key has already been added").
        try { return JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }); }
        catch (JsonException e) { throw new FormatException($"{source} is not valid JSON ({e.Message}); expected {expected}.", e); }
    }

    /// <summary>The number in field <paramref name="name"/> of <paramref name="o"/>; null when absent or null.</summary>
    private static double? Number(JsonObject o, string name, string where)
    {
        var node = o[name];
        if (node is null) return null;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.GetValue<JsonElement>().TryGetDouble(out double d) && double.IsFinite(d)) return d;
        throw new FormatException($"{where}: \"{name}\" is {Text(node)}; expected a number.");
    }

    private static FormatException Missing(string where, string name) => new($"{where} has no \"{name}\"; expected a number.");

    private static string Kind(JsonNode? node) => node switch
    {
        null => "missing or null",
        JsonArray => "an array",
        JsonObject => "an object",
        _ => Text(node),
    };

    /// <summary>The node as JSON, shortened for a message.</summary>
    private static string Text(JsonNode? node)
    {
        string s = node?.ToJsonString() ?? "null";
        return s.Length <= 40 ? s : s[..40] + "…";
    }
}
