namespace Fovea.Training;

/// <summary>Classification metrics over score rows [N, classes] (logits or probabilities).</summary>
public static class Metrics
{
    /// <summary>Index of the largest score in each row.</summary>
    public static int[] ArgMax(ReadOnlySpan<float> scores, int classes)
    {
        int rows = scores.Length / classes;
        var result = new int[rows];
        for (int i = 0; i < rows; i++)
            result[i] = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(scores.Slice(i * classes, classes));
        return result;
    }

    /// <summary>Number of rows whose label is among the k highest scores.</summary>
    public static int TopKCorrect(ReadOnlySpan<float> scores, int classes, ReadOnlySpan<int> labels, int k)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be at least 1. Received: k={k}.");
        int correct = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            var row = scores.Slice(i * classes, classes);
            float target = row[labels[i]];
            int higher = 0;
            for (int j = 0; j < classes; j++)
                if (row[j] > target || (row[j] == target && j < labels[i])) higher++;
            if (higher < k) correct++;
        }
        return correct;
    }
}

/// <summary>Counts[true, predicted] over a data set, with accuracy and per-class recall/precision.</summary>
public sealed class ConfusionMatrix
{
    /// <summary>Creates an empty matrix for <paramref name="classes"/> classes.</summary>
    public ConfusionMatrix(int classes, IReadOnlyList<string>? classNames = null)
    {
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, $"Need at least one class. Received: {classes}.");
        Counts = new long[classes, classes];
        ClassNames = classNames ?? Enumerable.Range(0, classes).Select(i => i.ToString()).ToArray();
    }

    /// <summary>Counts[true label, predicted label].</summary>
    public long[,] Counts { get; }
    /// <summary>Class names for display.</summary>
    public IReadOnlyList<string> ClassNames { get; }
    /// <summary>Number of classes.</summary>
    public int Classes => Counts.GetLength(0);
    /// <summary>Samples counted.</summary>
    public long Total { get; private set; }

    /// <summary>Adds one prediction.</summary>
    public void Add(int label, int predicted) { Counts[label, predicted]++; Total++; }

    /// <summary>Fraction of samples on the diagonal.</summary>
    public double Accuracy
    {
        get
        {
            long diag = 0;
            for (int i = 0; i < Classes; i++) diag += Counts[i, i];
            return Total == 0 ? 0 : (double)diag / Total;
        }
    }

    /// <summary>Fraction of class <paramref name="c"/> samples predicted as c.</summary>
    public double Recall(int c)
    {
        long row = 0;
        for (int j = 0; j < Classes; j++) row += Counts[c, j];
        return row == 0 ? 0 : (double)Counts[c, c] / row;
    }

    /// <summary>Fraction of predictions of class <paramref name="c"/> that are right.</summary>
    public double Precision(int c)
    {
        long col = 0;
        for (int i = 0; i < Classes; i++) col += Counts[i, c];
        return col == 0 ? 0 : (double)Counts[c, c] / col;
    }

    /// <summary>Rows as arrays (for JSON).</summary>
    public long[][] ToRows() => Enumerable.Range(0, Classes).Select(i => Enumerable.Range(0, Classes).Select(j => Counts[i, j]).ToArray()).ToArray();
}
