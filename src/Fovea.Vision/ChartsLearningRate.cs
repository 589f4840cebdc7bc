using Fovea.Training;
using ScottPlot;

namespace Fovea.Vision;

public static partial class Charts
{
    /// <summary>
    /// The learning-rate range test: loss against rate (log scale), each step's loss faint and the smoothed curve strong,
    /// with the suggested rate marked. Name "lr-finder".
    /// </summary>
    public static Picture LearningRateFinder(LearningRateFinderResult result, int width = 640, int height = 400)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (result.Points.Count == 0) throw new ArgumentException("The learning-rate sweep has no steps to chart.");
        var plot = NewPlot();
        var xs = result.Points.Select(p => Math.Log10(p.LearningRate)).ToArray();
        var raw = plot.Add.Scatter(xs, result.Points.Select(p => p.Loss).ToArray(), Colors.SteelBlue.WithAlpha(0.35));
        raw.LegendText = "loss of each step"; raw.MarkerSize = 0; raw.LineWidth = 1;
        var smooth = plot.Add.Scatter(xs, result.Points.Select(p => p.SmoothedLoss).ToArray(), Colors.SteelBlue);
        smooth.LegendText = "smoothed"; smooth.MarkerSize = 0; smooth.LineWidth = 2;
        var line = plot.Add.VerticalLine(Math.Log10(result.SuggestedRate), 2, Colors.DarkOrange, LinePattern.Dashed);
        line.LegendText = $"suggested {result.SuggestedRate:G2}";
        // The blow-up at the end would squash the useful part: the y axis stops a little above the first losses.
        double low = result.Points.Min(p => p.SmoothedLoss), high = Math.Max(low * 1.1, result.Points.Take(5).Max(p => p.Loss) * 1.3);
        plot.Axes.SetLimitsY(Math.Max(0, low - 0.1 * (high - low)), high);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            IntegerTicksOnly = true,
            LabelFormatter = v => $"1e{v:0}",
        };
        plot.Title("Learning-rate range test");
        plot.XLabel("learning rate (log scale)");
        plot.YLabel("training loss");
        plot.ShowLegend(Alignment.UpperLeft);
        return ToPicture(plot, "lr-finder", "Learning-rate range test", width, height,
            $"Lowest smoothed loss at {result.MinimumLossRate:G2}; suggested rate {result.SuggestedRate:G2}, where it fell fastest" +
            (result.Diverged ? "; the sweep stopped where the loss blew up." : "."));
    }
}
