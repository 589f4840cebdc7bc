namespace Fovea.Data;

/// <summary>
/// A dataset held entirely in memory: images as one array (N x C x H x W, NCHW) plus one label per image.
/// Images are stored as floats, or as bytes divided by a fixed divisor when read (8-bit pixels: a quarter of the
/// memory — 47 MB instead of 188 MB for the Fashion-MNIST training set).
/// Subsets made by <see cref="Subset"/>, <see cref="Take"/> and <see cref="Split"/> copy the selected samples,
/// so each result is independent of its source.
/// </summary>
public sealed class InMemoryDataset : IDataset
{
    private readonly float[]? _images;
    private readonly byte[]? _pixels;
    private readonly float _divisor = 1f;
    private readonly int[] _labels;
    private readonly int[] _sampleShape;
    private readonly string[] _classNames;
    private readonly int _sampleSize;

    /// <summary>Creates a dataset wrapping (not copying) <paramref name="images"/> and <paramref name="labels"/>.</summary>
    /// <param name="images">N*C*H*W values, image i at offset i*C*H*W.</param>
    /// <param name="labels">N labels, each in [0, classNames.Count).</param>
    /// <param name="sampleShape">[C, H, W] of one image; all positive.</param>
    /// <param name="classNames">Names of the classes; at least one.</param>
    /// <exception cref="ArgumentException">Lengths disagree, a label is out of range, or the shape is not [C, H, W].</exception>
    public InMemoryDataset(float[] images, int[] labels, int[] sampleShape, IReadOnlyList<string> classNames)
        : this(images, null, 1f, labels, sampleShape, classNames) { }

    /// <summary>Creates a dataset of 8-bit pixels wrapping (not copying) <paramref name="pixels"/>; a value reads as pixel / <paramref name="divisor"/>.</summary>
    /// <param name="pixels">N*C*H*W bytes, image i at offset i*C*H*W.</param>
    /// <param name="divisor">Positive; e.g. 255 for values in [0, 1].</param>
    /// <param name="labels">N labels, each in [0, classNames.Count).</param>
    /// <param name="sampleShape">[C, H, W] of one image; all positive.</param>
    /// <param name="classNames">Names of the classes; at least one.</param>
    public InMemoryDataset(byte[] pixels, float divisor, int[] labels, int[] sampleShape, IReadOnlyList<string> classNames)
        : this(null, pixels ?? throw new ArgumentNullException(nameof(pixels)), divisor, labels, sampleShape, classNames)
    {
        if (!(divisor > 0f) || float.IsInfinity(divisor))
            throw new ArgumentOutOfRangeException(nameof(divisor), divisor, $"The pixel divisor must be positive and finite; got {divisor}.");
    }

    private InMemoryDataset(float[]? images, byte[]? pixels, float divisor, int[] labels, int[] sampleShape, IReadOnlyList<string> classNames)
    {
        if (images is null && pixels is null) throw new ArgumentNullException(nameof(images));
        int stored = images?.Length ?? pixels!.Length;
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(sampleShape);
        ArgumentNullException.ThrowIfNull(classNames);
        if (sampleShape.Length != 3 || sampleShape.Any(d => d <= 0))
            throw new ArgumentException($"Sample shape must be [C, H, W] with positive sizes; got [{string.Join(", ", sampleShape)}].", nameof(sampleShape));
        if (classNames.Count == 0) throw new ArgumentException("At least one class name is required.", nameof(classNames));
        long size = (long)sampleShape[0] * sampleShape[1] * sampleShape[2];
        if (size * labels.Length != stored)
            throw new ArgumentException(
                $"Images hold {stored} values but {labels.Length} labels x sample shape [{string.Join(", ", sampleShape)}] ({size} values each) need {size * labels.Length}.",
                nameof(images));
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classNames.Count)
                throw new ArgumentException($"Label {labels[i]} at index {i} is outside [0, {classNames.Count}) for {classNames.Count} classes.", nameof(labels));
        }
        _images = images;
        _pixels = pixels;
        _divisor = divisor;
        _labels = labels;
        _sampleShape = (int[])sampleShape.Clone();
        _classNames = classNames.ToArray();
        _sampleSize = (int)size;
    }

    /// <inheritdoc/>
    public int Count => _labels.Length;

    /// <inheritdoc/>
    public int[] SampleShape => (int[])_sampleShape.Clone();

    /// <inheritdoc/>
    public IReadOnlyList<string> ClassNames => _classNames;

    /// <summary>All images, N*C*H*W values: the live array when stored as floats, a converted copy when stored as bytes.</summary>
    public ReadOnlySpan<float> Images => _images ?? ToFloats(_pixels!, 0, _pixels!.Length);

    /// <summary>All labels, N values (the live array, not a copy).</summary>
    public ReadOnlySpan<int> Labels => _labels;

    /// <summary>The values of image <paramref name="index"/> (C*H*W; a view of the live array, or a converted copy for bytes).</summary>
    public ReadOnlySpan<float> GetImage(int index)
    {
        CheckIndex(index);
        return _images is not null ? _images.AsSpan(index * _sampleSize, _sampleSize) : ToFloats(_pixels!, index * _sampleSize, _sampleSize);
    }

    private float[] ToFloats(byte[] pixels, int start, int length)
    {
        var result = new float[length];
        ReadInto(pixels.AsSpan(start, length), result);
        return result;
    }

    // Division (not multiplication by the reciprocal) so byte storage reads exactly what a float copy would hold.
    private void ReadInto(ReadOnlySpan<byte> pixels, Span<float> destination)
    {
        for (int i = 0; i < pixels.Length; i++) destination[i] = pixels[i] / _divisor;
    }

    /// <inheritdoc/>
    public void CopyImage(int index, Span<float> destination)
    {
        CheckIndex(index);
        if (destination.Length < _sampleSize)
            throw new ArgumentException($"Destination holds {destination.Length} values but an image has {_sampleSize}.", nameof(destination));
        if (_images is not null) _images.AsSpan(index * _sampleSize, _sampleSize).CopyTo(destination);
        else ReadInto(_pixels.AsSpan(index * _sampleSize, _sampleSize), destination);
    }

    /// <inheritdoc/>
    public int GetLabel(int index)
    {
        CheckIndex(index);
        return _labels[index];
    }

    /// <summary>A new dataset of the samples at <paramref name="indices"/>, in that order (repeats allowed).</summary>
    public InMemoryDataset Subset(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var images = _images is null ? null : new float[(long)indices.Count * _sampleSize];
        var pixels = _pixels is null ? null : new byte[(long)indices.Count * _sampleSize];
        var labels = new int[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            int src = indices[i];
            if ((uint)src >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), $"Index {src} at position {i} is outside [0, {Count}).");
            if (images is not null) _images.AsSpan(src * _sampleSize, _sampleSize).CopyTo(images.AsSpan(i * _sampleSize, _sampleSize));
            else _pixels.AsSpan(src * _sampleSize, _sampleSize).CopyTo(pixels.AsSpan(i * _sampleSize, _sampleSize));
            labels[i] = _labels[src];
        }
        return new InMemoryDataset(images, pixels, _divisor, labels, _sampleShape, _classNames);
    }

    /// <summary>A new dataset of the first <paramref name="count"/> samples (all of them when count exceeds Count).</summary>
    public InMemoryDataset Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        count = Math.Min(count, Count);
        return new InMemoryDataset(_images?[..(count * _sampleSize)], _pixels?[..(count * _sampleSize)], _divisor, _labels[..count], _sampleShape, _classNames);
    }

    /// <summary>
    /// Splits into (train, validation) by a seeded shuffle: the same seed always gives the same split.
    /// Validation gets round(Count * validationFraction) samples; both parts keep the shuffled order.
    /// </summary>
    /// <param name="validationFraction">Share for validation, in [0, 1).</param>
    /// <param name="seed">Seed of the shuffle.</param>
    public (InMemoryDataset Train, InMemoryDataset Validation) Split(double validationFraction, int seed)
    {
        var (train, validation) = SplitIndices(Count, validationFraction, seed);
        return (Subset(train), Subset(validation));
    }

    /// <summary>
    /// The indices <see cref="Split"/> takes for each part of <paramref name="count"/> samples, in the order it puts them:
    /// a seeded shuffle whose first round(count * validationFraction) indices are validation, the rest training.
    /// </summary>
    internal static (int[] Train, int[] Validation) SplitIndices(int count, double validationFraction, int seed)
    {
        if (!(validationFraction >= 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), $"Validation fraction must be in [0, 1); got {validationFraction}.");
        var order = new int[count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        // Own Fisher-Yates over a seeded Random: the order is fixed by the seed alone, on any runtime version.
        var rng = new Random(seed);
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        int validationCount = (int)Math.Round(count * validationFraction, MidpointRounding.AwayFromZero);
        return (order[validationCount..], order[..validationCount]);
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)_labels.Length) throw new ArgumentOutOfRangeException(nameof(index), $"Sample index {index} is outside [0, {_labels.Length}).");
    }
}
