using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fovea.Cli.Commands;

internal static class JsonOutput
{
    private static readonly JsonSerializerOptions s_options = new() { WriteIndented = true };

    public static void Write(JsonNode node) => Console.WriteLine(node.ToJsonString(s_options));

    public static JsonArray Array<T>(IEnumerable<T> values) => new(values.Select(v => JsonValue.Create(v) as JsonNode).ToArray());
}
