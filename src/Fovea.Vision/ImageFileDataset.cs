using System.Buffers;
using Fovea.Data;

namespace Fovea.Vision;

/// <summary>
/// A labelled data set of image files decoded on demand: the images of an image folder (<see cref="ImageFolderListing"/>),
/// each read as <see cref="ImageFolder"/> reads it (upright, 1 or 3 channels, resized to height × width, values
/// pixel / 255 in [0, 1]) when it is asked for, and not kept. Nothing is decoded when it is opened, split or subset.
/// <para><b>For a frozen base.</b> <see cref="Training.TransferLearning.ExtractFeatures"/> and
/// <see cref="Training.TransferLearning.ExtractHeadOutputs"/> read it a batch at a time (<see cref="CopyImages"/>: the
/// batch's files decoded on <see cref="Parallelism.Degree"/> threads, while the base runs on the batch before), so memory
/// holds the outputs kept plus three batches of images, whatever the folder's size; the values, and so the features, equal
/// those of the same images loaded by <see cref="ImageFolder.Load"/>. Training a network on it directly would decode every
/// image again each epoch: load an <see cref="ImageFolder"/> for that. Files without labels, to predict on, are read
/// batch by batch by <see cref="ImageBatches"/>.</para>
/// </summary>
public sealed class ImageFileDataset : IBatchReadDataset
{
    private readonly string[] _files;
    private readonly int[] _labels;
    private readonly string[] _classNames;
    private readonly int _channels, _height, _width, _sampleSize;

    /// <summary>The images of <paramref name="listing"/>, to be decoded at [channels, height, width].</summary>
    /// <param name="listing">Files, labels and class names, e.g. from <see cref="ImageFolderListing.Scan"/>.</param>
    /// <param name="channels">1 (grey, by BT.601 luma) or 3 (RGB).</param>
    /// <param name="height">Height every image is resized to, in pixels.</param>
    /// <param name="width">Width every image is resized to, in pixels.</param>
    /// <exception cref="ArgumentException">The listing's files and labels differ in number, or a label is not a class.</exception>
    public ImageFileDataset(ImageFolderListing listing, int channels, int height, int width)
        : this(Check(listing).Root, listing.Files.ToArray(), listing.Labels.ToArray(), listing.ClassNames.ToArray(), channels, height, width) { }

    private ImageFileDataset(string root, string[] files, int[] labels, string[] classNames, int channels, int height, int width)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, $"Images can be loaded with 1 or 3 channels. Received: {channels}.");
        if (height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(height), $"Image size must be positive. Received: {height} x {width}.");
        if ((long)channels * height * width > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(height), $"One image of {channels} x {height} x {width} values does not fit in an array.");
        Root = root;
        (_files, _labels, _classNames) = (files, labels, classNames);
        (_channels, _height, _width) = (channels, height, width);
        _sampleSize = channels * height * width;
    }

    private static ImageFolderListing Check(ImageFolderListing listing)
    {
        ArgumentNullException.ThrowIfNull(listing);
        if (listing.Files.Count != listing.Labels.Count)
            throw new ArgumentException($"The listing of {listing.Root} has {listing.Files.Count} files but {listing.Labels.Count} labels; expected one label per file.", nameof(listing));
        if (listing.ClassNames.Count == 0) throw new ArgumentException($"The listing of {listing.Root} has no class names.", nameof(listing));
        for (int i = 0; i < listing.Labels.Count; i++)
            if ((uint)listing.Labels[i] >= (uint)listing.ClassNames.Count)
                throw new ArgumentException($"Label {listing.Labels[i]} of {listing.Files[i]} is outside [0, {listing.ClassNames.Count}) for {listing.ClassNames.Count} classes.", nameof(listing));
        return listing;
    }

    /// <summary>Lists the images of <paramref name="root"/> (<see cref="ImageFolderListing.Scan"/>) without decoding any.</summary>
    /// <param name="root">Folder with one subfolder of images per class.</param>
    /// <param name="channels">1 (grey) or 3 (RGB).</param>
    /// <param name="height">Height every image is resized to, in pixels.</param>
    /// <param name="width">Width every image is resized to, in pixels.</param>
    /// <param name="classNames">Known class names (e.g. a trained model's, for a separate test folder); null (default): the subfolders.</param>
    /// <exception cref="DirectoryNotFoundException"><paramref name="root"/> does not exist.</exception>
    /// <exception cref="ImageFolderException">The layout is wrong (see <see cref="ImageFolderListing.Scan"/>).</exception>
    public static ImageFileDataset Open(string root, int channels, int height, int width, IReadOnlyList<string>? classNames = null) =>
        new(ImageFolderListing.Scan(root, classNames), channels, height, width);

    /// <summary>The folder the images are in.</summary>
    public string Root { get; }

    /// <summary>Source file of every sample (sample i is decoded from Files[i]).</summary>
    public IReadOnlyList<string> Files => _files;

    /// <summary>Label of every sample, aligned with <see cref="Files"/>.</summary>
    public IReadOnlyList<int> Labels => _labels;

    /// <inheritdoc/>
    public int Count => _files.Length;

    /// <inheritdoc/>
    public int[] SampleShape => [_channels, _height, _width];

    /// <inheritdoc/>
    public IReadOnlyList<string> ClassNames => _classNames;

    /// <inheritdoc/>
    public int GetLabel(int index)
    {
        CheckIndex(index);
        return _labels[index];
    }

    /// <summary>Decodes image <paramref name="index"/> into <paramref name="destination"/> (C × H × W values in [0, 1]).</summary>
    /// <exception cref="ImageLoadException">The file cannot be decoded; the message names it.</exception>
    public void CopyImage(int index, Span<float> destination) => CopyImages([index], destination);

    /// <summary>
    /// Decodes the images at <paramref name="indices"/> on <see cref="Parallelism.Degree"/> threads into
    /// <paramref name="destination"/>, image k at offset k × C × H × W. The pixels are held only during the call.
    /// </summary>
    /// <exception cref="ImageLoadException">A file cannot be decoded; the message names the first such file of the batch.</exception>
    public void CopyImages(ReadOnlySpan<int> indices, Span<float> destination)
    {
        long needed = (long)indices.Length * _sampleSize;
        if (destination.Length < needed)
            throw new ArgumentException($"Destination holds {destination.Length} values but {indices.Length} images of {_channels} x {_height} x {_width} need {needed}.", nameof(destination));
        var files = new string[indices.Length];
        for (int k = 0; k < indices.Length; k++)
        {
            CheckIndex(indices[k]);
            files[k] = _files[indices[k]];
        }
        var pixels = ArrayPool<byte>.Shared.Rent((int)needed);
        try
        {
            ImageFolder.Decode(files, _channels, _height, _width, pixels, progress: null);
            // Division, as ImageFolder's byte storage reads, so both give the same values bit for bit.
            for (int i = 0; i < needed; i++) destination[i] = pixels[i] / 255f;
        }
        finally { ArrayPool<byte>.Shared.Return(pixels); }
    }

    /// <summary>A data set of the samples at <paramref name="indices"/>, in that order, with their files; nothing is decoded.</summary>
    public ImageFileDataset Subset(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var files = new string[indices.Count];
        var labels = new int[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            int source = indices[i];
            if ((uint)source >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), $"Index {source} at position {i} is outside [0, {Count}).");
            (files[i], labels[i]) = (_files[source], _labels[source]);
        }
        return new ImageFileDataset(Root, files, labels, _classNames, _channels, _height, _width);
    }

    /// <summary>
    /// Splits into (train, validation) exactly as <see cref="ImageFolder.Split"/> splits the same folder: each class divided
    /// in the same proportion by a seeded shuffle (<see cref="StratifiedSplit.Indices"/>), so the same seed puts the same
    /// files in each part. Nothing is decoded.
    /// </summary>
    /// <param name="validationFraction">Share of each class held out, in [0, 1).</param>
    /// <param name="seed">Seed of the shuffle; the same seed gives the same split.</param>
    public (ImageFileDataset Train, ImageFileDataset Validation) Split(double validationFraction, int seed)
    {
        var (train, validation) = StratifiedSplit.Indices(this, validationFraction, seed);
        return (Subset(train), Subset(validation));
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)_files.Length) throw new ArgumentOutOfRangeException(nameof(index), $"Sample index {index} is outside [0, {_files.Length}).");
    }
}
