namespace Fovea.Data;

/// <summary>Which official part of a dataset to load.</summary>
public enum DatasetSplit
{
    /// <summary>The training part (60,000 images for the MNIST family, 50,000 for CIFAR-10).</summary>
    Train,
    /// <summary>The test part (10,000 images for the MNIST family and for CIFAR-10).</summary>
    Test,
}

internal static class DatasetSplits
{
    /// <summary>The split, or a throw naming it when it is no defined value (a cast integer would otherwise load the test split).</summary>
    public static DatasetSplit Check(DatasetSplit split) => Enum.IsDefined(split) ? split
        : throw new ArgumentOutOfRangeException(nameof(split), split, $"The split must be DatasetSplit.Train or DatasetSplit.Test. Received: {(int)split}.");
}
