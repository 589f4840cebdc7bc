using Fovea.Models;

namespace Fovea.Training;

public sealed partial class Trainer
{
    /// <summary>
    /// The samples one inference pass of <see cref="Evaluate"/> or <see cref="Predict"/> takes: <paramref name="requested"/>,
    /// or fewer when that many would not fit (see <see cref="InferenceBatchSize"/>).
    /// </summary>
    /// <returns>A batch size between 1 and <paramref name="requested"/>.</returns>
    public int EvaluationBatchSize(int requested, long? availableBytes = null, long reservedBytes = 0) =>
        InferenceBatchSize(Model, requested, availableBytes, reservedBytes);

    /// <summary>
    /// The samples one inference pass of <paramref name="model"/> may take: <paramref name="requested"/>, or fewer when that
    /// many would not fit. A pass holds a few layer outputs at once (measured: up to 4 times the largest per sample, for a
    /// network whose first layers keep the full resolution), counted here as 6 times the largest output or input, in
    /// float32; the batch is kept within half of <paramref name="availableBytes"/> (default: what the GC reports
    /// available) less <paramref name="reservedBytes"/> (memory already held, such as a training step's), and no layer
    /// output above <see cref="int.MaxValue"/> elements. Small inputs keep the requested batch (256 images of 224 x 224 in
    /// the 'compact' network: 9.9 GB by this count, 4.8 GB measured); 256 images of 1024 x 1024 would need far more than
    /// a machine has (32 of them took 17.8 GB in fovea predict), and a larger batch than fits in half of memory would not
    /// make the pass faster.
    /// </summary>
    /// <returns>A batch size between 1 and <paramref name="requested"/>.</returns>
    internal static int InferenceBatchSize(Model model, int requested, long? availableBytes = null, long reservedBytes = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (requested < 1) throw new ArgumentOutOfRangeException(nameof(requested), requested, $"Batch size must be at least 1. Received: {requested}.");
        long largest = model.Nodes.Select(n => Elements(n.OutputShape)).Append(Elements(model.InputShape)).Max();
        long fits = int.MaxValue / Math.Max(1, largest);
        long available = availableBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (available > 0) // else nothing is known about the limit
            fits = Math.Min(fits, (available / 2 - reservedBytes) / (6 * sizeof(float) * Math.Max(1, largest)));
        return (int)Math.Clamp(fits, 1, requested);
    }

    private static long Elements(int[] shape) => shape.Aggregate(1L, (a, d) => a * d);
}
