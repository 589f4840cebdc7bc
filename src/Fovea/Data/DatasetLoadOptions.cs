namespace Fovea.Data;

/// <summary>Where and how the built-in data set loaders (<see cref="MnistFamily.Load"/>, <see cref="Cifar10.Load(DatasetSplit, string?, DatasetLoadOptions?)"/>)
/// look for data. Every property has a default read from the environment.</summary>
public sealed record DatasetLoadOptions
{
    /// <summary>When true, never download. Default null: true when the environment variable FOVEA_OFFLINE is 1, true or yes.</summary>
    public bool? Offline { get; init; }

    /// <summary>Folder searched after the explicit path. Default null: the environment variable FOVEA_DATA; "" disables it.</summary>
    public string? EnvironmentFolder { get; init; }

    /// <summary>System folder searched. Default null: the data set's own (<see cref="MnistFamilyDataset.SystemFolder"/>,
    /// <see cref="Cifar10Dataset.SystemFolder"/>); "" disables it.</summary>
    public string? SystemFolder { get; init; }

    /// <summary>Cache folder searched and downloaded into. Default null: ~/.cache/fovea/datasets/&lt;name&gt;
    /// (<see cref="MnistFamily.DefaultCacheFolder"/>, <see cref="Cifar10.DefaultCacheFolder"/>).</summary>
    public string? CacheFolder { get; init; }

    /// <summary>Give up on a download location after this long without a connection, response or data. Default 15 s.</summary>
    public TimeSpan DownloadTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Check local files against known checksums (MNIST family: content SHA-256, about 0.1 s for the training set;
    /// CIFAR-10: the archive's MD5, about 0.3 s). Default true.</summary>
    public bool VerifyChecksums { get; init; } = true;

    /// <summary>Receives progress notes (which folder was used, downloads). Default null: silent.</summary>
    public Action<string>? Log { get; init; }
}
