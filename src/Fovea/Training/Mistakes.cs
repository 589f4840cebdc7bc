namespace Fovea.Training;

/// <summary>A sample the model got wrong, as <see cref="Trainer.Evaluate"/> reports the worst of them.</summary>
/// <param name="Index">Position of the sample in the evaluated data set.</param>
/// <param name="Label">Its true class.</param>
/// <param name="Predicted">The class the model chose.</param>
/// <param name="TrueProbability">The probability the model gave the true class (the lower, the worse the mistake).</param>
/// <param name="PredictedProbability">The probability of the class it chose.</param>
public sealed record Mistake(int Index, int Label, int Predicted, float TrueProbability, float PredictedProbability);

/// <summary>
/// Keeps the <c>capacity</c> wrong predictions with the lowest probability of the true class seen so far: the most
/// confident mistakes, which are where mislabelled data and the model's blind spots show.
/// </summary>
internal sealed class MistakeCollector(int capacity, bool outputsAreProbabilities)
{
    private readonly List<Mistake> _kept = [];

    /// <summary>Looks at one batch: <paramref name="outputs"/> [n, classes] (scores, or probabilities when the model gives them), its labels and first sample's index.</summary>
    public void Add(ReadOnlySpan<float> outputs, int classes, ReadOnlySpan<int> labels, ReadOnlySpan<int> predicted, int firstIndex)
    {
        if (capacity == 0) return;
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] == predicted[i]) continue;
            var row = outputs.Slice(i * classes, classes);
            float pTrue, pPredicted;
            if (outputsAreProbabilities) (pTrue, pPredicted) = (row[labels[i]], row[predicted[i]]);
            else
            {
                // Softmax of the scores, in double, for the two classes that matter.
                double max = double.NegativeInfinity, sum = 0;
                foreach (float v in row) max = Math.Max(max, v);
                foreach (float v in row) sum += Math.Exp(v - max);
                (pTrue, pPredicted) = ((float)(Math.Exp(row[labels[i]] - max) / sum), (float)(Math.Exp(row[predicted[i]] - max) / sum));
            }
            _kept.Add(new Mistake(firstIndex + i, labels[i], predicted[i], pTrue, pPredicted));
        }
        if (_kept.Count > 4 * capacity + 64) Trim();
    }

    /// <summary>The kept mistakes, worst first (ties: the earlier sample first).</summary>
    public IReadOnlyList<Mistake> Worst()
    {
        Trim();
        return _kept.ToArray();
    }

    private void Trim()
    {
        _kept.Sort((a, b) => a.TrueProbability != b.TrueProbability ? a.TrueProbability.CompareTo(b.TrueProbability) : a.Index.CompareTo(b.Index));
        if (_kept.Count > capacity) _kept.RemoveRange(capacity, _kept.Count - capacity);
    }
}
