namespace Fovea.Data;

/// <summary>A labelled set of images, each C x H x W float32 (already scaled, e.g. to [0, 1]).</summary>
public interface IDataset
{
    /// <summary>Number of samples.</summary>
    int Count { get; }

    /// <summary>Shape of one image: [channels, height, width].</summary>
    int[] SampleShape { get; }

    /// <summary>Class names; label i names ClassNames[i].</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>Copies image <paramref name="index"/> (C*H*W values, NCHW order) into <paramref name="destination"/>.</summary>
    void CopyImage(int index, Span<float> destination);

    /// <summary>Class label of sample <paramref name="index"/>, in [0, ClassNames.Count).</summary>
    int GetLabel(int index);
}
