namespace Fovea.Data;

/// <summary>Which official part of a dataset to load.</summary>
public enum DatasetSplit
{
    /// <summary>The training part (60,000 images for the MNIST family, 50,000 for CIFAR-10).</summary>
    Train,
    /// <summary>The test part (10,000 images for the MNIST family and for CIFAR-10).</summary>
    Test,
}
