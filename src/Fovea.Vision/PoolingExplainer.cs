using Fovea.Layers;
using Fovea.Tensors;
using SkiaSharp;

namespace Fovea.Vision;

/// <summary>One pooled version of the explained map.</summary>
/// <param name="Label">E.g. "max 2×2, stride 2".</param>
/// <param name="Map">The pooled map [h, w].</param>
/// <param name="Crop">The part of <see cref="Map"/> computed only from the crop of the source map.</param>
public sealed record PooledMap(string Label, float[,] Map, float[,] Crop);

/// <summary>What <see cref="PoolingExplainer.Explain"/> computed: the source map, its crop, and four pooled versions.</summary>
/// <param name="Title">Where the map came from, e.g. "conv2d channel 5".</param>
/// <param name="Source">The activation map [H, W].</param>
/// <param name="CropY">Top of the crop in the source (even, so stride-2 windows line up with it).</param>
/// <param name="CropX">Left of the crop (even).</param>
/// <param name="Crop">The crop [n, n] (n = 6 unless the map is smaller).</param>
/// <param name="Pooled">Max and average pooling, window 2, at stride 1 and 2 (in that order: max s1, max s2, avg s1, avg s2).</param>
public sealed record PoolingExplanation(string Title, float[,] Source, int CropY, int CropX, float[,] Crop, IReadOnlyList<PooledMap> Pooled);

/// <summary>
/// Explains pooling on a real activation map: max and average pooling with a 2×2 window at stride 1 (overlapping windows,
/// size − 1) and stride 2 (halves the size), computed with Fovea's own MaxPool2D/AvgPool2D layers, drawn as maps and as
/// number tables of a small crop so each output cell can be checked by hand.
/// </summary>
public static class PoolingExplainer
{
    /// <summary>Pools <paramref name="map"/> [H, W] (both ≥ 2) and picks a crop of up to 6×6 around its largest value.</summary>
    public static PoolingExplanation Explain(float[,] map, string title)
    {
        int h = map.GetLength(0), w = map.GetLength(1);
        if (h < 2 || w < 2) throw new ArgumentException($"Pooling needs a map of at least 2×2; received {h}×{w}.");
        int n = Math.Min(6, Math.Min(h, w)) & ~1; // even, so stride-2 windows tile the crop exactly
        int py = 0, px = 0;
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) if (map[y, x] > map[py, px]) (py, px) = (y, x);
        int cy = Math.Clamp(py - n / 2, 0, h - n) & ~1, cx = Math.Clamp(px - n / 2, 0, w - n) & ~1;
        var crop = Slice(map, cy, cx, n, n);
        var input = new Tensor(1, 1, h, w);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) input[0, 0, y, x] = map[y, x];
        var pooled = new List<PooledMap>();
        foreach (var (kind, stride) in new[] { ("max", 1), ("max", 2), ("average", 1), ("average", 2) })
        {
            UnaryLayer layer = kind == "max" ? new MaxPool2D(2, stride) : new AvgPool2D(2, stride);
            layer.Build([[1, h, w]], new Random(0));
            var y = layer.Forward(input, training: false);
            int oh = y.Dim(2), ow = y.Dim(3);
            var m = new float[oh, ow];
            for (int i = 0; i < oh; i++) for (int j = 0; j < ow; j++) m[i, j] = y[0, 0, i, j];
            // Output cells whose windows lie inside the crop: rows cy/stride .. (cy + n - 2)/stride.
            int cn = (n - 2) / stride + 1;
            pooled.Add(new PooledMap($"{kind} 2×2, stride {stride}", m, Slice(m, cy / stride, cx / stride, cn, cn)));
        }
        return new PoolingExplanation(title, map, cy, cx, crop, pooled);
    }

    private static float[,] Slice(float[,] m, int y0, int x0, int h, int w)
    {
        var r = new float[h, w];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) r[y, x] = m[y0 + y, x0 + x];
        return r;
    }

    /// <summary>
    /// Draws the explanation: top row, the source map (crop outlined) and the four pooled maps at the same pixel scale with
    /// their sizes; bottom row, the crop's numbers and the numbers each pooling makes of them.
    /// </summary>
    public static Picture Render(PoolingExplanation e)
    {
        int h = e.Source.GetLength(0), w = e.Source.GetLength(1);
        int scale = Math.Max(2, 168 / Math.Max(h, w));
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (float v in e.Source) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
        float range = hi > lo ? hi - lo : 1;
        SKColor Color(float v) => ColorMaps.Viridis((v - lo) / range); // one scale for all panels: max can only raise, average only smooth
        int n = e.Crop.GetLength(0), cell = 54, gap = 26, top = 60;
        int panelW = Math.Max(w * scale, 150), mapsH = h * scale + 40;
        int tablesTop = top + mapsH + 44;
        int width = Math.Max(5 * (panelW + gap) + gap, 5 * (n * cell + gap) + gap);
        int height = tablesTop + n * cell + 70;
        var image = Drawing.Render(width, height, canvas =>
        {
            Drawing.Text(canvas, $"Pooling explained on {e.Title}: window 2×2 at stride 1 and stride 2", gap, 24, 16, Drawing.Ink, bold: true);
            Drawing.Text(canvas, "Max keeps the strongest response in each window; average smooths. Stride 1 overlaps windows (size − 1), stride 2 halves the size. One colour scale for all maps.",
                gap, 44, 11, Drawing.Muted);
            var maps = new List<(string Label, float[,] Map)> { ($"source {h}×{w}", e.Source) };
            maps.AddRange(e.Pooled.Select(p => ($"{p.Label} → {p.Map.GetLength(0)}×{p.Map.GetLength(1)}", p.Map)));
            for (int i = 0; i < maps.Count; i++)
            {
                var m = maps[i].Map;
                int mh = m.GetLength(0), mw = m.GetLength(1);
                float x0 = gap + i * (panelW + gap);
                using var bmp = Drawing.Pixels(mh, mw, (y, x) => Color(m[y, x]));
                var rect = SKRect.Create(x0, top, mw * scale, mh * scale);
                Drawing.Blit(canvas, bmp, rect);
                Drawing.Frame(canvas, rect, Drawing.Muted);
                int stride = i == 0 ? 1 : i is 1 or 3 ? 1 : 2;
                int cn = i == 0 ? n : (n - 2) / stride + 1;
                var cropRect = SKRect.Create(x0 + e.CropX / stride * scale, top + e.CropY / stride * scale, cn * scale, cn * scale);
                Drawing.Frame(canvas, cropRect, SKColors.Red, 2);
                Drawing.Text(canvas, maps[i].Label, x0, top + mh * scale + 18, 12, Drawing.Ink);
            }
            Drawing.Text(canvas, $"The red box: crop at rows {e.CropY}..{e.CropY + n - 1}, columns {e.CropX}..{e.CropX + n - 1}, and the outputs computed from it:",
                gap, tablesTop - 16, 12, Drawing.Ink, bold: true);
            var tables = new List<(string, float[,])> { ($"crop {n}×{n}", e.Crop) };
            tables.AddRange(e.Pooled.Select(p => (p.Label, p.Crop)));
            float tx = gap;
            foreach (var (label, t) in tables)
            {
                int th = t.GetLength(0), tw = t.GetLength(1);
                for (int y = 0; y < th; y++)
                    for (int x = 0; x < tw; x++)
                    {
                        var bg = Color(t[y, x]);
                        var rect = SKRect.Create(tx + x * cell, tablesTop + y * cell, cell, cell);
                        Drawing.Fill(canvas, rect, bg);
                        Drawing.Frame(canvas, rect, SKColors.White);
                        Drawing.Text(canvas, Drawing.Number(t[y, x]), rect.MidX, rect.MidY + 4, 11, Drawing.TextOn(bg), align: SKTextAlign.Center);
                    }
                Drawing.Text(canvas, label, tx, tablesTop + th * cell + 18, 12, Drawing.Ink);
                tx += n * cell + gap;
            }
        });
        return new Picture("pooling", $"Max and average pooling (2×2, stride 1 and 2) of {e.Title}", image,
            "Each pooled cell is the max (or mean) of the 2×2 window of the crop it covers; stride 1 windows overlap, stride 2 windows tile the map.");
    }
}
