using Fovea.Data;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Training;

namespace Fovea.Tests.Training;

/// <summary>Evaluate and Predict over a data set stop between batches when their token is cancelled.</summary>
public class EvaluationCancellationTests
{
    /// <summary>1,000 samples; cancels the token when sample <c>cancelAt</c> is read, and counts the reads.</summary>
    private sealed class CancellingDataset(CancellationTokenSource source, int cancelAt) : IDataset
    {
        private int _reads;
        public int Reads => Volatile.Read(ref _reads);
        public int Count => 1000;
        public int[] SampleShape => [1, 2, 2];
        public IReadOnlyList<string> ClassNames => ["a", "b"];
        public int GetLabel(int index) => index % 2;
        public void CopyImage(int index, Span<float> destination)
        {
            Interlocked.Increment(ref _reads);
            if (index == cancelAt) source.Cancel();
            destination.Fill(index % 7 / 7f);
        }
    }

    private static Trainer Model() => new(new Sequential([1, 2, 2], seed: 1).Top(new Flatten(), new Dense(2)), new Sgd(0f));

    [Fact]
    public void A_cancelled_evaluation_stops_after_the_batch_in_hand()
    {
        using var source = new CancellationTokenSource();
        var data = new CancellingDataset(source, cancelAt: 150);
        Assert.ThrowsAny<OperationCanceledException>(() => Model().Evaluate(data, batchSize: 100, cancellation: source.Token));
        // Cancelled while batch 2 (100..199) was read: that batch is evaluated or not, and at most one more is read ahead.
        Assert.InRange(data.Reads, 200, 300);
    }

    [Fact]
    public void A_cancelled_prediction_stops_and_a_token_cancelled_before_reads_nothing_more_than_a_batch()
    {
        using var source = new CancellationTokenSource();
        var data = new CancellingDataset(source, cancelAt: 420);
        Assert.ThrowsAny<OperationCanceledException>(() => Model().Predict(data, batchSize: 100, cancellation: source.Token));
        Assert.InRange(data.Reads, 500, 600);

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var untouched = new CancellingDataset(cancelled, cancelAt: -1);
        Assert.ThrowsAny<OperationCanceledException>(() => Model().Evaluate(untouched, batchSize: 100, cancellation: cancelled.Token));
        Assert.InRange(untouched.Reads, 0, 200); // the loader may have read ahead one batch before the first check
    }
}
