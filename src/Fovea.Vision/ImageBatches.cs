using Fovea.Tensors;

namespace Fovea.Vision;

/// <summary>One batch read by <see cref="ImageBatches.Read"/>.</summary>
/// <param name="Start">Position of <paramref name="Files"/>[0] in the list given to <see cref="ImageBatches.Read"/>.</param>
/// <param name="Files">The batch's files, in list order (1 to batch size of them; only the last batch may be shorter).</param>
/// <param name="Images">[Files.Count, channels, height, width] in [0, 1]; image i is decoded from Files[i] with the values
/// <see cref="ImageLoader.Load"/> gives. A new tensor for every batch, so the caller may keep it.</param>
public sealed record ImageBatch(int Start, IReadOnlyList<string> Files, Tensor Images);

/// <summary>
/// Decodes a list of image files batch by batch, to predict over more images than fit in memory at once (20,000 photos
/// at 3 × 224 × 224 are 12 GB as one float tensor). Each batch is decoded when the enumeration reaches it, on
/// <see cref="Parallelism.Degree"/> threads, exactly as <see cref="ImageLoader.Load"/> and <see cref="ImageFolder"/> decode
/// (upright by EXIF orientation, converted to the channel count, resized, pixel / 255). Memory stays at one batch of
/// 8-bit pixels plus the float batches the caller still holds, whatever the number of files.
/// <code>
/// var engine = model.ToInference();
/// foreach (var batch in ImageBatches.Read(ImageFolderListing.FindImages("photos"), 3, 224, 224))
///     Show(batch.Files, engine.PredictProbabilities(batch.Images));   // [batch.Files.Count, classes]
/// </code>
/// </summary>
public static class ImageBatches
{
    /// <summary>Images per batch when none is given: 32.</summary>
    public const int DefaultBatchSize = 32;

    /// <summary>Reads <paramref name="files"/> as batches of <paramref name="batchSize"/> images (the last one holds the rest).</summary>
    /// <param name="files">Image files (PNG, JPEG; also BMP, GIF, WebP), in the order the batches follow. Copied: later
    /// changes to the list do not affect the enumeration.</param>
    /// <param name="channels">1 (grey, by BT.601 luma) or 3 (RGB).</param>
    /// <param name="height">Height every image is resized to, in pixels.</param>
    /// <param name="width">Width every image is resized to, in pixels.</param>
    /// <param name="batchSize">Images per batch, at least 1 (default <see cref="DefaultBatchSize"/>).</param>
    /// <returns>A lazy sequence: nothing is decoded until it is enumerated, and each enumeration decodes anew.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A channel count other than 1 or 3, a size or batch size below 1, or a
    /// batch of 8-bit pixels larger than one array holds (thrown by this call, before any decoding).</exception>
    /// <exception cref="ImageLoadException">While enumerating: a file of the batch being decoded is missing, not an image or
    /// damaged; the message names it (decoding stops at the first failure, so of several bad files in one batch, the first
    /// in list order of those tried). The batches before it have been returned.</exception>
    public static IEnumerable<ImageBatch> Read(IReadOnlyList<string> files, int channels, int height, int width, int batchSize = DefaultBatchSize)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, $"Images can be loaded with 1 or 3 channels. Received: {channels}.");
        if (height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(height), $"Image size must be positive. Received: {height} x {width}.");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"Batch size must be at least 1. Received: {batchSize}.");
        long batchBytes = (long)batchSize * channels * height * width;
        if (batchBytes > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize,
                $"A batch of {batchSize} images of {channels} x {height} x {width} needs {batchBytes / 1e9:F1} GB as 8-bit pixels, more than one array holds; use a smaller batch size.");
        foreach (var file in files) ArgumentNullException.ThrowIfNull(file, nameof(files));
        return Batches(files.ToArray(), channels, height, width, batchSize);
    }

    private static IEnumerable<ImageBatch> Batches(string[] files, int channels, int height, int width, int batchSize)
    {
        int sampleSize = channels * height * width;
        // One buffer of pixels for every batch: the float tensors handed out are new, this one is not.
        var pixels = new byte[Math.Min(batchSize, files.Length) * sampleSize];
        for (int start = 0; start < files.Length; start += batchSize)
        {
            var batchFiles = files[start..Math.Min(files.Length, start + batchSize)];
            ImageFolder.Decode(batchFiles, channels, height, width, pixels, progress: null);
            var images = new Tensor(batchFiles.Length, channels, height, width);
            var values = images.Span;
            // Division, as ImageLoader.Load does, so a batch holds exactly the values of images loaded one by one.
            for (int i = 0; i < values.Length; i++) values[i] = pixels[i] / 255f;
            yield return new ImageBatch(start, batchFiles, images);
        }
    }
}
