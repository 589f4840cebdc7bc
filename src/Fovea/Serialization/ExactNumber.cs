using System.Globalization;
using System.Text.Json.Nodes;
using Fovea.Layers;

namespace Fovea.Serialization;

/// <summary>
/// Numbers of a training state written as round-trip text: a resumed run must see the very bits it saved, and some values
/// (a best loss not yet seen is infinite) are beyond what JSON numbers can hold.
/// </summary>
internal static class ExactNumber
{
    public static JsonNode Text(double value) => JsonValue.Create(value.ToString("R", CultureInfo.InvariantCulture));

    public static JsonNode Text(float value) => JsonValue.Create(value.ToString("R", CultureInfo.InvariantCulture));

    /// <summary>The double written by <see cref="Text(double)"/> in <paramref name="field"/>; a <see cref="FormatException"/> names the field otherwise.</summary>
    public static double Double(JsonObject o, string field)
    {
        string text = ConfigReader.String(o, field);
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d
            : throw new FormatException($"field '{field}' is '{text}'; expected a number.");
    }

    public static double? OptionalDouble(JsonObject o, string field) => o[field] is null ? null : Double(o, field);

    public static float Float(JsonObject o, string field)
    {
        string text = ConfigReader.String(o, field);
        return float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float f) ? f
            : throw new FormatException($"field '{field}' is '{text}'; expected a number.");
    }
}
