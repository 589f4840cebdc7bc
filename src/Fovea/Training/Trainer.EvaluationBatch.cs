namespace Fovea.Training;

public sealed partial class Trainer
{
    /// <summary>
    /// The samples one inference pass of <see cref="Evaluate"/> or <see cref="Predict"/> takes: <paramref name="requested"/>,
    /// or fewer when that many would not fit. A pass holds a few layer outputs at once (measured: under 3 times the largest
    /// per sample, plus the input), counted here as 4 times the largest output or input, in float32; the batch is kept
    /// within half of <paramref name="availableBytes"/> (default: what the GC reports available) less
    /// <paramref name="reservedBytes"/> (memory already held, such as a training step's), and no layer output above
    /// <see cref="int.MaxValue"/> elements. Small inputs keep the requested batch (256 images of 224 x 224 in a small CNN:
    /// 6.4 GB by this count, 4.8 GB measured); 256 images of 1024 x 1024 would need far more than a machine has, and a
    /// larger batch than fits in half of memory would not make an evaluation faster.
    /// </summary>
    /// <returns>A batch size between 1 and <paramref name="requested"/>.</returns>
    public int EvaluationBatchSize(int requested, long? availableBytes = null, long reservedBytes = 0)
    {
        if (requested < 1) throw new ArgumentOutOfRangeException(nameof(requested), requested, $"Batch size must be at least 1. Received: {requested}.");
        long largest = Model.Nodes.Select(n => Elements(n.OutputShape)).Append(Elements(Model.InputShape)).Max();
        long fits = int.MaxValue / Math.Max(1, largest);
        long available = availableBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (available > 0) // else nothing is known about the limit
            fits = Math.Min(fits, (available / 2 - reservedBytes) / (4 * sizeof(float) * Math.Max(1, largest)));
        return (int)Math.Clamp(fits, 1, requested);
    }

    private static long Elements(int[] shape) => shape.Aggregate(1L, (a, d) => a * d);
}
