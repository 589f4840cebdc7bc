using System.Runtime.ExceptionServices;
using Fovea.Data;

namespace Fovea.Vision;

/// <summary>Options of <see cref="ImageFolder.Load"/>. Defaults: classes from the subfolders, no progress reports.</summary>
public sealed record ImageFolderOptions
{
    /// <summary>Known class names (e.g. those of a trained model, to read a separate test folder): labels are positions in
    /// this list and every subfolder must be one of them. Null (default): the subfolders define the classes.</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>Called with (images decoded, total) after each image. Calls come from the decoding threads, one at a time.
    /// An exception it throws (e.g. <see cref="OperationCanceledException"/> to stop the load) stops the decoding and
    /// reaches the caller of <see cref="ImageFolder.Load"/> as it was thrown.</summary>
    public Action<int, int>? Progress { get; init; }
}

/// <summary>
/// A labelled data set read from a folder of one's own images: one subfolder per class (see <see cref="ImageFolderListing"/>
/// for the layout), each image decoded upright, converted to 1 (grey) or 3 (RGB) channels and resized to height × width
/// exactly as <see cref="ImageLoader"/> does for <c>fovea predict</c>. Values read in [0, 1].
/// <para><b>Decoded once, up front, as 8-bit pixels.</b> Decoding a photo costs more than a training step of a small
/// network on it, so decoding on the fly would pay that cost again every epoch: this is the data set to train a network
/// on, augmentation included. Decoding runs on <see cref="Parallelism.Degree"/> threads. Memory is one byte per value:
/// C × H × W bytes per image (147 KB at 3 × 224 × 224, so 1,000 photos take 147 MB; 12 KB at 3 × 64 × 64), at most 2.1 GB
/// in all (14,266 images at 3 × 224 × 224; <see cref="Load"/> refuses more). With a frozen pretrained base each image
/// goes through the base once and only its features are kept: use <see cref="ImageFileDataset"/> for that, which decodes
/// a batch at a time and holds no more than a few batches of pixels, for a folder of any size.</para>
/// </summary>
public sealed class ImageFolder : IDataset
{
    private ImageFolder(string root, IReadOnlyList<string> files, InMemoryDataset data)
    {
        Root = root;
        Files = files;
        Data = data;
    }

    /// <summary>The folder the images came from.</summary>
    public string Root { get; }

    /// <summary>Source file of every sample (sample i was decoded from Files[i]).</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>The decoded images and labels (byte storage).</summary>
    public InMemoryDataset Data { get; }

    /// <inheritdoc/>
    public int Count => Data.Count;

    /// <inheritdoc/>
    public int[] SampleShape => Data.SampleShape;

    /// <inheritdoc/>
    public IReadOnlyList<string> ClassNames => Data.ClassNames;

    /// <inheritdoc/>
    public void CopyImage(int index, Span<float> destination) => Data.CopyImage(index, destination);

    /// <inheritdoc/>
    public int GetLabel(int index) => Data.GetLabel(index);

    /// <summary>Finds, decodes and resizes every image of <paramref name="root"/> (see the class remarks).</summary>
    /// <param name="root">Folder with one subfolder of images per class.</param>
    /// <param name="channels">1 (grey, by BT.601 luma) or 3 (RGB).</param>
    /// <param name="height">Height every image is resized to, in pixels.</param>
    /// <param name="width">Width every image is resized to, in pixels.</param>
    /// <param name="options">Known class names and a progress callback; null for defaults.</param>
    /// <exception cref="DirectoryNotFoundException"><paramref name="root"/> does not exist.</exception>
    /// <exception cref="ImageFolderException">The layout is wrong (see <see cref="ImageFolderListing.Scan"/>) or the images do not fit in memory.</exception>
    /// <exception cref="ImageLoadException">A file cannot be decoded; the message names it.</exception>
    public static ImageFolder Load(string root, int channels, int height, int width, ImageFolderOptions? options = null)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, $"Images can be loaded with 1 or 3 channels. Received: {channels}.");
        if (height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(height), $"Image size must be positive. Received: {height} x {width}.");
        options ??= new ImageFolderOptions();
        var listing = ImageFolderListing.Scan(root, options.ClassNames);
        int sampleSize = channels * height * width, n = listing.Count;
        long total = (long)n * sampleSize;
        if (total > Array.MaxLength)
            throw new ImageFolderException($"{root}: {n:N0} images of {channels} x {height} x {width} need {total / 1e9:F1} GB as 8-bit pixels, " +
                $"more than the {Array.MaxLength / 1e9:F1} GB one array holds; use a smaller image size or fewer images.");
        var pixels = new byte[total];
        Decode(listing.Files, channels, height, width, pixels, options.Progress);
        var data = new InMemoryDataset(pixels, 255f, listing.Labels.ToArray(), [channels, height, width], listing.ClassNames);
        return new ImageFolder(root, listing.Files, data);
    }

    /// <summary>
    /// Decodes files[i] into pixels[i × C·H·W ..] on <see cref="Parallelism.Degree"/> threads; a failure stops the loop and,
    /// of the failures seen, the first in list order is thrown. Shared with <see cref="ImageBatches"/>.
    /// </summary>
    internal static void Decode(IReadOnlyList<string> files, int channels, int height, int width, byte[] pixels, Action<int, int>? progress)
    {
        int sampleSize = channels * height * width, done = 0;
        var gate = new object();
        ImageLoadException? firstError = null;
        int firstErrorIndex = int.MaxValue;
        try
        {
            Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = Parallelism.Degree }, (i, loop) =>
            {
                try
                {
                    ImageLoader.LoadPixels(files[i], channels, height, width, pixels.AsSpan(i * sampleSize, sampleSize));
                }
                catch (ImageLoadException e)
                {
                    lock (gate)
                    {
                        // Of the failures seen, report the first in file order, so a run with one bad file always names it.
                        if (i < firstErrorIndex) (firstError, firstErrorIndex) = (e, i);
                    }
                    loop.Stop();
                    return;
                }
                if (progress is null) return;
                lock (gate) progress(++done, files.Count);
            });
        }
        catch (AggregateException e)
        {
            // Anything else a decoding thread throws (e.g. the progress callback's exception, a caller's way to stop a
            // long load) reaches the caller as it was thrown, not wrapped by Parallel.For.
            ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }
        if (firstError is not null) ExceptionDispatchInfo.Throw(firstError);
    }

    /// <summary>A new image folder data set of the samples at <paramref name="indices"/> (copied), with their files.</summary>
    public ImageFolder Subset(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        return new ImageFolder(Root, indices.Select(i => Files[i]).ToArray(), Data.Subset(indices));
    }

    /// <summary>
    /// Splits into (train, validation) with each class divided in the same proportion, by a seeded shuffle
    /// (see <see cref="StratifiedSplit.Indices"/>: at least one validation image per class of two or more images).
    /// </summary>
    /// <param name="validationFraction">Share of each class held out, in [0, 1).</param>
    /// <param name="seed">Seed of the shuffle; the same seed gives the same split.</param>
    public (ImageFolder Train, ImageFolder Validation) Split(double validationFraction, int seed)
    {
        var (train, validation) = StratifiedSplit.Indices(Data, validationFraction, seed);
        return (Subset(train), Subset(validation));
    }
}
