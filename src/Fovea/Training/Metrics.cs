namespace Fovea.Training;

/// <summary>Classification metrics over score rows [N, classes] (logits or probabilities).</summary>
public static class Metrics
{
    /// <summary>Marks a row without a prediction in <see cref="ArgMax"/>: its scores hold NaN, so no class can be said to win.</summary>
    public const int NoPrediction = -1;

    /// <summary>Index of the largest score in each row, or <see cref="NoPrediction"/> for a row holding NaN
    /// (which therefore matches no label).</summary>
    public static int[] ArgMax(ReadOnlySpan<float> scores, int classes)
    {
        int rows = scores.Length / classes;
        var result = new int[rows];
        for (int i = 0; i < rows; i++)
        {
            var row = scores.Slice(i * classes, classes);
            // IndexOfMax returns the first NaN, which would make a NaN score "correct" whenever it sits at the label.
            result[i] = HasNaN(row)
                ? NoPrediction
                : System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row);
        }
        return result;
    }

    /// <summary>Number of rows whose label is among the k highest scores. A row holding NaN counts as wrong.</summary>
    public static int TopKCorrect(ReadOnlySpan<float> scores, int classes, ReadOnlySpan<int> labels, int k)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be at least 1. Received: k={k}.");
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, $"Need at least one class. Received: classes={classes}.");
        if (scores.Length < (long)labels.Length * classes)
            throw new ArgumentException($"{labels.Length} labels need {(long)labels.Length * classes} scores of {classes} classes; received {scores.Length}.", nameof(scores));
        int correct = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            int label = labels[i];
            if ((uint)label >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), label, $"Label {label} at row {i} is outside [0, {classes}).");
            var row = scores.Slice(i * classes, classes);
            // Comparisons with NaN are false, so a NaN would otherwise rank below nothing and count as correct.
            if (HasNaN(row)) continue;
            float target = row[label];
            int higher = 0;
            for (int j = 0; j < classes; j++)
                if (row[j] > target || (row[j] == target && j < label)) higher++;
            if (higher < k) correct++;
        }
        return correct;
    }

    private static bool HasNaN(ReadOnlySpan<float> row)
    {
        foreach (float v in row) if (float.IsNaN(v)) return true;
        return false;
    }
}

/// <summary>Counts[true, predicted] over a data set, with accuracy, per-class precision, recall and F1, and their balanced averages.</summary>
public sealed class ConfusionMatrix
{
    /// <summary>Creates an empty matrix for <paramref name="classes"/> classes.</summary>
    public ConfusionMatrix(int classes, IReadOnlyList<string>? classNames = null)
    {
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, $"Need at least one class. Received: {classes}.");
        if (classNames is not null && classNames.Count != classes)
            throw new ArgumentException($"{classNames.Count} class name(s) for {classes} classes; give one name per class or none.", nameof(classNames));
        Counts = new long[classes, classes];
        _unpredicted = new long[classes];
        ClassNames = classNames ?? Enumerable.Range(0, classes).Select(i => i.ToString()).ToArray();
    }

    private readonly long[] _unpredicted;

    /// <summary>Counts[true label, predicted label].</summary>
    public long[,] Counts { get; }
    /// <summary>Class names for display.</summary>
    public IReadOnlyList<string> ClassNames { get; }
    /// <summary>Number of classes.</summary>
    public int Classes => Counts.GetLength(0);
    /// <summary>Samples counted.</summary>
    public long Total { get; private set; }

    /// <summary>Samples whose scores held NaN (<see cref="Metrics.NoPrediction"/>): counted in <see cref="Total"/> as wrong, in no cell.</summary>
    public long Unpredicted { get; private set; }

    /// <summary>Adds one prediction; <paramref name="predicted"/> may be <see cref="Metrics.NoPrediction"/> (scores held NaN), which counts as wrong.</summary>
    public void Add(int label, int predicted)
    {
        if ((uint)label >= (uint)Classes)
            throw new ArgumentOutOfRangeException(nameof(label), label, $"Label {label} is outside [0, {Classes}).");
        if (predicted == Metrics.NoPrediction) { _unpredicted[label]++; Unpredicted++; Total++; return; }
        if ((uint)predicted >= (uint)Classes)
            throw new ArgumentOutOfRangeException(nameof(predicted), predicted, $"Predicted class {predicted} is outside [0, {Classes}).");
        Counts[label, predicted]++;
        Total++;
    }

    /// <summary>
    /// Adds <paramref name="count"/> predictions of <paramref name="predicted"/> for true class <paramref name="label"/> in one
    /// step (e.g. when reading a saved matrix). Throws when the count is negative or the total would overflow.
    /// </summary>
    public void Add(int label, int predicted, long count)
    {
        if ((uint)label >= (uint)Classes)
            throw new ArgumentOutOfRangeException(nameof(label), label, $"Label {label} is outside [0, {Classes}).");
        if ((uint)predicted >= (uint)Classes)
            throw new ArgumentOutOfRangeException(nameof(predicted), predicted, $"Predicted class {predicted} is outside [0, {Classes}).");
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, $"A count of predictions cannot be negative. Received: {count}.");
        long total = checked(Total + count); // throws OverflowException before anything changes
        Counts[label, predicted] += count;
        Total = total;
    }

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
        CheckClass(c);
        long row = _unpredicted[c];
        for (int j = 0; j < Classes; j++) row += Counts[c, j];
        return row == 0 ? 0 : (double)Counts[c, c] / row;
    }

    /// <summary>Fraction of predictions of class <paramref name="c"/> that are right.</summary>
    public double Precision(int c)
    {
        CheckClass(c);
        long col = 0;
        for (int i = 0; i < Classes; i++) col += Counts[i, c];
        return col == 0 ? 0 : (double)Counts[c, c] / col;
    }

    /// <summary>Harmonic mean of <see cref="Precision"/> and <see cref="Recall"/> of class <paramref name="c"/> (0 when both are 0).</summary>
    public double F1(int c)
    {
        double p = Precision(c), r = Recall(c);
        return p + r == 0 ? 0 : 2 * p * r / (p + r);
    }

    /// <summary>Samples whose true class is <paramref name="c"/> (also those without a prediction).</summary>
    public long Support(int c)
    {
        CheckClass(c);
        long row = _unpredicted[c];
        for (int j = 0; j < Classes; j++) row += Counts[c, j];
        return row;
    }

    /// <summary>
    /// Mean <see cref="Recall"/> over the classes that have samples: accuracy as if every class were equally common, the
    /// figure to read when a few classes dominate the data (a model that always answers the largest class scores 1/classes).
    /// </summary>
    public double BalancedAccuracy
    {
        get
        {
            var present = Enumerable.Range(0, Classes).Where(c => Support(c) > 0).ToList();
            return present.Count == 0 ? 0 : present.Average(Recall);
        }
    }

    /// <summary>Mean <see cref="F1"/> over the classes that have samples (macro average).</summary>
    public double MacroF1
    {
        get
        {
            var present = Enumerable.Range(0, Classes).Where(c => Support(c) > 0).ToList();
            return present.Count == 0 ? 0 : present.Average(F1);
        }
    }

    private void CheckClass(int c)
    {
        if ((uint)c >= (uint)Classes) throw new ArgumentOutOfRangeException(nameof(c), c, $"Class {c} is outside [0, {Classes}).");
    }

    /// <summary>Rows as arrays (for JSON).</summary>
    public long[][] ToRows() => Enumerable.Range(0, Classes).Select(i => Enumerable.Range(0, Classes).Select(j => Counts[i, j]).ToArray()).ToArray();
}
