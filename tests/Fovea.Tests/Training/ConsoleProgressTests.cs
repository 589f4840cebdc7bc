using System.Globalization;
using System.Text.RegularExpressions;
using Fovea.Training;

namespace Fovea.Tests.Training;

/// <summary>
/// The in-place progress bar of <see cref="ConsoleProgress"/>. Throughput and ETA come from the
/// <see cref="BatchProgress"/> handed in, so they are exact; only two things read the clock: the redraw throttle
/// (at most every 100 ms, the last batch always drawn) and the epoch line's "total" time, which is checked for its form only.
/// </summary>
public class ConsoleProgressTests
{
    // Run under a culture that writes "0,5" and "1.234": the lines must still use the invariant "0.5" and "1,234".
    private static string Run(Func<string> body)
    {
        var saved = CultureInfo.CurrentCulture;
        // Built by hand: the test host runs with invariant globalization, so named cultures are not available.
        var comma = (CultureInfo)CultureInfo.InvariantCulture.Clone();
        comma.NumberFormat.NumberDecimalSeparator = comma.NumberFormat.PercentDecimalSeparator = ",";
        comma.NumberFormat.NumberGroupSeparator = comma.NumberFormat.PercentGroupSeparator = ".";
        CultureInfo.CurrentCulture = comma;
        Assert.Equal("0,5", 0.5.ToString(CultureInfo.CurrentCulture));
        try { return body(); }
        finally { CultureInfo.CurrentCulture = saved; }
    }

    private static string Hashes(int filled) => new string('#', filled) + new string('.', 30 - filled);

    private static readonly Regex s_total = new(@"^\| total \d+:\d\d\r?\n$");

    [Fact]
    public void InteractiveRedrawsTheBarInPlaceThenWritesTheEpochLine()
    {
        var writer = new StringWriter();
        string output = Run(() =>
        {
            var progress = new ConsoleProgress(writer, interactive: true);
            progress.OnTrainBegin(null!);
            Thread.Sleep(150); // past the 100 ms throttle, so the mid-epoch batch is drawn
            progress.OnBatchEnd(null!, new BatchProgress(1, 3, 3, 10, 192, 640, 1.23456, 0.4, 1.5));
            progress.OnBatchEnd(null!, new BatchProgress(1, 3, 10, 10, 640, 640, 0.9, 0.625, 5.0));
            progress.OnEpochEnd(null!, new EpochMetrics(1, 0.9, 0.625, 0.8, 0.7, 0.002f, 5.0, 128.0));
            return writer.ToString();
        });

        // Batch 3 of 10: 30·3/10 = 9 of 30 cells; 192 images in 1.5 s = 128 img/s; (640 − 192)/128 = 3.5 s left → 0:03
        string mid = $"epoch 1/3 [{Hashes(9)}] 3/10 loss 1.2346 acc 40.0 % | 128 img/s | ETA 0:03";
        // Last batch: all 30 cells; 640 / 5 s = 128 img/s; nothing left → 0:00
        string last = $"epoch 1/3 [{Hashes(30)}] 10/10 loss 0.9000 acc 62.5 % | 128 img/s | ETA 0:00";
        // The bar is wiped (spaces over its width) before the epoch summary.
        string expected = "\r" + mid + "\r" + last.PadRight(mid.Length) + "\r" + new string(' ', last.Length) + "\r" +
                          "epoch 1: loss 0.9000 acc 62.50 % | val_loss 0.8000 val_acc 70.00 % | lr 0.002 | 5.0s, 128 img/s ";
        Assert.True(output.StartsWith(expected, StringComparison.Ordinal), $"progress output was:\n{output.Replace("\r", "<CR>")}");
        Assert.Matches(s_total, output[expected.Length..]);
    }

    [Fact]
    public void TheLastBatchIsAlwaysDrawnAndShortLinesCoverLongerOnes()
    {
        var writer = new StringWriter();
        string output = Run(() =>
        {
            var progress = new ConsoleProgress(writer, interactive: true);
            progress.OnTrainBegin(null!);
            Thread.Sleep(150);
            // 1 image in 1 s: 1 img/s; 9,999 images left = 9,999 s = 2·3600 + 46·60 + 39 → 2:46:39; 30·1/100 = 0 cells
            progress.OnBatchEnd(null!, new BatchProgress(2, 2, 1, 100, 1, 10_000, 12.5, 0.125, 1.0));
            // No sleep: the throttle would hold a middle batch back, but never the last one.
            progress.OnBatchEnd(null!, new BatchProgress(2, 2, 100, 100, 10_000, 10_000, 0.5, 0.5, 1000.0));
            return writer.ToString();
        });

        string first = $"epoch 2/2 [{Hashes(0)}] 1/100 loss 12.5000 acc 12.5 % | 1 img/s | ETA 2:46:39";
        // 10,000 in 1,000 s = 10 img/s
        string last = $"epoch 2/2 [{Hashes(30)}] 100/100 loss 0.5000 acc 50.0 % | 10 img/s | ETA 0:00";
        Assert.True(last.Length < first.Length, $"the test needs a shorter last line: {last.Length} vs {first.Length}");
        Assert.Equal("\r" + first + "\r" + last.PadRight(first.Length), output);
    }

    [Fact]
    public void NonInteractiveWritesOnlyTheEpochLines()
    {
        var writer = new StringWriter();
        string output = Run(() =>
        {
            var progress = new ConsoleProgress(writer, interactive: false);
            progress.OnTrainBegin(null!);
            Thread.Sleep(150);
            progress.OnBatchEnd(null!, new BatchProgress(1, 1, 4, 4, 256, 256, 0.3, 0.9, 2.0));
            progress.OnEpochEnd(null!, new EpochMetrics(1, 0.3, 0.9, null, null, 6.67e-7f, 2.0, 128.0));
            return writer.ToString();
        });
        const string expected = "epoch 1: loss 0.3000 acc 90.00 % | lr 6.67e-7 | 2.0s, 128 img/s ";
        Assert.True(output.StartsWith(expected, StringComparison.Ordinal), $"progress output was:\n{output.Replace("\r", "<CR>")}");
        Assert.DoesNotContain('\r', output.TrimEnd('\n', '\r'));
        Assert.Matches(s_total, output[expected.Length..]);
    }
}
