using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fovea.Layers;

/// <summary>
/// Reads the fields of a layer configuration or model architecture and throws <see cref="FormatException"/> naming the field
/// and what it holds, so a damaged model file is reported as such rather than as a cast or null-reference failure.
/// </summary>
internal static class ConfigReader
{
    public static JsonNode Node(JsonObject o, string field) =>
        o[field] ?? throw new FormatException($"field '{field}' is missing.");

    public static int Int(JsonObject o, string field) => AsInt(Node(o, field), field);

    public static float Float(JsonObject o, string field)
    {
        var n = Node(o, field);
        return n is JsonValue v && TryNumber(v, out double d) ? (float)d : throw Bad(field, n, "a number");
    }

    public static bool Bool(JsonObject o, string field)
    {
        var n = Node(o, field);
        return n is JsonValue v && v.TryGetValue(out bool b) ? b : throw Bad(field, n, "true or false");
    }

    public static string String(JsonObject o, string field)
    {
        var n = Node(o, field);
        return n is JsonValue v && v.TryGetValue(out string? s) ? s : throw Bad(field, n, "a string");
    }

    public static string? OptionalString(JsonObject o, string field) => o[field] is null ? null : String(o, field);

    public static T Enum<T>(JsonObject o, string field) where T : struct, System.Enum
    {
        string s = String(o, field);
        return System.Enum.TryParse<T>(s, ignoreCase: false, out var value) && System.Enum.IsDefined(value) ? value
            : throw new FormatException($"field '{field}' is '{s}'; expected one of: {string.Join(", ", System.Enum.GetNames<T>())}.");
    }

    public static JsonArray Array(JsonObject o, string field)
    {
        var n = Node(o, field);
        return n as JsonArray ?? throw Bad(field, n, "an array");
    }

    public static JsonObject Object(JsonObject o, string field)
    {
        var n = Node(o, field);
        return n as JsonObject ?? throw Bad(field, n, "an object");
    }

    public static int[] IntArray(JsonObject o, string field) => Ints(Array(o, field), field);

    public static int[] Ints(JsonArray a, string field) => a.Select((n, i) => AsInt(n, $"{field}[{i}]")).ToArray();

    /// <summary>A (height, width) pair written as [h, w] (or one number for both).</summary>
    public static (int, int) Pair(JsonObject o, string field)
    {
        var n = Node(o, field);
        if (n is JsonArray a)
            return a.Count == 2 ? (AsInt(a[0], $"{field}[0]"), AsInt(a[1], $"{field}[1]")) : throw Bad(field, n, "two numbers [height, width]");
        int both = AsInt(n, field);
        return (both, both);
    }

    private static int AsInt(JsonNode? n, string field)
    {
        if (n is JsonValue v && v.TryGetValue(out int i)) return i;
        return n is JsonValue w && TryNumber(w, out double d) && d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue ? (int)d
            : throw Bad(field, n, "an integer");
    }

    // A configuration built in memory (Layer.GetConfig) holds CLR floats and ints, one read from a file holds JSON
    // elements; TryGetValue converts only to the type it holds, so try the ones a number can come as.
    private static bool TryNumber(JsonValue v, out double d)
    {
        if (v.GetValueKind() != JsonValueKind.Number) { d = 0; return false; }
        if (v.TryGetValue(out d)) return true;
        if (v.TryGetValue(out float f)) { d = f; return true; }
        if (v.TryGetValue(out long l)) { d = l; return true; }
        if (v.TryGetValue(out int i)) { d = i; return true; }
        return false;
    }

    private static FormatException Bad(string field, JsonNode? found, string expected) =>
        new($"field '{field}' is {found?.ToJsonString() ?? "null"}; expected {expected}.");
}
