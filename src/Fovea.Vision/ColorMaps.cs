using SkiaSharp;

namespace Fovea.Vision;

/// <summary>
/// Colour maps used by the pictures. <see cref="Viridis"/> (dark purple → yellow) is perceptually uniform and readable
/// in grey print, so activation maps use it; <see cref="Heat"/> (blue → red) is the usual Grad-CAM look;
/// <see cref="Diverging"/> (blue → white → red) shows signed weights.
/// </summary>
public static class ColorMaps
{
    // Nine evenly spaced stops of the viridis map (t = 0, 1/8, ..., 1), interpolated linearly in between.
    private static readonly (byte R, byte G, byte B)[] s_viridis =
    [
        (0x44, 0x01, 0x54), (0x48, 0x28, 0x78), (0x3e, 0x49, 0x89), (0x31, 0x68, 0x8e), (0x26, 0x82, 0x8e),
        (0x1f, 0x9e, 0x89), (0x35, 0xb7, 0x79), (0x6e, 0xce, 0x58), (0xfd, 0xe7, 0x25),
    ];

    private static readonly (byte R, byte G, byte B)[] s_heat =
    [
        (0x00, 0x00, 0x8f), (0x00, 0x40, 0xff), (0x00, 0xc0, 0xff), (0x40, 0xff, 0xbf), (0xbf, 0xff, 0x40),
        (0xff, 0xc0, 0x00), (0xff, 0x40, 0x00), (0x8f, 0x00, 0x00),
    ];

    /// <summary>Viridis colour of <paramref name="t"/> in [0, 1] (clamped; NaN is black).</summary>
    public static SKColor Viridis(float t) => Lookup(s_viridis, t);

    /// <summary>Blue (0) → cyan → green → yellow → red (1), like the classic "jet" map; clamped.</summary>
    public static SKColor Heat(float t) => Lookup(s_heat, t);

    /// <summary>Blue for −1, white for 0, red for +1 (clamped).</summary>
    public static SKColor Diverging(float t)
    {
        if (float.IsNaN(t)) return SKColors.Black;
        t = Math.Clamp(t, -1f, 1f);
        byte fade = (byte)Math.Round(255 * (1 - Math.Abs(t)));
        return t >= 0 ? new SKColor(255, fade, fade) : new SKColor(fade, fade, 255);
    }

    private static SKColor Lookup((byte R, byte G, byte B)[] stops, float t)
    {
        if (float.IsNaN(t)) return SKColors.Black;
        float x = Math.Clamp(t, 0f, 1f) * (stops.Length - 1);
        int i = Math.Min((int)x, stops.Length - 2);
        float f = x - i;
        var (a, b) = (stops[i], stops[i + 1]);
        return new SKColor(Mix(a.R, b.R, f), Mix(a.G, b.G, f), Mix(a.B, b.B, f));
    }

    private static byte Mix(byte a, byte b, float f) => (byte)Math.Round(a + (b - a) * f);
}
