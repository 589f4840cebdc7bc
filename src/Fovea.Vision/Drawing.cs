using SkiaSharp;

namespace Fovea.Vision;

/// <summary>Shared Skia helpers: fonts, text, colour-mapped tiles.</summary>
internal static class Drawing
{
    // Skia finds fonts under /usr/share/fonts; DejaVu Sans is there on Debian. Fall back to whatever is default.
    private static readonly Lazy<SKTypeface> s_sans = new(() =>
        SKTypeface.FromFamilyName("DejaVu Sans") is { } t && t.FamilyName.Length > 0 ? t : SKTypeface.Default);
    private static readonly Lazy<SKTypeface> s_bold = new(() =>
        SKTypeface.FromFamilyName("DejaVu Sans", SKFontStyle.Bold) is { } t && t.FamilyName.Length > 0 ? t : s_sans.Value);

    public static SKFont Font(float size, bool bold = false) => new(bold ? s_bold.Value : s_sans.Value, size) { Subpixel = true };

    // Typefaces found for texts DejaVu cannot write (class names in Chinese, Japanese, ...); null: none installed.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, SKTypeface?> s_fallbacks = new();

    /// <summary>True when DejaVu Sans has every character of <paramref name="text"/>.</summary>
    public static bool Covers(string text)
    {
        using var font = Font(12);
        return font.ContainsGlyphs(text);
    }

    /// <summary>
    /// The font for <paramref name="text"/>: DejaVu Sans, or, when it lacks a character of the text, an installed
    /// typeface that has every character of it (e.g. WenQuanYi Micro Hei for a class name like "0 猫"); DejaVu when none has.
    /// </summary>
    public static SKFont FontFor(string text, float size, bool bold = false)
    {
        var font = Font(size, bold);
        if (font.ContainsGlyphs(text) || FallbackTypeface(text) is not { } fallback) return font;
        font.Dispose();
        return new SKFont(fallback, size) { Subpixel = true, Embolden = bold };
    }

    /// <summary>The first installed family (in the font manager's order) that can write all of <paramref name="text"/>, or null.</summary>
    // Skia's dependency-free Linux build cannot match characters to fonts itself (MatchCharacter gives null): each family is asked.
    public static SKTypeface? FallbackTypeface(string text)
    {
        if (s_fallbacks.Count > 4096) s_fallbacks.Clear(); // an app drawing endless distinct titles keeps a bounded cache
        return s_fallbacks.GetOrAdd(text, FindFallback);
    }

    // One typeface per installed family, kept for the process (never disposed: Skia may hand out shared instances).
    private static readonly Lazy<SKTypeface[]> s_families = new(() =>
        SKFontManager.Default.FontFamilies.Select(f => SKTypeface.FromFamilyName(f)).Where(t => t is not null).ToArray());

    private static SKTypeface? FindFallback(string text)
    {
        foreach (var typeface in s_families.Value)
        {
            using var font = new SKFont(typeface, 12);
            if (font.ContainsGlyphs(text)) return typeface;
        }
        return null;
    }

    public static readonly SKColor Background = new(0xff, 0xff, 0xff);
    public static readonly SKColor Ink = new(0x22, 0x22, 0x22);
    public static readonly SKColor Muted = new(0x66, 0x66, 0x66);

    public static void Text(SKCanvas canvas, string text, float x, float y, float size, SKColor color, bool bold = false, SKTextAlign align = SKTextAlign.Left)
    {
        using var font = FontFor(text, size, bold);
        using var paint = new SKPaint { Color = color, IsAntialias = true };
        canvas.DrawText(text, x, y, align, font, paint);
    }

    public static float TextWidth(string text, float size, bool bold = false)
    {
        using var font = FontFor(text, size, bold);
        return font.MeasureText(text);
    }

    /// <summary>Creates a white raster surface, lets <paramref name="draw"/> paint on it, and returns the snapshot.</summary>
    public static SKImage Render(int width, int height, Action<SKCanvas> draw)
    {
        using var surface = SKSurface.Create(new SKImageInfo(Math.Max(1, width), Math.Max(1, height), SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException($"Could not create a {width}×{height} drawing surface.");
        surface.Canvas.Clear(Background);
        draw(surface.Canvas);
        surface.Canvas.Flush();
        return surface.Snapshot();
    }

    /// <summary>
    /// The whole-number enlargement that makes an h×w map's short side at least <paramref name="minSide"/> pixels, held
    /// back so its long side stays within <paramref name="maxSide"/> (a 5×300 strip would otherwise be 13,500 pixels
    /// wide); never below 1.
    /// </summary>
    public static int Enlargement(int h, int w, int minSide, int maxSide = 1024) =>
        Math.Max(1, Math.Min((int)Math.Ceiling((double)minSide / Math.Min(h, w)), maxSide / Math.Max(h, w)));

    /// <summary>A bitmap of <paramref name="h"/>×<paramref name="w"/> pixels coloured by <paramref name="color"/>(y, x).</summary>
    public static SKBitmap Pixels(int h, int w, Func<int, int, SKColor> color)
    {
        var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
        var px = bitmap.GetPixelSpan();
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                var c = color(y, x);
                int o = 4 * (y * w + x);
                px[o] = c.Red; px[o + 1] = c.Green; px[o + 2] = c.Blue; px[o + 3] = 255;
            }
        return bitmap;
    }

    /// <summary>
    /// Side-by-side panels of pw×ph pixels starting at (gap, top), each framed and labelled beneath, smoothed where
    /// <paramref name="smooth"/> says; returns their rectangles (for marks drawn on top).
    /// </summary>
    public static SKRect[] PanelRow(SKCanvas canvas, IReadOnlyList<(SKBitmap Bitmap, string Label)> panels, float top, int pw, int ph, int gap, Func<int, bool> smooth)
    {
        var rects = new SKRect[panels.Count];
        for (int i = 0; i < panels.Count; i++)
        {
            var rect = rects[i] = SKRect.Create(gap + i * (pw + gap), top, pw, ph);
            Blit(canvas, panels[i].Bitmap, rect, smooth(i));
            Frame(canvas, rect, Muted);
            Text(canvas, panels[i].Label, rect.Left, rect.Bottom + 20, 13, Muted);
        }
        return rects;
    }

    /// <summary>Draws <paramref name="bitmap"/> scaled into <paramref name="dest"/> with nearest-neighbour sampling (pixels stay crisp).</summary>
    public static void Blit(SKCanvas canvas, SKBitmap bitmap, SKRect dest, bool smooth = false)
    {
        using var image = SKImage.FromBitmap(bitmap);
        var sampling = smooth ? new SKSamplingOptions(SKFilterMode.Linear) : new SKSamplingOptions(SKFilterMode.Nearest);
        canvas.DrawImage(image, dest, sampling);
    }

    public static void Frame(SKCanvas canvas, SKRect rect, SKColor color, float width = 1)
    {
        using var paint = new SKPaint { Color = color, Style = SKPaintStyle.Stroke, StrokeWidth = width, IsAntialias = false };
        canvas.DrawRect(rect, paint);
    }

    public static void Fill(SKCanvas canvas, SKRect rect, SKColor color)
    {
        using var paint = new SKPaint { Color = color, Style = SKPaintStyle.Fill };
        canvas.DrawRect(rect, paint);
    }

    /// <summary>Black or white, whichever reads better on <paramref name="background"/>.</summary>
    public static SKColor TextOn(SKColor background) =>
        0.299 * background.Red + 0.587 * background.Green + 0.114 * background.Blue > 140 ? SKColors.Black : SKColors.White;

    /// <summary>Compact number for tile labels: 3 significant digits (0.0123, 12.3, 1.23e3), so hand-checked sums agree.</summary>
    public static string Number(float v)
    {
        float a = Math.Abs(v);
        if (a == 0) return "0";
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        if (a >= 999.5f || a < 0.001f) return v.ToString("0.00e0", invariant);
        int decimals = Math.Clamp(2 - (int)Math.Floor(Math.Log10(a)), 0, 5);
        return v.ToString("F" + decimals, invariant);
    }

    public static string Shape(IReadOnlyList<int> shape) => "[" + string.Join("×", shape) + "]";
}
