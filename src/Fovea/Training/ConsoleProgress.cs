using System.Diagnostics;

namespace Fovea.Training;

/// <summary>
/// A progress bar on a text writer: batch position, running loss and accuracy, throughput (images/s) and ETA,
/// redrawn in place at most ten times a second; one summary line per epoch. When the writer is not a terminal,
/// only the epoch lines are written.
/// </summary>
public sealed class ConsoleProgress(TextWriter writer, bool interactive) : ITrainingCallback
{
    private readonly TextWriter _writer = writer ?? throw new ArgumentNullException(nameof(writer));
    private readonly Stopwatch _sinceDraw = Stopwatch.StartNew();
    private readonly Stopwatch _total = new();
    private int _lastWidth;

    /// <summary>Progress on standard error, interactive when it is a terminal.</summary>
    public static ConsoleProgress ForStandardError() => new(Console.Error, !Console.IsErrorRedirected);

    /// <inheritdoc/>
    public void OnTrainBegin(Trainer trainer) => _total.Restart();

    /// <inheritdoc/>
    public void OnBatchEnd(Trainer trainer, in BatchProgress p)
    {
        if (!interactive || (_sinceDraw.ElapsedMilliseconds < 100 && p.Batch != p.Batches)) return;
        _sinceDraw.Restart();
        double rate = p.SamplesDone / Math.Max(1e-9, p.ElapsedSeconds);
        double eta = (p.SamplesTotal - p.SamplesDone) / Math.Max(1e-9, rate);
        const int width = 30;
        int filled = (int)((long)width * p.Batch / Math.Max(1, p.Batches));
        // One culture for every number on the line (the learning rate is invariant too): "0.5", never "0,5" beside "0.002".
        string line = string.Create(Invariant, $"epoch {p.Epoch}/{p.Epochs} [{new string('#', filled)}{new string('.', width - filled)}] {p.Batch}/{p.Batches} ") +
                      string.Create(Invariant, $"loss {p.RunningLoss:F4} acc {p.RunningAccuracy:P1} | {rate:N0} img/s | ETA {FormatTime(eta)}");
        _writer.Write("\r" + line.PadRight(_lastWidth));
        _lastWidth = line.Length;
        _writer.Flush();
    }

    /// <inheritdoc/>
    public void OnEpochEnd(Trainer trainer, EpochMetrics m)
    {
        if (interactive && _lastWidth > 0) _writer.Write("\r" + new string(' ', _lastWidth) + "\r");
        _lastWidth = 0;
        string val = m.ValidationLoss is null ? "" : string.Create(Invariant, $" | val_loss {m.ValidationLoss:F4} val_acc {m.ValidationAccuracy:P2}");
        _writer.WriteLine(string.Create(Invariant, $"epoch {m.Epoch}: loss {m.Loss:F4} acc {m.Accuracy:P2}{val} | lr {FormatRate(m.LearningRate)} | {m.Seconds:F1}s, {m.ImagesPerSecond:N0} img/s | total {FormatTime(_total.Elapsed.TotalSeconds)}"));
        _writer.Flush();
    }

    // 0.002, 0.00104, then 6.67e-7 near the end of a cosine schedule (not "6.67E-07" after "0.00104").
    internal static string FormatRate(float rate) => rate == 0 || Math.Abs(rate) >= 1e-3f
        ? rate.ToString("0.#####", Invariant)
        : rate.ToString("0.##e0", Invariant);

    private static readonly System.Globalization.CultureInfo Invariant = System.Globalization.CultureInfo.InvariantCulture;

    private static string FormatTime(double seconds) =>
        seconds >= 3600 ? TimeSpan.FromSeconds(seconds).ToString(@"h\:mm\:ss") : TimeSpan.FromSeconds(Math.Min(seconds, 359999)).ToString(@"m\:ss");
}
