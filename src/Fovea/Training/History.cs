using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Fovea.Training;

/// <summary>Figures of one training epoch. Validation values are null without validation data.</summary>
public sealed record EpochMetrics(int Epoch, double Loss, double Accuracy, double? ValidationLoss, double? ValidationAccuracy,
    float LearningRate, double Seconds, double ImagesPerSecond)
{
    /// <summary>The value of a monitored quantity: "loss", "accuracy", "val_loss" or "val_accuracy". A validation metric of an
    /// epoch without validation throws <see cref="InvalidOperationException"/> rather than quietly giving the training value.</summary>
    public double Get(string monitor) => CheckMonitor(monitor) switch
    {
        "loss" => Loss,
        "accuracy" => Accuracy,
        "val_loss" => ValidationLoss ?? throw NoValidation(monitor),
        _ => ValidationAccuracy ?? throw NoValidation(monitor),
    };

    /// <summary>True when larger values of <paramref name="monitor"/> are better.</summary>
    public static bool HigherIsBetter(string monitor) => CheckMonitor(monitor).EndsWith("accuracy", StringComparison.Ordinal);

    /// <summary>Returns <paramref name="monitor"/> if it is one of the metrics <see cref="Get"/> knows; throws naming it otherwise.</summary>
    public static string CheckMonitor(string monitor, string paramName = "monitor")
    {
        ArgumentNullException.ThrowIfNull(monitor, paramName);
        return monitor is "loss" or "accuracy" or "val_loss" or "val_accuracy" ? monitor
            : throw new ArgumentException($"Unknown metric '{monitor}'. Expected loss, accuracy, val_loss or val_accuracy.", paramName);
    }

    /// <summary>True for the metrics that need validation data ("val_loss", "val_accuracy").</summary>
    internal static bool NeedsValidation(string monitor) => monitor.StartsWith("val_", StringComparison.Ordinal);

    private InvalidOperationException NoValidation(string monitor) =>
        new($"Metric '{monitor}' is not available for epoch {Epoch}: the run has no validation data.");
}

/// <summary>Loss and accuracy per epoch (train and validation), as written next to a trained model.</summary>
public sealed class History
{
    private readonly List<EpochMetrics> _epochs = new();

    /// <summary>One entry per finished epoch.</summary>
    public IReadOnlyList<EpochMetrics> Epochs => _epochs;

    internal void Add(EpochMetrics m) => _epochs.Add(m);

    /// <summary>
    /// A new history of this one's epochs followed by <paramref name="later"/>'s, numbered on from this one's last: e.g.
    /// 5 epochs of fine-tuning after 100 epochs of a top become epochs 101-105. Neither history changes.
    /// </summary>
    public History Concat(History later)
    {
        ArgumentNullException.ThrowIfNull(later);
        var result = new History();
        result._epochs.AddRange(_epochs);
        int offset = _epochs.Count == 0 ? 0 : _epochs[^1].Epoch;
        foreach (var e in later._epochs) result._epochs.Add(e with { Epoch = offset + e.Epoch });
        return result;
    }

    /// <summary>CSV with a header row: epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,images_per_second.</summary>
    public string ToCsv()
    {
        var sb = new StringBuilder("epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,images_per_second\n");
        foreach (var e in _epochs)
            sb.AppendLine(string.Join(',', new object?[] { e.Epoch, e.Loss, e.Accuracy, e.ValidationLoss, e.ValidationAccuracy, e.LearningRate, e.Seconds, e.ImagesPerSecond }
                .Select(v => v is null ? "" : Convert.ToString(v, CultureInfo.InvariantCulture))));
        return sb.ToString();
    }

    /// <summary>JSON array of epoch objects.</summary>
    public string ToJson() => JsonSerializer.Serialize(_epochs, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
}
