namespace Fovea.Tests.Autograd.Double;

/// <summary>Double-precision twin of batch normalisation over [N, C, ...] (statistics per channel C).</summary>
internal static class NormalizationTwins
{
    /// <summary>
    /// y = γ·(x − μ)/sqrt(σ² + ε) + β. Training: μ, σ² are the batch mean and biased variance of the channel (over N and
    /// all spatial positions), so every output of a channel depends on every input of it. Inference: the running statistics.
    /// </summary>
    public static double[] BatchNorm(double[] x, int[] shape, double[] gamma, double[] beta, double[] runningMean, double[] runningVar,
        bool training, double epsilon)
    {
        int n = shape[0], c = shape[1], hw = x.Length / (n * c);
        var y = new double[x.Length];
        for (int ch = 0; ch < c; ch++)
        {
            var values = new List<int>();
            for (int i = 0; i < n; i++)
                for (int j = 0; j < hw; j++) values.Add((i * c + ch) * hw + j);
            double mean = runningMean[ch], variance = runningVar[ch];
            if (training)
            {
                mean = values.Average(o => x[o]);
                variance = values.Average(o => (x[o] - mean) * (x[o] - mean));
            }
            double invStd = 1 / Math.Sqrt(variance + epsilon);
            foreach (int o in values) y[o] = gamma[ch] * (x[o] - mean) * invStd + beta[ch];
        }
        return y;
    }
}
