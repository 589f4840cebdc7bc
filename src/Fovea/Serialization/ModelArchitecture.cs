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

    /// <summary>Rebuilds a model (fresh weights) from <see cref="ToJson"/> output; throws <see cref="FormatException"/> naming what is wrong.</summary>
    public static Model FromJson(JsonObject json)
    {
        try
        {
            var inputShape = ((JsonArray)json["input_shape"]!).Select(n => (int)n!).ToArray();
            string name = (string?)json["name"] ?? "model";
            int seed = (int?)json["seed"] ?? 0;
            Model model = (string?)json["kind"] == "sequential" ? new Sequential(inputShape, name, seed) : new Model(inputShape, name, seed);
            foreach (var nodeJson in (JsonArray)json["nodes"]!)
            {
                var o = (JsonObject)nodeJson!;
                string layerName = (string)o["name"]!;
                var layer = LayerRegistry.Create((string)o["type"]!, (JsonObject)o["config"]!, layerName);
                var inputs = ((JsonArray)o["inputs"]!).Select(i => model.GetNode((string)i!)).ToArray();
                model.Add(layer, (string?)o["stage"] == "top" ? ModelStage.Top : ModelStage.Base, inputs);
                if ((bool?)o["trainable"] == false) layer.Freeze();
            }
            model.SetOutput(model.GetNode((string)json["output"]!));
            if (json["class_names"] is JsonArray names) model.ClassNames = names.Select(n => (string)n!).ToArray();
            if (json["normalization"] is JsonObject norm)
                model.Normalization = new InputNormalization(
                    ((JsonArray)norm["mean"]!).Select(v => (float)v!).ToArray(),
                    ((JsonArray)norm["std"]!).Select(v => (float)v!).ToArray());
            return model;
        }
        catch (Exception e) when (e is NullReferenceException or InvalidCastException or InvalidOperationException or ArgumentException
            or FormatException or OverflowException or System.Text.Json.JsonException)
        {
            throw new FormatException($"Invalid model architecture: {e.Message}", e);
        }
    }
}
