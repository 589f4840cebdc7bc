namespace Fovea.Data;

/// <summary>
/// A dataset held entirely in memory: images as one float array (N x C x H x W, NCHW) plus one label per image.
/// Subsets made by <see cref="Subset"/>, <see cref="Take"/> and <see cref="Split"/> copy the selected samples,
/// so each result is independent of its source.
/// </summary>
public sealed class InMemoryDataset : IDataset
{
    private readonly float[] _images;
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
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(sampleShape);
        ArgumentNullException.ThrowIfNull(classNames);
        if (sampleShape.Length != 3 || sampleShape.Any(d => d <= 0))
            throw new ArgumentException($"Sample shape must be [C, H, W] with positive sizes; got [{string.Join(", ", sampleShape)}].", nameof(sampleShape));
        if (classNames.Count == 0) throw new ArgumentException("At least one class name is required.", nameof(classNames));
        long size = (long)sampleShape[0] * sampleShape[1] * sampleShape[2];
        if (size * labels.Length != images.Length)
            throw new ArgumentException(
                $"Images hold {images.Length} values but {labels.Length} labels x sample shape [{string.Join(", ", sampleShape)}] ({size} values each) need {size * labels.Length}.",
                nameof(images));
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classNames.Count)
                throw new ArgumentException($"Label {labels[i]} at index {i} is outside [0, {classNames.Count}) for {classNames.Count} classes.", nameof(labels));
        }
        _images = images;
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

    /// <summary>All images, N*C*H*W values (the live array, not a copy).</summary>
    public ReadOnlySpan<float> Images => _images;

    /// <summary>All labels, N values (the live array, not a copy).</summary>
    public ReadOnlySpan<int> Labels => _labels;

    /// <summary>The values of image <paramref name="index"/> (C*H*W, a view of the live array).</summary>
    public ReadOnlySpan<float> GetImage(int index)
    {
        CheckIndex(index);
        return _images.AsSpan(index * _sampleSize, _sampleSize);
    }

    /// <inheritdoc/>
    public void CopyImage(int index, Span<float> destination)
    {
        CheckIndex(index);
        if (destination.Length < _sampleSize)
            throw new ArgumentException($"Destination holds {destination.Length} values but an image has {_sampleSize}.", nameof(destination));
        _images.AsSpan(index * _sampleSize, _sampleSize).CopyTo(destination);
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
        var images = new float[(long)indices.Count * _sampleSize];
        var labels = new int[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            int src = indices[i];
            if ((uint)src >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), $"Index {src} at position {i} is outside [0, {Count}).");
            _images.AsSpan(src * _sampleSize, _sampleSize).CopyTo(images.AsSpan(i * _sampleSize, _sampleSize));
            labels[i] = _labels[src];
        }
        return new InMemoryDataset(images, labels, _sampleShape, _classNames);
    }

    /// <summary>A new dataset of the first <paramref name="count"/> samples (all of them when count exceeds Count).</summary>
    public InMemoryDataset Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        count = Math.Min(count, Count);
        return new InMemoryDataset(_images[..(count * _sampleSize)], _labels[..count], _sampleShape, _classNames);
    }

    /// <summary>
    /// Splits into (train, validation) by a seeded shuffle: the same seed always gives the same split.
    /// Validation gets round(Count * validationFraction) samples; both parts keep the shuffled order.
    /// </summary>
    /// <param name="validationFraction">Share for validation, in [0, 1).</param>
    /// <param name="seed">Seed of the shuffle.</param>
    public (InMemoryDataset Train, InMemoryDataset Validation) Split(double validationFraction, int seed)
    {
        if (!(validationFraction >= 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), $"Validation fraction must be in [0, 1); got {validationFraction}.");
        var order = new int[Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        // Own Fisher-Yates over a seeded Random: the order is fixed by the seed alone, on any runtime version.
        var rng = new Random(seed);
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        int validationCount = (int)Math.Round(Count * validationFraction, MidpointRounding.AwayFromZero);
        return (Subset(order[validationCount..]), Subset(order[..validationCount]));
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)_labels.Length) throw new ArgumentOutOfRangeException(nameof(index), $"Sample index {index} is outside [0, {_labels.Length}).");
    }
}
