using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fovea.Cli.Commands;

/// <summary>The --json output of every command: one indented JSON document on stdout.</summary>
internal static class JsonOutput
{
    private static readonly JsonSerializerOptions s_options = new() { WriteIndented = true };

    /// <summary>
    /// Writes <paramref name="node"/> to stdout. NaN and infinities (the probabilities of a model whose scores overflow, a
    /// loss that did) become null: JSON has no such numbers, and System.Text.Json throws on them, which failed the command
    /// after its work was done (visualize had written its pictures) while the text output printed them as NaN.
    /// </summary>
    public static void Write(JsonNode node) => Console.WriteLine(WithoutNonFinite(node)?.ToJsonString(s_options) ?? "null");

    public static JsonArray Array<T>(IEnumerable<T> values) => new(values.Select(v => JsonValue.Create(v) as JsonNode).ToArray());

    /// <summary>The node with every NaN or infinite number replaced by null (changed in place; a bare such number gives null).</summary>
    internal static JsonNode? WithoutNonFinite(JsonNode? node)
    {
        if (node is JsonValue && IsNonFinite(node)) return null;
        if (node is JsonObject obj)
            foreach (var key in obj.Select(p => p.Key).ToList())
            {
                if (IsNonFinite(obj[key])) obj[key] = null;
                else WithoutNonFinite(obj[key]);
            }
        if (node is JsonArray array)
            for (int i = 0; i < array.Count; i++)
            {
                if (IsNonFinite(array[i])) array[i] = null;
                else WithoutNonFinite(array[i]);
            }
        return node;
    }

    private static bool IsNonFinite(JsonNode? node) => node is JsonValue value &&
        ((value.TryGetValue(out double d) && !double.IsFinite(d)) || (value.TryGetValue(out float f) && !float.IsFinite(f)));
}
