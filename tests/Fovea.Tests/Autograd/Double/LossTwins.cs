namespace Fovea.Tests.Autograd.Double;

/// <summary>Double-precision twins of the losses (each the mean over its rows or elements).</summary>
internal static class LossTwins
{
    /// <summary>Mean over rows of −w[label]·Σ_k t_k·log softmax(z)_k, t = (1 − s)·onehot(label) + s/K (w: all 1 when null).</summary>
    public static double SoftmaxCrossEntropy(double[] logits, int rows, int classes, int[] labels, double smoothing, float[]? classWeights = null)
    {
        double total = 0;
        var logp = ElementwiseTwins.Softmax(logits, [rows, classes], 1, log: true);
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < classes; k++)
            {
                double target = (k == labels[r] ? 1 - smoothing : 0) + smoothing / classes;
                total -= (classWeights is null ? 1 : classWeights[labels[r]]) * target * logp[r * classes + k];
            }
        return total / rows;
    }

    /// <summary>Mean of −[t·log p + (1 − t)·log(1 − p)] (p away from 0 and 1 in the tests, so Fovea's clamp is inactive).</summary>
    public static double BinaryCrossEntropy(double[] p, double[] t) =>
        p.Select((v, i) => -(t[i] * Math.Log(v) + (1 - t[i]) * Math.Log(1 - v))).Average();

    /// <summary>Mean of (p − t)².</summary>
    public static double MeanSquaredError(double[] p, double[] t) => p.Select((v, i) => (v - t[i]) * (v - t[i])).Average();
}
