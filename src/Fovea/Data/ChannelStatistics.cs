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
        return Measure(data, data.Count, i => i);
    }

    /// <summary>
    /// The same statistics over only the images of <paramref name="data"/> at <paramref name="indices"/>, taken in that
    /// order: the value <see cref="Normalization(IDataset)"/> gives for a data set of those images (to the bit, as the
    /// sums run in the same order), without copying them. With the training indices of
    /// <see cref="Training.FitOptions.SplitIndices"/> it measures exactly the images a Fit trains on, leaving out the ones
    /// it holds out for validation.
    /// </summary>
    /// <param name="data">Images [C, H, W].</param>
    /// <param name="indices">Indices into <paramref name="data"/>; at least one.</param>
    public static InputNormalization Normalization(IDataset data, IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(indices);
        if (indices.Count == 0) throw new ArgumentException("Cannot measure the channels of no images: the list of indices is empty.", nameof(indices));
        for (int k = 0; k < indices.Count; k++)
            if ((uint)indices[k] >= (uint)data.Count)
                throw new ArgumentOutOfRangeException(nameof(indices), $"Index {indices[k]} at position {k} is outside [0, {data.Count}).");
        return Measure(data, indices.Count, k => indices[k]);
    }

    private static InputNormalization Measure(IDataset data, int count, Func<int, int> index)
    {
        var shape = data.SampleShape;
        int channels = shape[0], plane = shape[1] * shape[2];
        var sum = new double[channels];
        var sumOfSquares = new double[channels];
        var image = new float[channels * plane];
        for (int i = 0; i < count; i++)
        {
            data.CopyImage(index(i), image);
            for (int c = 0; c < channels; c++)
            {
                double s = 0, s2 = 0;
                foreach (float v in image.AsSpan(c * plane, plane)) { s += v; s2 += (double)v * v; }
                sum[c] += s;
                sumOfSquares[c] += s2;
            }
        }
        double values = (double)count * plane;
        var mean = new float[channels];
        var std = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            double m = sum[c] / values;
            double deviation = Math.Sqrt(Math.Max(0, sumOfSquares[c] / values - m * m));
            mean[c] = (float)m;
            std[c] = deviation > 1e-6 ? (float)deviation : 1f;
        }
        return new InputNormalization(mean, std);
    }
}
