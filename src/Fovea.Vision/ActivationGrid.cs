using Fovea.Tensors;
using SkiaSharp;

namespace Fovea.Vision;

/// <summary>Options of <see cref="ActivationGrid.Render"/>. Defaults: tiles 48–112 px, all channels, each tile scaled to its own range.</summary>
public sealed record ActivationGridOptions
{
    /// <summary>Smallest tile side in pixels; small maps are enlarged (nearest neighbour) up to it. Default 48.</summary>
    public int MinTile { get; init; } = 48;
    /// <summary>Largest tile side in pixels; big maps are shrunk to it. Default 112.</summary>
    public int MaxTile { get; init; } = 112;
    /// <summary>At most this many channels are drawn (the first ones); default: all.</summary>
    public int MaxChannels { get; init; } = int.MaxValue;
    /// <summary>Scale every tile to the layer's overall min..max instead of its own (compares channel strengths). Default false.</summary>
    public bool SharedScale { get; init; }
    /// <summary>Target width of the grid in pixels (sets the number of columns). Default 1200.</summary>
    public int TargetWidth { get; init; } = 1200;
}

/// <summary>
/// Draws a layer's activations [C, H, W] as a grid: one viridis tile per channel (dark = low, yellow = high) with the
/// channel index above it, under a header naming the layer and its output shape. Flat outputs [C] and 1×1 maps
/// [C, 1, 1] (e.g. global pooling) are drawn as one tile per channel on one colour scale, with the value printed.
/// </summary>
public static class ActivationGrid
{
    /// <summary>Renders <paramref name="activation"/> ([C, H, W], [1, C, H, W], [C] or [1, C]) of the layer <paramref name="layerName"/>.</summary>
    public static Picture Render(string layerName, string layerType, Tensor activation, ActivationGridOptions? options = null)
    {
        options ??= new ActivationGridOptions();
        var shape = activation.Shape.Length is 4 or 2 && activation.Dim(0) == 1 ? activation.Shape[1..] : activation.Shape;
        int c, h, w;
        if (shape.Length == 3) (c, h, w) = (shape[0], shape[1], shape[2]);
        else if (shape.Length == 1) (c, h, w) = (shape[0], 1, 1);
        else throw new ArgumentException($"Activation maps need [C, H, W] or [C] per image; layer '{layerName}' gives {Tensor.ShapeToString(shape)}.");
        var values = activation.Span;
        int shown = Math.Min(c, Math.Max(1, options.MaxChannels));
        int plane = h * w;
        bool flat = plane == 1; // a 1×1 map has no range of its own: one scale for the layer, value printed
        bool shared = options.SharedScale || flat;

        // Tile size: an integer enlargement of small maps (crisp pixels), or a shrink of big ones.
        int side = Math.Max(h, w);
        int tile = side >= options.MinTile ? Math.Min(side, options.MaxTile) : side * (int)Math.Ceiling((double)options.MinTile / side);
        if (flat) tile = 40;
        // A long thin map ([5, 300]) keeps a readable short side, widening up to the picture's width.
        float scale = (float)tile / side;
        scale = Math.Max(scale, Math.Min(16f / Math.Min(h, w), options.TargetWidth / (float)w));
        float tw = scale * w, th = scale * h;
        int pad = 4, label = 14, header = 48;
        int cols = Math.Clamp((int)(options.TargetWidth / (tw + pad)), 1, shown);
        if (shown <= 16) cols = Math.Min(cols, (int)Math.Ceiling(Math.Sqrt(shown) * 1.5));
        int rows = (shown + cols - 1) / cols;
        float gMin = float.PositiveInfinity, gMax = float.NegativeInfinity;
        for (int i = 0; i < shown * plane; i++) { gMin = Math.Min(gMin, values[i]); gMax = Math.Max(gMax, values[i]); }
        var data = values[..(shown * plane)].ToArray();
        int dead = 0;
        for (int k = 0; k < shown; k++)
        {
            bool zero = true;
            for (int i = 0; i < plane && zero; i++) zero = data[k * plane + i] == 0;
            if (zero) dead++;
        }
        string title = $"{layerName} ({layerType}) → output {Drawing.Shape(shape)}";
        string note = (shown < c ? $"first {shown} of {c} channels; " : $"{c} channels; ") +
            (shared ? $"one colour scale {Drawing.Number(gMin)}..{Drawing.Number(gMax)}" : $"each tile scaled to its own range (layer range {Drawing.Number(gMin)}..{Drawing.Number(gMax)})") +
            (dead > 0 ? $"; {dead} all-zero" : "");
        int width = (int)Math.Ceiling(Math.Max(cols * (tw + pad) + pad + 8, Math.Max(Drawing.TextWidth(title, 15, bold: true), Drawing.TextWidth(note, 11)) + 2 * pad + 4));
        int height = (int)Math.Ceiling(header + rows * (th + label + pad) + pad);

        var image = Drawing.Render(width, height, canvas =>
        {
            for (int k = 0; k < shown; k++)
            {
                var map = data.AsSpan(k * plane, plane);
                float lo = shared ? gMin : float.PositiveInfinity, hi = shared ? gMax : float.NegativeInfinity;
                if (!shared) foreach (float v in map) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
                float range = hi - lo;
                int ko = k * plane;
                float x0 = pad + (k % cols) * (tw + pad), y0 = header + (k / cols) * (th + label + pad);
                Drawing.Text(canvas, k.ToString(), x0 + 1, y0 + 11, 10, Drawing.Muted);
                using var bmp = Drawing.Pixels(h, w, (y, x) =>
                    ColorMaps.Viridis(range > 0 ? (data[ko + y * w + x] - lo) / range : flat ? 0.5f : 0f));
                var rect = SKRect.Create(x0, y0 + label, tw, th);
                Drawing.Blit(canvas, bmp, rect, smooth: side > options.MaxTile);
                if (flat) // the value inside the tile, so long channel indices and values never overlap
                    Drawing.Text(canvas, Drawing.Number(data[k]), rect.MidX, rect.MidY + 3, 9, Drawing.TextOn(bmp.GetPixel(0, 0)), align: SKTextAlign.Center);
            }
            Drawing.Text(canvas, title, pad, 20, 15, Drawing.Ink, bold: true);
            Drawing.Text(canvas, note, pad, 38, 11, Drawing.Muted);
        });
        return new Picture($"act-{Picture.SafeName(layerName)}", $"Activations of {layerName} ({layerType}) {Drawing.Shape(shape)}", image,
            $"One tile per channel (index above), viridis colours: dark = low, yellow = high.");
    }

    /// <summary>
    /// The input as the network sees it ([C, H, W] or [1, C, H, W] after normalisation): 1 channel in grey, 3 as RGB, the
    /// values mapped from their min..max to black..white; enlarged so the short side is at least <paramref name="minSide"/> (the long side at most 1,024 pixels).
    /// </summary>
    public static Picture RenderInput(Tensor networkInput, int minSide = 224)
    {
        var t = networkInput.Rank == 4 ? networkInput.View(networkInput.Shape[1..]) : networkInput;
        int c = t.Dim(0), h = t.Dim(1), w = t.Dim(2);
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (float v in t.Span) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
        float range = hi - lo;
        var scaled = t.Clone();
        foreach (ref float v in scaled.Span) v = range > 0 ? (v - lo) / range : 0.5f;
        if (c != 1 && c != 3) scaled = Tensor.FromArray(scaled.Span[..(h * w)], 1, h, w);
        int scale = Drawing.Enlargement(h, w, minSide);
        using var bmp = GradCam.ImageBitmap(scaled);
        string title = $"Input as the network sees it {Drawing.Shape(t.Shape)}", note = $"values {Drawing.Number(lo)}..{Drawing.Number(hi)} shown as black..white";
        int width = (int)Math.Ceiling(Math.Max(w * scale, Math.Max(Drawing.TextWidth(title, 14, bold: true), Drawing.TextWidth(note, 11)) + 4)) + 16;
        var image = Drawing.Render(width, h * scale + 64, canvas =>
        {
            Drawing.Text(canvas, title, 8, 20, 14, Drawing.Ink, bold: true);
            Drawing.Text(canvas, note, 8, 38, 11, Drawing.Muted);
            var rect = SKRect.Create(8, 48, w * scale, h * scale);
            Drawing.Blit(canvas, bmp, rect);
            Drawing.Frame(canvas, rect, Drawing.Muted);
        });
        return new Picture("input", $"Input {Drawing.Shape(t.Shape)} after resize and normalisation", image,
            c == 3 ? "RGB channels after the model's normalisation, rescaled to 0..255 together." : "After the model's normalisation, rescaled to 0..255.");
    }
}
