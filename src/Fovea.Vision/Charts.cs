using System.Globalization;
using Fovea.Training;
using ScottPlot;
using SkiaSharp;

namespace Fovea.Vision;

/// <summary>A class and its probability, as shown in the top-k table.</summary>
/// <param name="ClassIndex">Class index (index into the model's output).</param>
/// <param name="ClassName">Class name (or the index as text); "output channel i" when the outputs are not class scores.</param>
/// <param name="Probability">Softmax probability in [0, 1]; NaN when the outputs are not class scores (see <see cref="NetworkVisualizer.HasClassScores"/>).</param>
/// <param name="Score">The raw output (logit) behind it.</param>
public sealed record ClassProbability(int ClassIndex, string ClassName, float Probability, float Score = float.NaN);

/// <summary>Training and evaluation charts: loss and accuracy per epoch (ScottPlot), the confusion matrix, top-k bars.</summary>
public static partial class Charts
{
    internal static Plot NewPlot()
    {
        var plot = new Plot();
        plot.Font.Set("DejaVu Sans");
        return plot;
    }

    internal static Picture ToPicture(Plot plot, string name, string title, int width, int height, string? caption = null) =>
        Picture.FromEncoded(name, title, plot.GetImageBytes(width, height, ImageFormat.Png), caption);

    /// <summary>Loss per epoch: training (blue) and, when present, validation (orange). Name "loss".</summary>
    public static Picture Loss(IReadOnlyList<EpochMetrics> epochs, int width = 640, int height = 400) =>
        PerEpoch(epochs, "loss", "Loss per epoch", "cross-entropy loss", e => e.Loss, e => e.ValidationLoss, percent: false, width, height);

    /// <summary>Accuracy per epoch (percent): training and, when present, validation. Name "accuracy".</summary>
    public static Picture Accuracy(IReadOnlyList<EpochMetrics> epochs, int width = 640, int height = 400) =>
        PerEpoch(epochs, "accuracy", "Accuracy per epoch", "accuracy (%)", e => e.Accuracy, e => e.ValidationAccuracy, percent: true, width, height);

    private static Picture PerEpoch(IReadOnlyList<EpochMetrics> epochs, string name, string title, string yLabel,
        Func<EpochMetrics, double> train, Func<EpochMetrics, double?> validation, bool percent, int width, int height)
    {
        if (epochs.Count == 0) throw new ArgumentException("The training history has no epochs to chart.");
        double k = percent ? 100 : 1;
        var plot = NewPlot();
        var xs = epochs.Select(e => (double)e.Epoch).ToArray();
        var t = plot.Add.Scatter(xs, epochs.Select(e => train(e) * k).ToArray(), Colors.SteelBlue);
        t.LegendText = "train"; t.LineWidth = 2; t.MarkerSize = 7;
        if (epochs.All(e => validation(e) is not null))
        {
            var v = plot.Add.Scatter(xs, epochs.Select(e => validation(e)!.Value * k).ToArray(), Colors.DarkOrange);
            v.LegendText = "validation"; v.LineWidth = 2; v.MarkerSize = 7; v.LinePattern = LinePattern.Dashed;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        if (epochs.Count == 1) plot.Axes.SetLimitsX(0.5, 1.5);
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel(yLabel);
        plot.ShowLegend(percent ? Alignment.LowerRight : Alignment.UpperRight);
        var last = epochs[^1];
        string summary = $"Last epoch: train {Format(train(last) * k, percent)}" + (validation(last) is double val ? $", validation {Format(val * k, percent)}" : "");
        return ToPicture(plot, name, title, width, height, summary);
    }

    private static string Format(double v, bool percent) => percent ? $"{v:F2} %" : v.ToString("F4", CultureInfo.InvariantCulture);

    /// <summary>
    /// The confusion matrix as a coloured grid (rows: true class, columns: predicted); each cell is shaded by the fraction
    /// of its row and shows its count while cells are large enough to read (up to about 40 classes), with per-class
    /// recall on the right and, below, the most frequent confusions as text. Name "confusion".
    /// </summary>
    public static Picture ConfusionMatrix(ConfusionMatrix m, string? title = null)
    {
        int n = m.Classes;
        // Cells of 10 to 64 pixels, and below 10 (to a fraction of a pixel) past 400 classes, so that the grid stays within
        // 4000 pixels a side: at 10 pixels, 5,000 classes asked for a 50,000 x 50,000 picture, which cannot be drawn.
        const int maxGrid = 4000;
        float cell = n * 10 <= maxGrid ? Math.Clamp(560 / n, 10, 64) : (float)maxGrid / n;
        bool tiny = cell < 10; // no frames, and empty cells left to the white background
        bool counts = cell >= 22, labelEvery = cell >= 14;
        float labelSize = Math.Min(12, cell * 0.8f);
        // Names longer than their column are shortened with an ellipsis, never cut by the picture's edge.
        const float maxNameWidth = 170;
        var rowNames = m.ClassNames.Select((c, i) => FitText($"{i} {c}", maxNameWidth, labelSize)).ToArray();
        float nameWidth = rowNames.Max(t => Drawing.TextWidth(t, labelSize)) + 12;
        title ??= $"Confusion matrix — {m.Total:N0} images, accuracy {m.Accuracy:P2}";
        var confusions = MostConfused(m, 8);
        float left = nameWidth + 30, top = 74, gridW = n * cell, listTop = top + n * cell + 120;
        int width = (int)Math.Max(left + gridW + 90, Math.Max(Drawing.TextWidth(title, 15, bold: true), 430) + 24);
        int height = (int)(listTop + (confusions.Count > 0 ? 24 + 16 * confusions.Count : 0) + 10);
        var image = Drawing.Render(width, height, canvas =>
        {
            Drawing.Text(canvas, title, 10, 22, 15, Drawing.Ink, bold: true);
            Drawing.Text(canvas, "rows: true class · columns: predicted · shade: fraction of the row", 10, 40, 11, Drawing.Muted);
            Drawing.Text(canvas, "predicted →", left, top - 8, 11, Drawing.Muted);
            Drawing.Text(canvas, "recall", left + gridW + 10, top - 8, 11, Drawing.Muted);
            for (int i = 0; i < n; i++)
            {
                long row = 0;
                for (int j = 0; j < n; j++) row += m.Counts[i, j];
                float midY = top + i * cell + cell / 2f + labelSize / 3;
                Drawing.Text(canvas, rowNames[i], left - 8, midY, labelSize, Drawing.Ink, align: SKTextAlign.Right);
                for (int j = 0; j < n; j++)
                {
                    float frac = row == 0 ? 0 : (float)m.Counts[i, j] / row;
                    if (tiny && i != j && m.Counts[i, j] == 0) continue;
                    var bg = i == j ? Blend(new SKColor(0xf4, 0xf8, 0xf4), new SKColor(0x1b, 0x7a, 0x3a), frac)
                                    : Blend(SKColors.White, new SKColor(0xc0, 0x39, 0x2b), Math.Min(1, frac * 3));
                    var rect = SKRect.Create(left + j * cell, top + i * cell, cell, cell);
                    Drawing.Fill(canvas, rect, bg);
                    if (!tiny) Drawing.Frame(canvas, rect, new SKColor(0xdd, 0xdd, 0xdd));
                    if (counts && m.Counts[i, j] != 0)
                        Drawing.Text(canvas, m.Counts[i, j].ToString(CultureInfo.InvariantCulture), rect.MidX, rect.MidY + 4, Math.Min(12, cell / 3.2f), Drawing.TextOn(bg), align: SKTextAlign.Center);
                }
                if (labelEvery || i % 5 == 0) Drawing.Text(canvas, $"{m.Recall(i):P1}", left + gridW + 10, midY, Math.Min(11, labelSize), Drawing.Ink);
            }
            for (int j = 0; j < n; j++)
            {
                if (!labelEvery && j % 5 != 0) continue; // slanted names of narrow columns would overlap
                canvas.Save();
                canvas.Translate(left + j * cell + cell / 2f + labelSize / 3, top + n * cell + 8);
                canvas.RotateDegrees(60);
                Drawing.Text(canvas, FitText($"{j} {m.ClassNames[j]}", 110, Math.Min(11, labelSize)), 0, 0, Math.Min(11, labelSize), Drawing.Ink);
                canvas.Restore();
            }
            if (confusions.Count == 0) return;
            Drawing.Text(canvas, "Most frequent confusions (true → predicted):", 10, listTop, 12, Drawing.Ink, bold: true);
            for (int k = 0; k < confusions.Count; k++)
            {
                var (t, p, c) = confusions[k];
                Drawing.Text(canvas, FitText($"{c:N0} × {m.ClassNames[t]} → {m.ClassNames[p]}", width - 30, 11), 18, listTop + 18 + 16 * k, 11, Drawing.Ink);
            }
        });
        return new Picture("confusion", title, image, "Diagonal (green): correct predictions; off-diagonal (red): which classes are confused with which.");
    }

    /// <summary>The <paramref name="count"/> largest off-diagonal cells: (true class, predicted class, images), largest first.</summary>
    internal static List<(int True, int Predicted, long Count)> MostConfused(ConfusionMatrix m, int count)
    {
        var cells = new List<(int, int, long)>();
        for (int i = 0; i < m.Classes; i++)
            for (int j = 0; j < m.Classes; j++)
                if (i != j && m.Counts[i, j] > 0) cells.Add((i, j, m.Counts[i, j]));
        return cells.OrderByDescending(c => c.Item3).ThenBy(c => c.Item1).ThenBy(c => c.Item2).Take(count).ToList();
    }

    /// <summary><paramref name="s"/>, shortened with an ellipsis until it is at most <paramref name="maxWidth"/> pixels wide.</summary>
    internal static string FitText(string s, float maxWidth, float size)
    {
        if (Drawing.TextWidth(s, size) <= maxWidth) return s;
        int keep = s.Length - 1;
        while (keep > 1 && Drawing.TextWidth(s[..keep] + "…", size) > maxWidth) keep--;
        return s[..keep] + "…";
    }

    private static SKColor Blend(SKColor a, SKColor b, float t) => new(
        (byte)(a.Red + (b.Red - a.Red) * t), (byte)(a.Green + (b.Green - a.Green) * t), (byte)(a.Blue + (b.Blue - a.Blue) * t));

    /// <summary>
    /// Horizontal bars of the top-k class probabilities, most likely on top. Name "predictions". With
    /// <paramref name="classScores"/> false (outputs that are not class scores) the bars show the raw values
    /// (<see cref="ClassProbability.Score"/>) of the largest outputs instead, under the name "outputs".
    /// </summary>
    public static Picture Predictions(IReadOnlyList<ClassProbability> top, int width = 640, int height = 0, bool classScores = true)
    {
        if (top.Count == 0) throw new ArgumentException("No predictions to chart.");
        height = height > 0 ? height : 120 + 36 * top.Count;
        var plot = NewPlot();
        double Length(ClassProbability p) => classScores ? p.Probability * 100 : p.Score;
        var bars = top.Select((p, i) => new Bar
        {
            Position = top.Count - 1 - i, Value = Length(p), FillColor = i == 0 ? Colors.SteelBlue : Colors.LightSteelBlue,
            Label = classScores ? $"{p.Probability:P1}" : GradCam.FormatValue(p.Score), Orientation = Orientation.Horizontal,
        }).ToArray();
        var plottable = plot.Add.Bars(bars);
        plottable.ValueLabelStyle.FontSize = 12;
        plot.Axes.Left.SetTicks(Enumerable.Range(0, top.Count).Select(i => (double)i).ToArray(),
            top.Select(p => p.ClassName).Reverse().ToArray());
        string title = classScores ? $"Top-{top.Count} predictions" : $"Largest {top.Count} outputs (raw values, not class probabilities)";
        if (classScores) plot.Axes.SetLimits(0, 118, -0.6, top.Count - 0.4);
        else
        {
            double lo = Math.Min(0, top.Min(Length)), hi = Math.Max(0, top.Max(Length)), pad = Math.Max(1e-6, (hi - lo) * 0.18);
            plot.Axes.SetLimits(lo - (lo < 0 ? pad : 0), hi + pad, -0.6, top.Count - 0.4);
        }
        plot.Title(title);
        // Class names in other scripts: an installed font that can write all of them (else DejaVu's empty boxes).
        string names = string.Concat(top.Select(p => p.ClassName));
        if (!Drawing.Covers(names) && Drawing.FallbackTypeface(names) is { } typeface) plot.Font.Set(typeface.FamilyName);
        plot.XLabel(classScores ? "probability (%)" : "output value");
        return classScores
            ? ToPicture(plot, "predictions", title, width, height, $"Most likely: {top[0].ClassName} ({top[0].Probability:P1}).")
            : ToPicture(plot, "outputs", title, width, height,
                $"The model's outputs are not class scores, so no probabilities: largest is {top[0].ClassName} ({GradCam.FormatValue(top[0].Score)}).");
    }
}
