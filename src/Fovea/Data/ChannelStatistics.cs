using Fovea.Models;

namespace Fovea.Data;

/// <summary>Per-channel statistics of a data set's images.</summary>
public static class ChannelStatistics
{
    /// <summary>
    /// Mean and standard deviation of each channel over every pixel of every image, as the input normalisation a model
    /// stores (x' = (x - mean) / std), so a network trained from scratch sees inputs centred near 0 with unit spread.
    /// A channel that is constant gets std 1 (only centred).
    /// </summary>
    /// <param name="data">Images [C, H, W]; at least one.</param>
    public static InputNormalization Normalization(IDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0) throw new ArgumentException("Cannot measure the channels of an empty data set.", nameof(data));
        var shape = data.SampleShape;
        int channels = shape[0], plane = shape[1] * shape[2];
        var sum = new double[channels];
        var sumOfSquares = new double[channels];
        var image = new float[channels * plane];
        for (int i = 0; i < data.Count; i++)
        {
            data.CopyImage(i, image);
            for (int c = 0; c < channels; c++)
            {
                double s = 0, s2 = 0;
                foreach (float v in image.AsSpan(c * plane, plane)) { s += v; s2 += (double)v * v; }
                sum[c] += s;
                sumOfSquares[c] += s2;
            }
        }
        double count = (double)data.Count * plane;
        var mean = new float[channels];
        var std = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            double m = sum[c] / count;
            double deviation = Math.Sqrt(Math.Max(0, sumOfSquares[c] / count - m * m));
            mean[c] = (float)m;
            std[c] = deviation > 1e-6 ? (float)deviation : 1f;
        }
        return new InputNormalization(mean, std);
    }
}
