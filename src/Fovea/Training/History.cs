using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Fovea.Training;

/// <summary>Figures of one training epoch. Validation values are null without validation data.</summary>
public sealed record EpochMetrics(int Epoch, double Loss, double Accuracy, double? ValidationLoss, double? ValidationAccuracy,
    float LearningRate, double Seconds, double ImagesPerSecond)
{
    /// <summary>The value of a monitored quantity: "loss", "accuracy", "val_loss" or "val_accuracy".</summary>
    public double Get(string monitor) => monitor switch
    {
        "loss" => Loss,
        "accuracy" => Accuracy,
        "val_loss" => ValidationLoss ?? Loss,
        "val_accuracy" => ValidationAccuracy ?? Accuracy,
        _ => throw new ArgumentException($"Unknown metric '{monitor}'. Expected loss, accuracy, val_loss or val_accuracy."),
    };

    /// <summary>True when larger values of <paramref name="monitor"/> are better.</summary>
    public static bool HigherIsBetter(string monitor) => monitor.EndsWith("accuracy", StringComparison.Ordinal);
}

/// <summary>Loss and accuracy per epoch (train and validation), as written next to a trained model.</summary>
public sealed class History
{
    private readonly List<EpochMetrics> _epochs = new();

    /// <summary>One entry per finished epoch.</summary>
    public IReadOnlyList<EpochMetrics> Epochs => _epochs;

    internal void Add(EpochMetrics m) => _epochs.Add(m);

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
