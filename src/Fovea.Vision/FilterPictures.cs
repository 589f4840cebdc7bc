using Fovea.Layers;
using SkiaSharp;

namespace Fovea.Vision;

/// <summary>Per-filter summary of a convolution's weights [filters, C/groups, kh, kw].</summary>
/// <param name="Filter">Filter index.</param>
/// <param name="Mean">Mean weight.</param>
/// <param name="Std">Standard deviation of the weights.</param>
/// <param name="Min">Smallest weight.</param>
/// <param name="Max">Largest weight.</param>
/// <param name="L2Norm">Euclidean norm of the filter.</param>
public sealed record FilterStatistics(int Filter, float Mean, float Std, float Min, float Max, float L2Norm);

/// <summary>Pictures of learned convolution weights.</summary>
public static class FilterPictures
{
    /// <summary>
    /// The filters of <paramref name="conv"/> as tiles, each enlarged to about 56 px. With 3 input channels a filter is an
    /// RGB tile (grey 128 = 0, each filter scaled to its largest |weight|); otherwise the channels are summed and drawn
    /// blue (negative) – white – red (positive).
    /// </summary>
    public static Picture RenderFilters(Conv2D conv)
    {
        var weight = conv.Weight;
        int f = weight.Dim(0), cin = weight.Dim(1), kh = weight.Dim(2), kw = weight.Dim(3), area = kh * kw;
        var wv = weight.ToArray();
        int scale = Math.Max(4, 56 / Math.Max(kh, kw));
        int tw = kw * scale, th = kh * scale, pad = 6, label = 14, header = 50;
        int cols = Math.Min(f, Math.Max(1, 1000 / (tw + pad)));
        if (f <= 64) cols = Math.Min(cols, 16);
        int rows = (f + cols - 1) / cols;
        bool rgb = cin == 3;
        var image = Drawing.Render(Math.Max(520, cols * (tw + pad) + pad), header + rows * (th + label + pad) + pad, canvas =>
        {
            Drawing.Text(canvas, $"Filters of {conv.Name}: {f} × {cin} × {kh}×{kw}", pad, 20, 15, Drawing.Ink, bold: true);
            Drawing.Text(canvas, rgb ? "RGB tiles: grey = 0, each filter scaled to its largest |weight|"
                                     : (cin == 1 ? "" : $"sum over {cin} input channels; ") + "blue = negative, white = 0, red = positive (per-filter scale)",
                pad, 38, 11, Drawing.Muted);
            for (int k = 0; k < f; k++)
            {
                var fw = wv.AsSpan(k * cin * area, cin * area).ToArray();
                float maxAbs = 1e-12f;
                foreach (float v in fw) maxAbs = Math.Max(maxAbs, Math.Abs(v));
                SKColor Color(int y, int x)
                {
                    int o = y * kw + x;
                    if (rgb)
                    {
                        byte Ch(int ch) => (byte)Math.Clamp((int)MathF.Round(127.5f + 127.5f * fw[ch * area + o] / maxAbs), 0, 255);
                        return new SKColor(Ch(0), Ch(1), Ch(2));
                    }
                    float s = 0, m = 0;
                    for (int ch = 0; ch < cin; ch++) s += fw[ch * area + o];
                    for (int i = 0; i < area; i++) { float t = 0; for (int ch = 0; ch < cin; ch++) t += fw[ch * area + i]; m = Math.Max(m, Math.Abs(t)); }
                    return ColorMaps.Diverging(m > 0 ? s / m : 0);
                }
                using var bmp = Drawing.Pixels(kh, kw, Color);
                float x0 = pad + (k % cols) * (tw + pad), y0 = header + (k / cols) * (th + label + pad);
                Drawing.Text(canvas, k.ToString(), x0, y0 + 11, 10, Drawing.Muted);
                var rect = SKRect.Create(x0, y0 + label, tw, th);
                Drawing.Blit(canvas, bmp, rect);
                Drawing.Frame(canvas, rect, new SKColor(0xbb, 0xbb, 0xbb));
            }
        });
        return new Picture($"filters-{Picture.SafeName(conv.Name)}", $"Learned filters of {conv.Name}", image,
            "Each tile is one k×k filter of the first convolution: the pattern it responds to most strongly.");
    }

    /// <summary>Mean, standard deviation, min, max and L2 norm of each filter of <paramref name="conv"/>.</summary>
    public static IReadOnlyList<FilterStatistics> Statistics(Conv2D conv)
    {
        var w = conv.Weight;
        int f = w.Dim(0), size = w.Length / f;
        var values = w.Span;
        var result = new FilterStatistics[f];
        for (int k = 0; k < f; k++)
        {
            var s = values.Slice(k * size, size);
            double sum = 0, sq = 0; float min = float.PositiveInfinity, max = float.NegativeInfinity;
            foreach (float v in s) { sum += v; sq += (double)v * v; min = Math.Min(min, v); max = Math.Max(max, v); }
            double mean = sum / size;
            result[k] = new FilterStatistics(k, (float)mean, (float)Math.Sqrt(Math.Max(0, sq / size - mean * mean)), min, max, (float)Math.Sqrt(sq));
        }
        return result;
    }

    /// <summary>
    /// Chart of <see cref="Statistics"/> per filter (x axis: filter index): a grey band from min to max, a blue band for
    /// mean ± std with the mean as a dark line, and the L2 norm as an orange line on its own scale (right axis). Filters
    /// whose norm is under 1% of the largest are counted as near zero in the title. Drawn with Skia directly: deep
    /// layers have hundreds of filters and ResNet-18 has 19 such charts, which a general plotting library draws slowly.
    /// </summary>
    public static Picture RenderStatistics(Conv2D conv, int width = 1000, int height = 300)
    {
        var stats = Statistics(conv);
        int f = stats.Count;
        float maxNorm = stats.Max(s => s.L2Norm);
        int dead = stats.Count(s => s.L2Norm < 0.01f * maxNorm);
        float lo = stats.Min(s => s.Min), hi = stats.Max(s => s.Max);
        float pad = (hi - lo) * 0.05f + 1e-6f; lo -= pad; hi += pad;
        float left = 64, right = width - 70, top = 56, bottom = height - 46;
        float X(float i) => left + (f == 1 ? 0.5f : i / (f - 1)) * (right - left);
        float Y(float v) => bottom - (v - lo) / (hi - lo) * (bottom - top);
        float N(float v) => bottom - v / (maxNorm * 1.05f + 1e-12f) * (bottom - top);
        var image = Drawing.Render(width, height, canvas =>
        {
            Drawing.Text(canvas, $"{conv.Name}: weights per filter ({f} filters of {conv.Weight.Length / f} weights){(dead > 0 ? $", {dead} near zero" : "")}", left, 22, 14, Drawing.Ink, bold: true);
            Drawing.Text(canvas, "grey: min..max · blue: mean ± std · dark line: mean · orange: L2 norm (right axis)", left, 40, 11, Drawing.Muted);
            Drawing.Frame(canvas, new SKRect(left, top, right, bottom), Drawing.Muted);
            using var grid = new SKPaint { Color = new SKColor(0xe6, 0xe6, 0xe6), StrokeWidth = 1 };
            for (int t = 0; t <= 4; t++)
            {
                float v = lo + (hi - lo) * t / 4, y = Y(v);
                canvas.DrawLine(left, y, right, y, grid);
                Drawing.Text(canvas, Drawing.Number(v), left - 6, y + 4, 10, Drawing.Muted, align: SKTextAlign.Right);
                Drawing.Text(canvas, Drawing.Number(maxNorm * 1.05f * t / 4), right + 6, N(maxNorm * 1.05f * t / 4) + 4, 10, new SKColor(0xd2, 0x69, 0x1e));
            }
            int step = Math.Max(1, (int)Math.Pow(2, Math.Ceiling(Math.Log2(Math.Max(1, f / 16.0)))));
            for (int i = 0; i < f; i += step) Drawing.Text(canvas, i.ToString(), X(i), bottom + 16, 10, Drawing.Muted, align: SKTextAlign.Center);
            Drawing.Text(canvas, "filter", (left + right) / 2, bottom + 34, 11, Drawing.Ink, align: SKTextAlign.Center);
            void Band(Func<FilterStatistics, float> a, Func<FilterStatistics, float> b, SKColor color)
            {
                using var path = new SKPath();
                path.MoveTo(X(0), Y(a(stats[0])));
                for (int i = 1; i < f; i++) path.LineTo(X(i), Y(a(stats[i])));
                for (int i = f - 1; i >= 0; i--) path.LineTo(X(i), Y(b(stats[i])));
                path.Close();
                using var paint = new SKPaint { Color = color, Style = SKPaintStyle.StrokeAndFill, StrokeWidth = f == 1 ? 6 : 1, IsAntialias = true };
                canvas.DrawPath(path, paint);
            }
            void Line(Func<int, float> y, SKColor color, float w)
            {
                using var path = new SKPath();
                path.MoveTo(X(0), y(0));
                for (int i = 1; i < f; i++) path.LineTo(X(i), y(i));
                using var paint = new SKPaint { Color = color, Style = SKPaintStyle.Stroke, StrokeWidth = w, IsAntialias = true };
                canvas.DrawPath(path, paint);
            }
            Band(s => s.Min, s => s.Max, new SKColor(0x99, 0x99, 0x99, 0x70));
            Band(s => s.Mean - s.Std, s => s.Mean + s.Std, new SKColor(0x46, 0x82, 0xb4, 0xc0));
            Line(i => Y(stats[i].Mean), new SKColor(0x1f, 0x2f, 0x5f), 1);
            Line(i => N(stats[i].L2Norm), new SKColor(0xff, 0x8c, 0x00), 1.5f);
        });
        return new Picture($"weights-{Picture.SafeName(conv.Name)}", $"Per-filter weight statistics of {conv.Name}", image,
            "For each filter: the range of its weights (grey band), mean ± standard deviation (blue band) and its L2 norm (orange). Near-zero norms are filters that died.");
    }
}
