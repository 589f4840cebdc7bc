using Fovea.Data;
using Fovea.Tensors;
using Fovea.Training;
using SkiaSharp;

namespace Fovea.Vision;

/// <summary>
/// The worst mistakes of an evaluation as a picture: each wrong image with its true class, the class the model chose and
/// how sure it was. The most confident mistakes are where a mislabelled image or a blind spot of the model shows first.
/// </summary>
public static class MistakeGallery
{
    /// <summary>
    /// Draws <paramref name="mistakes"/> (from <see cref="Trainer.Evaluate"/> with mistakes &gt; 0) of <paramref name="data"/>,
    /// worst first; an <see cref="ImageFileDataset"/>'s tiles are also labelled with their file names. Images are drawn as
    /// the data set holds them ([0, 1], 1 or 3 channels).
    /// </summary>
    public static Picture Render(IDataset data, IReadOnlyList<Mistake> mistakes, string title = "The most confident mistakes")
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(mistakes);
        var shape = data.SampleShape;
        int h = shape[1], w = shape[2], count = mistakes.Count;
        int scale = Math.Max(1, Drawing.Enlargement(h, w, 96, 128));
        float tw = w * scale, th = h * scale;
        if (Math.Max(tw, th) > 128) { float f = 128f / Math.Max(tw, th); tw *= f; th *= f; } // large photos shrink
        int pad = 10, label = 44, header = 52;
        float tileWidth = Math.Max(tw, 150);
        int cols = Math.Clamp((int)(1200 / (tileWidth + pad)), 1, Math.Max(1, count));
        int rows = (count + cols - 1) / cols;
        var files = (data as ImageFileDataset)?.Files;
        if (files is not null) label += 14;
        var image = Drawing.Render(Math.Max(560, (int)(cols * (tileWidth + pad) + pad)), (int)(header + Math.Max(1, rows) * (th + label + pad) + pad), canvas =>
        {
            Drawing.Text(canvas, $"{title}: {count} image{(count == 1 ? "" : "s")}", pad, 22, 16, Drawing.Ink, bold: true);
            Drawing.Text(canvas, count == 0 ? "No mistakes: every image was classified correctly."
                : "Worst first: the lower the probability the model gave the true class, the more sure it was of the wrong one.", pad, 40, 11, Drawing.Muted);
            var pixels = new float[shape[0] * h * w];
            for (int k = 0; k < count; k++)
            {
                var m = mistakes[k];
                data.CopyImage(m.Index, pixels);
                using var bitmap = GradCam.ImageBitmap(Tensor.FromArray(pixels, shape));
                float x0 = pad + (k % cols) * (tileWidth + pad), y0 = header + (k / cols) * (th + label + pad);
                Drawing.Text(canvas, Fit($"{Percent(m.TrueProbability)} {Name(data, m.Label)}", tileWidth), x0, y0 + 12, 11, Drawing.Ink, bold: true);
                Drawing.Text(canvas, Fit($"{Percent(m.PredictedProbability)} {Name(data, m.Predicted)} (said)", tileWidth), x0, y0 + 27, 11, new SKColor(0xb0, 0x2a, 0x2a));
                Drawing.Text(canvas, Fit(files is not null ? Path.GetFileName(files[m.Index]) : $"#{m.Index}", tileWidth), x0, y0 + 41, 10, Drawing.Muted);
                var rect = SKRect.Create(x0, y0 + label, tw, th);
                Drawing.Blit(canvas, bitmap, rect, smooth: scale == 1 && Math.Max(h, w) > 128);
                Drawing.Frame(canvas, rect, new SKColor(0xbb, 0xbb, 0xbb));
            }
        });
        return new Picture("mistakes", title, image,
            "Each wrong image: the probability the model gave its true class (first line), the class it said instead with its probability (red), and its index or file. " +
            "A confident mistake on a clear image often means a wrong label.");
    }

    /// <summary>0.034 → "3%", 0.0004 → "0.04%": small probabilities keep two significant digits.</summary>
    private static string Percent(float p)
    {
        double v = p * 100.0;
        string text = v >= 1 || v == 0 ? v.ToString("0", System.Globalization.CultureInfo.InvariantCulture) : v.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);
        return (text == "0" && v > 0 ? "<0.01" : text) + "%";
    }

    private static string Name(IDataset data, int label) => label < data.ClassNames.Count ? data.ClassNames[label] : label.ToString();

    /// <summary>Shortened with an ellipsis to fit <paramref name="width"/> pixels at 11 px.</summary>
    private static string Fit(string text, float width)
    {
        if (Drawing.TextWidth(text, 11, bold: true) <= width) return text;
        while (text.Length > 1 && Drawing.TextWidth(text + "…", 11, bold: true) > width) text = text[..^1];
        return text + "…";
    }
}
