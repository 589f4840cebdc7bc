using Fovea.Models;
using Fovea.Tensors;
using SkiaSharp;

namespace Fovea.Vision;

/// <summary>
/// An occlusion map: how much the class's log-probability fell when a patch of the image was covered.
/// </summary>
/// <param name="ClassIndex">Explained class (or output).</param>
/// <param name="ClassName">Its name.</param>
/// <param name="Probability">Its probability on the whole image (for outputs that are not class scores: the raw value).</param>
/// <param name="Patch">Side of the square patch in input pixels.</param>
/// <param name="Stride">Step between patch positions.</param>
/// <param name="Map">[H, W]: at each pixel, the mean fall of log p(class) over the patches that covered it (of the raw
/// output when it is no class score); negative where covering raised it (the pixel argued against the class).</param>
/// <param name="Peak">(Y, X) of the largest fall.</param>
/// <param name="LargestFall">The largest single patch's fall of log p: 2.3 means one patch cut the probability tenfold.</param>
/// <param name="ClassScores">False when the model's outputs are not class scores: then falls are of the raw output.</param>
public sealed record OcclusionResult(int ClassIndex, string ClassName, float Probability, int Patch, int Stride, float[,] Map,
    (int Y, int X) Peak, float LargestFall, bool ClassScores = true);

/// <summary>
/// Occlusion sensitivity (Zeiler and Fergus, 2014): cover one square patch of the image at a time with its mean colour,
/// run the model, and record how much the class's log-probability falls (log p, not p: a confident network's p stays near
/// 1 under most patches, while log p still shows which ones hurt). Needs no gradients and no convolution layer, so it
/// explains any model (a dense one, an imported one) and checks Grad-CAM from outside: where both point, the evidence
/// is there. Costs one batched inference per patch position (49 by default).
/// </summary>
public static class Occlusion
{
    /// <summary>
    /// The occlusion map of <paramref name="classIndex"/> (default: the predicted class) on <paramref name="image"/>
    /// [C, H, W] (or [1, C, H, W], values as the model takes them before its normalisation). <paramref name="patch"/>
    /// defaults to a quarter of the shorter side, <paramref name="stride"/> to half the patch.
    /// </summary>
    public static OcclusionResult Compute(Model model, Tensor image, int? classIndex = null, int? patch = null, int? stride = null, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(image);
        if (model.InputShape.Length != 3) throw new ArgumentException($"Occlusion needs an image input [C, H, W]; model '{model.Name}' takes {Drawing.Shape(model.InputShape)}.");
        var x = image.Rank == 3 ? image.View([1, .. image.Shape]) : image;
        if (x.Rank != 4 || x.Dim(0) != 1 || !x.Shape.AsSpan(1).SequenceEqual(model.InputShape))
            throw new ArgumentException($"Model '{model.Name}' expects one image {Tensor.ShapeToString(model.InputShape)}; received {Tensor.ShapeToString(image.Shape)}.");
        int c = model.InputShape[0], h = model.InputShape[1], w = model.InputShape[2], plane = h * w;
        int side = patch ?? Math.Max(1, (int)Math.Round(Math.Min(h, w) / 4.0));
        if (side < 1 || side > Math.Min(h, w)) throw new ArgumentException($"Patch must be 1..{Math.Min(h, w)} pixels (the shorter side of the input); received {side}.");
        int step = stride ?? Math.Max(1, side / 2);
        if (step < 1) throw new ArgumentException($"Stride must be at least 1; received {step}.");
        if (batchSize < 1) throw new ArgumentException($"Batch size must be at least 1; received {batchSize}.");

        bool classScores = NetworkVisualizer.HasClassScores(model);
        // Scores (the logits before a final Softmax), as Grad-CAM reads them. For class scores the measure is log p =
        // score − log Σ exp(scores), in double: a confident network's p rounds to 1 in float, its log-softmax does not.
        var engine = model.ToInference(NetworkVisualizer.ScoreNode(model));
        var original = x.ToArray();
        var baselineScores = engine.Predict(Tensor.FromArray(original, x.Shape)).ToArray();
        int outputs = baselineScores.Length;
        int cls = classIndex ?? Array.IndexOf(baselineScores, baselineScores.Max());
        if ((uint)cls >= (uint)outputs) throw new ArgumentException($"Class {cls} is out of range: model '{model.Name}' has {outputs} outputs (0..{outputs - 1}).");
        double Measure(ReadOnlySpan<float> scores)
        {
            if (!classScores) return scores[cls];
            double max = double.NegativeInfinity, sum = 0;
            foreach (float v in scores) max = Math.Max(max, v);
            foreach (float v in scores) sum += Math.Exp(v - max);
            return scores[cls] - max - Math.Log(sum);
        }
        double baseline = Measure(baselineScores);

        var fill = new float[c];
        for (int ch = 0; ch < c; ch++) fill[ch] = (float)original.AsSpan(ch * plane, plane).ToArray().Average();
        var ys = Positions(h, side, step);
        var xs = Positions(w, side, step);
        var positions = ys.SelectMany(py => xs.Select(px => (py, px))).ToArray();
        var falls = new float[positions.Length];
        for (int first = 0; first < positions.Length; first += batchSize)
        {
            int n = Math.Min(batchSize, positions.Length - first);
            var batch = new float[n * original.Length];
            for (int b = 0; b < n; b++)
            {
                var copy = batch.AsSpan(b * original.Length, original.Length);
                original.CopyTo(copy);
                var (py, px) = positions[first + b];
                for (int ch = 0; ch < c; ch++)
                    for (int y = py; y < py + side; y++) copy.Slice(ch * plane + y * w + px, side).Fill(fill[ch]);
            }
            var scores = engine.Predict(Tensor.FromArray(batch, [n, c, h, w])).Span;
            for (int b = 0; b < n; b++) falls[first + b] = (float)(baseline - Measure(scores.Slice(b * outputs, outputs)));
        }

        var sum = new float[h, w];
        var count = new int[h, w];
        for (int i = 0; i < positions.Length; i++)
        {
            var (py, px) = positions[i];
            for (int y = py; y < py + side; y++)
                for (int xx = px; xx < px + side; xx++) { sum[y, xx] += falls[i]; count[y, xx]++; }
        }
        var map = new float[h, w];
        (int Y, int X) peak = (0, 0);
        for (int y = 0; y < h; y++)
            for (int xx = 0; xx < w; xx++)
            {
                map[y, xx] = count[y, xx] > 0 ? sum[y, xx] / count[y, xx] : 0;
                if (map[y, xx] > map[peak.Y, peak.X]) peak = (y, xx);
            }
        return new OcclusionResult(cls, GradCam.ClassName(model, cls), classScores ? (float)Math.Exp(baseline) : baselineScores[cls], side, step, map, peak, falls.Max(), classScores);
    }

    /// <summary>Patch starts 0, stride, ... with the last one flush with the far edge, so every pixel is covered.</summary>
    private static int[] Positions(int size, int patch, int stride)
    {
        var starts = new List<int>();
        for (int p = 0; p + patch < size; p += stride) starts.Add(p);
        starts.Add(size - patch);
        return starts.Distinct().ToArray();
    }

    /// <summary>
    /// The map over the input (<paramref name="input"/> [C, H, W] in [0, 1]) beside the plain map and the input: red where
    /// covering the image lowered the class's log-probability, blue where it raised it, on a scale symmetric about zero.
    /// </summary>
    public static Picture Render(OcclusionResult result, Tensor input, int minSide = 224)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(input);
        int h = result.Map.GetLength(0), w = result.Map.GetLength(1);
        float range = 1e-6f;
        foreach (float v in result.Map) range = Math.Max(range, Math.Abs(v));
        SKColor Tint(int y, int x) => ColorMaps.Diverging(result.Map[y, x] / range);
        int scale = Drawing.Enlargement(h, w, minSide);
        int pw = w * scale, ph = h * scale, gap = 16, top = 44, bottom = 30;
        using var rgb = GradCam.ImageBitmap(input);
        using var heat = Drawing.Pixels(h, w, Tint);
        using var overlay = Drawing.Pixels(h, w, (y, x) =>
        {
            var p = rgb.GetPixel(x, y);
            var q = Tint(y, x);
            float a = 0.2f + 0.5f * Math.Abs(result.Map[y, x]) / range;
            return new SKColor((byte)(p.Red * (1 - a) + q.Red * a), (byte)(p.Green * (1 - a) + q.Green * a), (byte)(p.Blue * (1 - a) + q.Blue * a));
        });
        string what = result.ClassScores ? $"log p(\"{result.ClassName}\") (p = {result.Probability:P1})" : $"{result.ClassName} (value {GradCam.FormatValue(result.Probability)})";
        string title = $"Occlusion: how {what} falls when a {result.Patch}×{result.Patch} patch is covered";
        int width = Math.Max(3 * pw + 4 * gap, (int)Drawing.TextWidth(title, 16, bold: true) + 4 * gap);
        var image = Drawing.Render(width, ph + top + bottom, canvas =>
        {
            Drawing.Text(canvas, title, gap, 26, 16, Drawing.Ink, bold: true);
            Drawing.PanelRow(canvas, [(rgb, "input"), (heat, $"fall (red) / rise (blue), ±{GradCam.FormatValue(range)}"), (overlay, "overlay")],
                top, pw, ph, gap, _ => false);
        });
        return new Picture($"occlusion-{Picture.SafeName(result.ClassName)}", $"Occlusion: {result.ClassName}", image,
            $"Each place covered by a {result.Patch}×{result.Patch} patch of the image's mean colour (every {result.Stride} pixels): red where that lowered " +
            $"{(result.ClassScores ? "the class's log-probability" : "the output")}, blue where it raised it. The largest fall from one patch: " +
            (result.ClassScores
                ? $"{GradCam.FormatValue(result.LargestFall)} in log p (p {result.Probability:P1} → {result.Probability * MathF.Exp(-result.LargestFall):P1})."
                : $"{GradCam.FormatValue(result.LargestFall)}."));
    }
}
