using System.Text.Json.Nodes;

namespace Fovea.Layers;

/// <summary>How a convolution or pooling window is padded: "valid" (none), "same" (output = ceil(input / stride),
/// extra padding at the bottom/right), or explicit top/left/bottom/right amounts.</summary>
public readonly record struct Padding(PaddingMode Mode, int Top = 0, int Left = 0, int Bottom = 0, int Right = 0)
{
    /// <summary>No padding.</summary>
    public static Padding Valid => new(PaddingMode.Valid);

    /// <summary>Pad so output size = ceil(input / stride).</summary>
    public static Padding Same => new(PaddingMode.Same);

    /// <summary>The same explicit amount on all four sides.</summary>
    public static Padding Of(int all) => Of(all, all, all, all);

    /// <summary>Explicit amounts per side; each must be ≥ 0.</summary>
    public static Padding Of(int top, int left, int bottom, int right)
    {
        if (top < 0 || left < 0 || bottom < 0 || right < 0)
            throw new ArgumentException($"Padding must be non-negative. Received: top={top}, left={left}, bottom={bottom}, right={right}.");
        return new(PaddingMode.Explicit, top, left, bottom, right);
    }

    /// <summary>An int converts to explicit padding on all sides.</summary>
    public static implicit operator Padding(int all) => Of(all);

    /// <summary>Concrete (before, after) amounts for one axis.</summary>
    public (int Before, int After) Resolve(int input, int kernel, int stride, int dilation, bool vertical)
    {
        switch (Mode)
        {
            case PaddingMode.Valid: return (0, 0);
            case PaddingMode.Explicit: return vertical ? (Top, Bottom) : (Left, Right);
            default:
                int outSize = (input + stride - 1) / stride;
                int total = Math.Max(0, (outSize - 1) * stride + (kernel - 1) * dilation + 1 - input);
                return (total / 2, total - total / 2);
        }
    }

    internal JsonNode ToJson() => Mode switch
    {
        PaddingMode.Valid => JsonValue.Create("valid"),
        PaddingMode.Same => JsonValue.Create("same"),
        _ => new JsonArray(Top, Left, Bottom, Right),
    };

    internal static Padding FromJson(JsonNode? node)
    {
        if (node is JsonArray a && a.Count == 4)
        {
            var p = ConfigReader.Ints(a, "padding");
            return Of(p[0], p[1], p[2], p[3]);
        }
        string? mode = node is JsonValue v && v.TryGetValue(out string? s) ? s : null;
        return mode switch
        {
            "valid" => Valid,
            "same" => Same,
            _ => throw new FormatException($"field 'padding' is {node?.ToJsonString() ?? "missing"}; expected \"valid\", \"same\" or [top, left, bottom, right]."),
        };
    }

    /// <inheritdoc/>
    public override string ToString() => Mode == PaddingMode.Explicit ? $"({Top}, {Left}, {Bottom}, {Right})" : Mode.ToString().ToLowerInvariant();
}

/// <summary>Padding kinds.</summary>
public enum PaddingMode
{
    /// <summary>No padding.</summary>
    Valid,
    /// <summary>Output size = ceil(input / stride).</summary>
    Same,
    /// <summary>Given amounts per side.</summary>
    Explicit,
}
