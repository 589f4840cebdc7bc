using System.Text.Json.Nodes;
using Fovea.Layers;
using Fovea.Models;

namespace Fovea.Serialization;

/// <summary>Model graph ⇄ JSON: name, input shape, seed, nodes (layer type, config, inputs, stage), output, class names, normalisation.</summary>
public static class ModelArchitecture
{
    /// <summary>The architecture (no weights) as JSON.</summary>
    public static JsonObject ToJson(Model model)
    {
        var nodes = new JsonArray();
        foreach (var n in model.Nodes.Skip(1))
        {
            nodes.Add(new JsonObject
            {
                ["name"] = n.Name,
                ["type"] = n.Layer!.TypeName,
                ["stage"] = n.Stage == ModelStage.Base ? "base" : "top",
                ["trainable"] = n.Layer.Trainable,
                ["inputs"] = new JsonArray(n.InputIndices.Select(i => (JsonNode)JsonValue.Create(model.Nodes[i].Name)!).ToArray()),
                ["config"] = n.Layer.GetConfig(),
            });
        }
        var json = new JsonObject
        {
            ["kind"] = model is Sequential ? "sequential" : "graph",
            ["name"] = model.Name,
            ["seed"] = model.Seed,
            ["input_shape"] = new JsonArray(model.InputShape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
            ["nodes"] = nodes,
            ["output"] = model.Output.Name,
            ["class_names"] = new JsonArray(model.ClassNames.Select(c => (JsonNode)JsonValue.Create(c)!).ToArray()),
        };
        if (model.Normalization is { } norm)
            json["normalization"] = new JsonObject
            {
                ["mean"] = new JsonArray(norm.Mean.Select(v => (JsonNode)JsonValue.Create(v)).ToArray()),
                ["std"] = new JsonArray(norm.Std.Select(v => (JsonNode)JsonValue.Create(v)).ToArray()),
            };
        return json;
    }

    /// <summary>Rebuilds a model (fresh weights) from <see cref="ToJson"/> output; throws <see cref="FormatException"/> naming the field that is wrong.</summary>
    public static Model FromJson(JsonObject json)
    {
        ArgumentNullException.ThrowIfNull(json);
        // Every field is read through ConfigReader, which names the field and what it holds; a cast or null dereference
        // here would otherwise reach the user as a bare .NET message.
        var inputShape = ConfigReader.IntArray(json, "input_shape");
        string name = ConfigReader.OptionalString(json, "name") ?? "model";
        int seed = json["seed"] is null ? 0 : ConfigReader.Int(json, "seed");
        string kind = ConfigReader.OptionalString(json, "kind") ?? "graph";
        if (kind is not ("sequential" or "graph"))
            throw new FormatException($"field 'kind' is '{kind}'; expected 'sequential' or 'graph'.");
        Model model;
        try { model = kind == "sequential" ? new Sequential(inputShape, name, seed) : new Model(inputShape, name, seed); }
        catch (ArgumentException e) { throw new FormatException($"field 'input_shape': {e.Message}", e); }
        var nodes = ConfigReader.Array(json, "nodes");
        for (int i = 0; i < nodes.Count; i++)
        {
            string where = $"nodes[{i}]";
            var o = nodes[i] as JsonObject ?? throw new FormatException($"{where} is {nodes[i]?.ToJsonString() ?? "null"}; expected an object.");
            try
            {
                string layerName = ConfigReader.String(o, "name");
                string stageText = ConfigReader.OptionalString(o, "stage") ?? "base";
                var stage = stageText switch
                {
                    "base" => ModelStage.Base,
                    "top" => ModelStage.Top,
                    _ => throw new FormatException($"field 'stage' is '{stageText}'; expected 'base' or 'top'."),
                };
                var layer = LayerRegistry.Create(ConfigReader.String(o, "type"), ConfigReader.Object(o, "config"), layerName);
                var inputNames = ConfigReader.Array(o, "inputs");
                var inputs = new Node[inputNames.Count];
                for (int j = 0; j < inputs.Length; j++)
                {
                    string input = inputNames[j] is JsonValue v && v.TryGetValue(out string? s) ? s
                        : throw new FormatException($"field 'inputs[{j}]' is {inputNames[j]?.ToJsonString() ?? "null"}; expected a node name.");
                    inputs[j] = FindNode(model, input, $"inputs[{j}]");
                }
                try { model.Add(layer, stage, inputs); }
                catch (ArgumentException e) { throw new FormatException(e.Message, e); }
                if (o["trainable"] is not null && !ConfigReader.Bool(o, "trainable")) layer.Freeze();
            }
            catch (FormatException e) { throw new FormatException($"{where}: {e.Message}", e); }
        }
        try { model.SetOutput(FindNode(model, ConfigReader.String(json, "output"), "output")); }
        catch (ArgumentException e) { throw new FormatException($"field 'output': {e.Message}", e); }
        if (json["class_names"] is not null)
        {
            var names = ConfigReader.Array(json, "class_names");
            model.ClassNames = names.Select((n, i) => n is JsonValue v && v.TryGetValue(out string? s) ? s
                : throw new FormatException($"field 'class_names[{i}]' is {n?.ToJsonString() ?? "null"}; expected a string.")).ToArray();
        }
        if (json["normalization"] is not null)
        {
            var norm = ConfigReader.Object(json, "normalization");
            float[] Floats(string field) => ConfigReader.Array(norm, field).Select((n, i) =>
                n is JsonValue v && v.TryGetValue(out double d) ? (float)d
                : throw new FormatException($"field 'normalization.{field}[{i}]' is {n?.ToJsonString() ?? "null"}; expected a number.")).ToArray();
            try { model.Normalization = new InputNormalization(Floats("mean"), Floats("std")); }
            catch (ArgumentException e) { throw new FormatException($"field 'normalization': {e.Message}", e); }
        }
        return model;
    }

    private static Node FindNode(Model model, string name, string field)
    {
        try { return model.GetNode(name); }
        catch (ArgumentException) { throw new FormatException($"field '{field}' names '{name}', which is not an earlier node of the model."); }
    }
}
