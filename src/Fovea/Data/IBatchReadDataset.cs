namespace Fovea.Data;

/// <summary>
/// A labelled data set whose images are costly to read one by one (e.g. image files decoded on demand) and that reads
/// a batch of them at once, e.g. on several threads. <see cref="DataLoader"/> (and so <see cref="Training.Trainer"/> and
/// <see cref="Training.TransferLearning.ExtractFeatures"/>) reads every batch of such a data set through
/// <see cref="CopyImages"/>, so only the batches in hand are held in memory, never the whole set.
/// </summary>
public interface IBatchReadDataset : IDataset
{
    /// <summary>
    /// Copies the images at <paramref name="indices"/> into <paramref name="destination"/>: image k of the batch (the image
    /// at indices[k]) at offset k × C × H × W, NCHW. Every value equals what <see cref="IDataset.CopyImage"/> gives for that
    /// index. Called from one thread at a time per <see cref="DataLoader"/>.
    /// </summary>
    /// <param name="indices">Sample indices, each in [0, Count); repeats allowed.</param>
    /// <param name="destination">At least indices.Length × C × H × W values.</param>
    void CopyImages(ReadOnlySpan<int> indices, Span<float> destination);
}
