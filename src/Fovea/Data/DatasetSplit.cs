namespace Fovea.Data;

/// <summary>Which official part of a dataset to load.</summary>
public enum DatasetSplit
{
    /// <summary>The training part (60,000 images for the MNIST family).</summary>
    Train,
    /// <summary>The test part (10,000 images for the MNIST family).</summary>
    Test,
}
