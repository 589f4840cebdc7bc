using Fovea.Layers;
using ScottPlot;
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
    /// Chart of <see cref="Statistics"/> per filter: a grey bar from min to max, a blue bar for mean ± std, and the L2 norm
    /// as an orange line on the right axis. Filters whose norm is under 1% of the largest are counted as dead in the title.
    /// </summary>
    public static Picture RenderStatistics(Conv2D conv, int width = 1000, int height = 360)
    {
        var stats = Statistics(conv);
        float maxNorm = stats.Max(s => s.L2Norm);
        int dead = stats.Count(s => s.L2Norm < 0.01f * maxNorm);
        var plot = Charts.NewPlot();
        var xs = stats.Select(s => (double)s.Filter).ToArray();
        var range = plot.Add.Bars(stats.Select(s => new Bar { Position = s.Filter, ValueBase = s.Min, Value = s.Max, FillColor = Colors.Gray.WithAlpha(0.45), LineWidth = 0, Size = 0.8 }).ToArray());
        range.LegendText = "min..max";
        var spread = plot.Add.Bars(stats.Select(s => new Bar { Position = s.Filter, ValueBase = s.Mean - s.Std, Value = s.Mean + s.Std, FillColor = Colors.SteelBlue, LineWidth = 0, Size = 0.8 }).ToArray());
        spread.LegendText = "mean ± std";
        var norm = plot.Add.ScatterLine(xs, stats.Select(s => (double)s.L2Norm).ToArray(), Colors.DarkOrange);
        norm.LegendText = "L2 norm (right axis)";
        norm.LineWidth = 1.5f;
        norm.Axes.YAxis = plot.Axes.Right;
        plot.Axes.Right.Label.Text = "L2 norm";
        plot.Title($"{conv.Name}: weights per filter ({stats.Count} filters of {conv.Weight.Length / stats.Count} weights){(dead > 0 ? $", {dead} near zero" : "")}");
        plot.XLabel("filter");
        plot.YLabel("weight");
        plot.ShowLegend(Alignment.UpperRight);
        return Charts.ToPicture(plot, $"weights-{Picture.SafeName(conv.Name)}", $"Per-filter weight statistics of {conv.Name}", width, height,
            "For each filter: the range of its weights (grey), mean ± standard deviation (blue) and its L2 norm (orange). Near-zero norms are filters that died.");
    }
}
