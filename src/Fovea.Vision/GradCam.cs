using Fovea.Layers;
using Fovea.Models;
using Fovea.Tensors;
using SkiaSharp;

namespace Fovea.Vision;

/// <summary>
/// A Grad-CAM heat map: which places of the image raised the score of one class.
/// <see cref="Map"/> is at the layer's resolution, <see cref="Upsampled"/> at the input's; both scaled to [0, 1].
/// </summary>
/// <param name="LayerName">Layer whose activations were weighted.</param>
/// <param name="ClassIndex">Explained class.</param>
/// <param name="ClassName">Its name (or index as text).</param>
/// <param name="Probability">Softmax probability of the class.</param>
/// <param name="Map">[h, w] map at the layer's resolution, max 1 (all zero when nothing raised the score).</param>
/// <param name="Upsampled">[H, W] map bilinearly resized to the input.</param>
/// <param name="Peak">(Y, X) of the largest value of <see cref="Upsampled"/>, in input pixels.</param>
/// <param name="Target">What was differentiated: the class score or log p(class).</param>
/// <param name="Strength">The largest value of the map before it was scaled to [0, 1] (0: nothing raised the score): compares the
/// evidence of classes explained on one image.</param>
/// <param name="ClassScores">False when the model's outputs are not class scores (see <see cref="NetworkVisualizer.HasClassScores"/>):
/// then <see cref="ClassName"/> names an output ("output channel 133"), <see cref="Probability"/> means nothing and the
/// pictures show <see cref="Value"/> instead.</param>
/// <param name="Value">The raw output (score) that was explained.</param>
public sealed record GradCamResult(string LayerName, int ClassIndex, string ClassName, float Probability, float[,] Map, float[,] Upsampled, (int Y, int X) Peak,
    GradCamTarget Target = GradCamTarget.Score, float Strength = 0, bool ClassScores = true, float Value = 0);

/// <summary>What Grad-CAM differentiates.</summary>
public enum GradCamTarget
{
    /// <summary>The class score (logit), as in the Grad-CAM paper.</summary>
    Score,
    /// <summary>
    /// log p(class): the score minus the probability-weighted scores of all classes, so features that raise every class
    /// alike (a shared background object, a bias) drop out and only what tells this class from the others remains.
    /// </summary>
    LogProbability,
}

/// <summary>
/// Grad-CAM (Selvaraju et al., 2017): the activations A[k] of a convolutional layer, weighted by the mean gradient of the
/// class score over each map, summed and clipped at zero: ReLU(Σₖ mean(∂score/∂A[k]) · A[k]).
/// </summary>
public static class GradCam
{
    private static readonly HashSet<string> s_blockTypes = ["BatchNorm2D", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Dropout", "Add"];

    /// <summary>
    /// The default layer to explain: the last Conv2D layer before the scores, followed through the layers that complete its
    /// block (BatchNorm, activation, residual Add — same shape, single consumer), as Grad-CAM is usually applied to a
    /// block's output. For ResNet-18 this is the last block's final ReLU.
    /// </summary>
    public static string DefaultLayer(Model model) =>
        FindDefaultLayer(model) ?? throw new ArgumentException($"Model '{model.Name}' has no convolution layer to explain with Grad-CAM.");

    /// <summary>As <see cref="DefaultLayer"/>, or null for a model without a convolution layer (a dense network).</summary>
    public static string? FindDefaultLayer(Model model)
    {
        var nodes = model.Nodes;
        int scoreIndex = model.Output.Index;
        var conv = nodes.Take(scoreIndex).LastOrDefault(n => n.Layer is Conv2D && n.OutputShape.Length == 3);
        if (conv is null) return null;
        var current = conv;
        while (true)
        {
            var consumers = nodes.Where(n => n.Index <= scoreIndex && n.InputIndices.Contains(current.Index)).ToList();
            if (consumers.Count != 1) break;
            var next = consumers[0];
            if (!s_blockTypes.Contains(next.Layer!.TypeName) || !next.OutputShape.AsSpan().SequenceEqual(current.OutputShape)) break;
            current = next;
        }
        return current.Name;
    }

    /// <summary>Grad-CAM of <paramref name="classIndex"/> (default: the predicted class) at <paramref name="layerName"/> (default: <see cref="DefaultLayer"/>).</summary>
    public static GradCamResult Compute(Model model, Tensor image, int? classIndex = null, string? layerName = null, GradCamTarget target = GradCamTarget.Score) =>
        Compute(NetworkTrace.Run(model, image), classIndex, layerName, target);

    /// <summary>Grad-CAM from an existing trace (reuses its forward pass).</summary>
    public static GradCamResult Compute(NetworkTrace trace, int? classIndex = null, string? layerName = null, GradCamTarget target = GradCamTarget.Score)
    {
        var model = trace.Model;
        var node = model.GetNode(layerName ?? DefaultLayer(model));
        if (node.OutputShape.Length != 3)
            throw new ArgumentException($"Grad-CAM needs a layer with [C, H, W] output; '{node.Name}' gives {Drawing.Shape(node.OutputShape)}.");
        var scores = trace.Scores;
        int cls = classIndex ?? Array.IndexOf(scores, scores.Max());
        var probabilities = Softmax(scores);
        Tensor gradient;
        if (target == GradCamTarget.Score) gradient = trace.GradientOfScore(node, cls);
        else
        {
            // d log p(c) / d scores = one-hot(c) − p: evidence shared by every class cancels out.
            var seed = probabilities.Select(p => -p).ToArray();
            seed[cls] += 1f;
            gradient = trace.GradientOfScores(node, seed);
        }
        var a = trace.Value(node).Span;
        var g = gradient.Span;
        int c = node.OutputShape[0], h = node.OutputShape[1], w = node.OutputShape[2], plane = h * w;

        var cam = new float[h, w];
        for (int k = 0; k < c; k++)
        {
            float weight = 0;
            for (int i = 0; i < plane; i++) weight += g[k * plane + i];
            weight /= plane;
            if (weight == 0) continue;
            for (int i = 0; i < plane; i++) cam[i / w, i % w] += weight * a[k * plane + i];
        }
        float max = 0;
        foreach (float v in cam) max = Math.Max(max, v);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) cam[y, x] = max > 0 ? Math.Max(0, cam[y, x]) / max : 0;

        int inH = model.InputShape[^2], inW = model.InputShape[^1];
        var up = Resize(cam, inH, inW);
        (int Y, int X) peak = (0, 0);
        for (int y = 0; y < inH; y++)
            for (int x = 0; x < inW; x++)
                if (up[y, x] > up[peak.Y, peak.X]) peak = (y, x);
        return new GradCamResult(node.Name, cls, ClassName(model, cls), probabilities[cls], cam, up, peak, target, max,
            NetworkVisualizer.HasClassScores(model), scores[cls]);
    }

    /// <summary>Bilinear resize with pixel centres aligned (half-pixel convention).</summary>
    public static float[,] Resize(float[,] map, int height, int width)
    {
        int h = map.GetLength(0), w = map.GetLength(1);
        var result = new float[height, width];
        for (int y = 0; y < height; y++)
        {
            float sy = Math.Clamp((y + 0.5f) * h / height - 0.5f, 0, h - 1);
            int y0 = (int)sy, y1 = Math.Min(y0 + 1, h - 1);
            float fy = sy - y0;
            for (int x = 0; x < width; x++)
            {
                float sx = Math.Clamp((x + 0.5f) * w / width - 0.5f, 0, w - 1);
                int x0 = (int)sx, x1 = Math.Min(x0 + 1, w - 1);
                float fx = sx - x0;
                result[y, x] = (1 - fy) * ((1 - fx) * map[y0, x0] + fx * map[y0, x1]) + fy * ((1 - fx) * map[y1, x0] + fx * map[y1, x1]);
            }
        }
        return result;
    }

    /// <summary>
    /// The heat map over the input image (<paramref name="input"/> [C, H, W] in [0, 1], 1 or 3 channels), enlarged so the
    /// short side is at least <paramref name="minSide"/> pixels (the long side at most 1,024), next to the plain heat map and the input, with the peak marked.
    /// With <paramref name="strongest"/> (the largest <see cref="GradCamResult.Strength"/> among maps shown together) the
    /// colours are on that common scale, so weak evidence for an unlikely class looks weak; else the map fills the scale.
    /// </summary>
    public static Picture Render(GradCamResult cam, Tensor input, int minSide = 224, float? strongest = null)
    {
        int h = cam.Upsampled.GetLength(0), w = cam.Upsampled.GetLength(1);
        float relative = strongest is > 0 ? Math.Clamp(cam.Strength / strongest.Value, 0, 1) : 1;
        float Heat(int y, int x) => relative * cam.Upsampled[y, x];
        int scale = Drawing.Enlargement(h, w, minSide);
        int pw = w * scale, ph = h * scale, gap = 16, top = 44, bottom = 30;
        using var rgb = ImageBitmap(input);
        using var heat = Drawing.Pixels(h, w, (y, x) => ColorMaps.Heat(Heat(y, x)));
        using var overlay = Drawing.Pixels(h, w, (y, x) =>
        {
            var p = rgb.GetPixel(x, y);
            var q = ColorMaps.Heat(Heat(y, x));
            float a = 0.25f + 0.45f * Heat(y, x); // stronger tint where the evidence is
            return new SKColor((byte)(p.Red * (1 - a) + q.Red * a), (byte)(p.Green * (1 - a) + q.Green * a), (byte)(p.Blue * (1 - a) + q.Blue * a));
        });
        string title = (cam.ClassScores
                ? $"Grad-CAM of {(cam.Target == GradCamTarget.Score ? "the score" : "log p")} for \"{cam.ClassName}\" (p = {cam.Probability:P1}) at layer {cam.LayerName}"
                : $"Grad-CAM of {(cam.Target == GradCamTarget.Score ? "" : "log-softmax of ")}{cam.ClassName} (value {FormatValue(cam.Value)}) at layer {cam.LayerName}") +
            (strongest is > 0 ? $" · peak {relative:P0} of the strongest map" : "");
        int width = Math.Max(3 * pw + 4 * gap, (int)Drawing.TextWidth(title, 16, bold: true) + 2 * gap);
        var image = Drawing.Render(width, ph + top + bottom, canvas =>
        {
            Drawing.Text(canvas, title, gap, 26, 16, Drawing.Ink, bold: true);
            var rects = Drawing.PanelRow(canvas, [(rgb, "input"), (heat, $"heat map ({cam.Map.GetLength(0)}×{cam.Map.GetLength(1)} → {h}×{w})"), (overlay, "overlay")],
                top, pw, ph, gap, i => i > 0 && scale > 1);
            using var marker = new SKPaint { Color = SKColors.White, Style = SKPaintStyle.Stroke, StrokeWidth = 2, IsAntialias = true };
            foreach (var rect in rects[1..])
                canvas.DrawCircle(rect.Left + (cam.Peak.X + 0.5f) * scale, rect.Top + (cam.Peak.Y + 0.5f) * scale, Math.Max(5, scale * 1.5f), marker);
        });
        string what = cam.ClassScores ? "this class's score" : "this output";
        string scaleNote = cam.Strength <= 0 ? $" Nothing in the image raised {what}: the map is empty."
            : strongest is > 0 ? $" Colours on one scale with the other maps shown: this map's peak is {relative:P0} of the strongest."
            : cam.Target == GradCamTarget.LogProbability && cam.ClassScores ? " Scaled to its own peak: it shows where this class differs from the others, not how likely it is (see p)." : "";
        return new Picture($"gradcam-{Picture.SafeName(cam.ClassName)}", $"Grad-CAM: {cam.ClassName} at {cam.LayerName}", image,
            $"Where the evidence for \"{cam.ClassName}\" lies: red = strongly raised {(cam.ClassScores ? "the class score" : "the output's value")}. Peak (circle) at x={cam.Peak.X}, y={cam.Peak.Y}.{scaleNote}");
    }

    /// <summary>An image tensor [C, H, W] (1 or 3 channels; other counts show channel 0) as an RGB bitmap, values clamped to [0, 1].</summary>
    internal static SKBitmap ImageBitmap(Tensor input)
    {
        var t = input.Rank == 4 ? input.View(input.Shape[1..]) : input;
        int c = t.Dim(0), h = t.Dim(1), w = t.Dim(2), plane = h * w;
        var s = t.ToArray();
        byte B(float v) => (byte)Math.Clamp((int)MathF.Round(v * 255), 0, 255);
        return Drawing.Pixels(h, w, (y, x) =>
        {
            int i = y * w + x;
            return c == 3 ? new SKColor(B(s[i]), B(s[plane + i]), B(s[2 * plane + i])) : new SKColor(B(s[i]), B(s[i]), B(s[i]));
        });
    }

    internal static float[] Softmax(float[] scores)
    {
        float max = scores.Max();
        var e = scores.Select(v => MathF.Exp(v - max)).ToArray();
        float sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    /// <summary>Output <paramref name="index"/> of the score vector: its class name, the index as text for an unnamed class, or
    /// for a model without class scores "output channel i" ([C, 1, 1] outputs), "output (c, y, x)" ([C, H, W]) or "output i".</summary>
    internal static string ClassName(Model model, int index)
    {
        if (NetworkVisualizer.HasClassScores(model)) return index < model.ClassNames.Count ? model.ClassNames[index] : index.ToString();
        var shape = NetworkVisualizer.ScoreShape(model);
        if (shape is [_, 1, 1]) return $"output channel {index}";
        if (shape is [_, int h, int w]) return $"output ({index / (h * w)}, {index / w % h}, {index % w})";
        return $"output {index}";
    }

    /// <summary>A raw output value for titles: four significant digits, invariant culture.</summary>
    internal static string FormatValue(float v) => v.ToString("G4", System.Globalization.CultureInfo.InvariantCulture);
}
