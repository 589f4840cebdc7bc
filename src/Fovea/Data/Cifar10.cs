namespace Fovea.Data;

/// <summary>Describes the binary release of CIFAR-10: where it is published, its archive and checksum, its batch files and classes.</summary>
/// <param name="Name">Short name used for folders, "cifar10" (cache folder ~/.cache/fovea/datasets/cifar10).</param>
/// <param name="DisplayName">Human name, "CIFAR-10".</param>
/// <param name="SystemFolder">System-wide folder searched, "/usr/share/datasets/cifar10".</param>
/// <param name="BaseUrls">Download locations, tried in order; the archive's URL is base + <paramref name="ArchiveName"/>.</param>
/// <param name="ArchiveName">The gzip'd tar holding the batches, "cifar-10-binary.tar.gz".</param>
/// <param name="ArchiveMd5">MD5 (lowercase hex) of the archive as published; checked on every download and, unless
/// <see cref="DatasetLoadOptions.VerifyChecksums"/> is off, on an archive found locally.</param>
/// <param name="FolderName">The folder the archive holds the batches in, "cifar-10-batches-bin".</param>
/// <param name="TrainFiles">Training batches in order, data_batch_1.bin .. data_batch_5.bin (10,000 records each).</param>
/// <param name="TestFiles">Test batches, test_batch.bin (10,000 records).</param>
/// <param name="ClassNames">Names of labels 0..9.</param>
public sealed record Cifar10Dataset(
    string Name,
    string DisplayName,
    string SystemFolder,
    IReadOnlyList<string> BaseUrls,
    string ArchiveName,
    string ArchiveMd5,
    string FolderName,
    IReadOnlyList<string> TrainFiles,
    IReadOnlyList<string> TestFiles,
    IReadOnlyList<string> ClassNames)
{
    /// <summary>Images are 32 x 32.</summary>
    public const int ImageSize = 32;

    /// <summary>Three colour channels, red, green, blue.</summary>
    public const int Channels = 3;

    /// <summary>Bytes of one image: 1,024 red, then 1,024 green, then 1,024 blue values, each plane row-major (CHW).</summary>
    public const int PixelsPerImage = Channels * ImageSize * ImageSize;

    /// <summary>Bytes of one record: the label (0-9), then the image.</summary>
    public const int RecordSize = 1 + PixelsPerImage;

    /// <summary>Records in each official batch file.</summary>
    public const int OfficialRecordsPerFile = 10_000;

    /// <summary>The batch files of a split, in the order their records are loaded.</summary>
    public IReadOnlyList<string> FilesOf(DatasetSplit split) => DatasetSplits.Check(split) == DatasetSplit.Train ? TrainFiles : TestFiles;
}

/// <summary>
/// CIFAR-10: 32 x 32 colour photos in 10 classes (airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck);
/// 50,000 for training, 10,000 for testing. Finds the binary release in the same places as <see cref="MnistFamily"/>:
/// the folder given, else FOVEA_DATA, the system folder (/usr/share/datasets/cifar10), the cache
/// (~/.cache/fovea/datasets/cifar10); then downloads cifar-10-binary.tar.gz into the cache unless offline. In each
/// folder (and its cifar10 subfolder) it takes the extracted batch files, the same in a cifar-10-batches-bin subfolder,
/// or the archive, read as it is, without extracting it.
/// </summary>
public static class Cifar10
{
    /// <summary>The official binary release. MD5 as published on the data set's page.</summary>
    public static Cifar10Dataset Descriptor { get; } = new(
        Name: "cifar10",
        DisplayName: "CIFAR-10",
        SystemFolder: "/usr/share/datasets/cifar10",
        BaseUrls: ["https://www.cs.toronto.edu/~kriz/"],
        ArchiveName: "cifar-10-binary.tar.gz",
        ArchiveMd5: "c32a1d4ab5d03f1284b67883e8d87530",
        FolderName: "cifar-10-batches-bin",
        TrainFiles: ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"],
        TestFiles: ["test_batch.bin"],
        ClassNames: ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]);

    /// <summary>Class names, label order.</summary>
    public static IReadOnlyList<string> ClassNames => Descriptor.ClassNames;

    /// <summary>The cache folder of <paramref name="dataset"/> (default: <see cref="Descriptor"/>):
    /// $XDG_CACHE_HOME/fovea/datasets/cifar10, else ~/.cache/fovea/datasets/cifar10.</summary>
    public static string DefaultCacheFolder(Cifar10Dataset? dataset = null) => DatasetSearch.DefaultCacheFolder((dataset ?? Descriptor).Name);

    /// <summary>Loads a split of the official release: sample shape [3, 32, 32] (CHW, RGB), pixels in [0, 1], labels 0..9.</summary>
    /// <param name="split">Train (50,000 images, data_batch_1.bin .. data_batch_5.bin in order) or test (10,000, test_batch.bin).</param>
    /// <param name="path">A folder holding the archive or the extracted files (see <see cref="Load(Cifar10Dataset, DatasetSplit, string?, DatasetLoadOptions?)"/>);
    /// when given, the only place searched. Null to search FOVEA_DATA, the system folder, the cache, then download.</param>
    /// <param name="options">Search and download settings; null for defaults.</param>
    public static InMemoryDataset Load(DatasetSplit split, string? path = null, DatasetLoadOptions? options = null) => Load(Descriptor, split, path, options);

    /// <summary>
    /// Loads one split of <paramref name="dataset"/> as an <see cref="InMemoryDataset"/> of 8-bit pixels: sample shape
    /// [3, 32, 32] (red, green, blue planes, each row-major), values pixel / 255 in [0, 1], labels 0..9, the data set's class names.
    /// </summary>
    /// <param name="dataset">Which release (files, URLs, checksum), e.g. <see cref="Descriptor"/>.</param>
    /// <param name="split">Train or test.</param>
    /// <param name="path">A folder holding the split's batch files, a cifar-10-batches-bin folder with them, or
    /// cifar-10-binary.tar.gz (or a cifar10 subfolder holding one of these); when given, the only place searched (no
    /// fallback to other folders or a download). Null to search FOVEA_DATA, the system folder, the cache, then download.</param>
    /// <param name="options">Search and download settings; null for defaults.</param>
    /// <exception cref="DatasetNotFoundException">The data is nowhere searched and could not be downloaded; the message says how to get it.</exception>
    /// <exception cref="InvalidDataException">A file was found but is truncated, damaged or fails its checksum; the message names it and what was expected.</exception>
    public static InMemoryDataset Load(Cifar10Dataset dataset, DatasetSplit split, string? path = null, DatasetLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        options ??= new DatasetLoadOptions();
        var found = Locate(dataset, split, path, options);
        var files = dataset.FilesOf(split);
        if (found.Archive is null) return Cifar10Reader.ReadFolder(dataset, found.Folder, files);
        if (options.VerifyChecksums && !found.Verified)
        {
            string md5 = DatasetSearch.FileMd5(found.Archive);
            if (md5 != dataset.ArchiveMd5)
                throw new InvalidDataException(
                    $"CIFAR-10 archive '{found.Archive}' has MD5 {md5}, expected {dataset.ArchiveMd5} (the official {dataset.ArchiveName}): it is damaged or another file. " +
                    "Delete or replace it (or, from the library, load it with DatasetLoadOptions.VerifyChecksums = false).");
        }
        return Cifar10Reader.ReadArchive(dataset, found.Archive, files);
    }

    /// <summary>
    /// True when <paramref name="folder"/>, or its subfolder named after the data set, holds CIFAR-10 files: the archive, a
    /// cifar-10-batches-bin folder, or a batch file. Tells such a folder from a folder of images (one subfolder per class).
    /// </summary>
    public static bool HoldsData(string folder, Cifar10Dataset? dataset = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var d = dataset ?? Descriptor;
        return new[] { folder, Path.Combine(folder, d.Name) }.Any(dir =>
            File.Exists(Path.Combine(dir, d.ArchiveName)) || Directory.Exists(Path.Combine(dir, d.FolderName)) ||
            d.TrainFiles.Concat(d.TestFiles).Any(f => File.Exists(Path.Combine(dir, f))));
    }

    /// <summary>Where a split was found: extracted files in <see cref="Folder"/>, or <see cref="Archive"/>, whose checksum
    /// is already known good when it was <see cref="Verified"/> on download.</summary>
    private sealed record Found(string Folder, string? Archive, bool Verified = false);

    private static Found Locate(Cifar10Dataset dataset, DatasetSplit split, string? path, DatasetLoadOptions options)
    {
        var files = dataset.FilesOf(split);
        var searched = new List<string>();
        var candidates = new List<(string Folder, string Origin)>();
        if (!string.IsNullOrEmpty(path))
        {
            // A folder the caller named is the only place to look: quietly using a copy found elsewhere would
            // evaluate or train on data the caller did not choose.
            DatasetSearch.AddWithSubfolder(candidates, path, "path given", dataset.Name);
            foreach (var (folder, origin) in candidates)
            {
                if (Probe(dataset, files, folder, out string why) is { } found) return Log(found, origin);
                searched.Add($"{folder} ({why})");
            }
            throw new DatasetNotFoundException(dataset.Name, searched,
                $"{dataset.DisplayName} {split.ToString().ToLowerInvariant()} data ({dataset.ArchiveName}, or the extracted {string.Join(", ", files)}, " +
                $"also in a {dataset.FolderName} subfolder) is not in {path} or its subfolder {dataset.Name}: {string.Join("; ", searched)}. " +
                "The folder given is the only place searched; omit it to search the usual places.");
        }
        var usualPlaces = DatasetSearch.UsualPlaces(dataset.Name, dataset.SystemFolder, options, out string cacheFolder);
        foreach (var (folder, origin) in usualPlaces)
        {
            if (Probe(dataset, files, folder, out string why) is { } found) return Log(found, origin);
            searched.Add($"{folder} ({origin}: {why})");
        }

        Exception? downloadError = null;
        if (!DatasetSearch.IsOffline(options, out string downloadNote))
        {
            try
            {
                string archive = DatasetSearch.Download(dataset.BaseUrls, dataset.ArchiveName, dataset.ArchiveMd5, cacheFolder, options);
                return new Found(cacheFolder, archive, Verified: true);
            }
            catch (Exception ex) when (DatasetSearch.IsDownloadFailure(ex))
            {
                downloadError = ex;
                downloadNote = $"download from {dataset.BaseUrls[0]} failed: {ex.Message}";
            }
        }
        string url = dataset.BaseUrls[0] + dataset.ArchiveName;
        string places = string.Join("; ", searched.Select((s, i) => $"{i + 1}) {s}"));
        throw new DatasetNotFoundException(dataset.Name, searched,
            $"{dataset.DisplayName} ({split.ToString().ToLowerInvariant()} split) was not found. To get it, download {url} (MD5 {dataset.ArchiveMd5}) " +
            $"and put it, as it is, into {cacheFolder} (e.g. curl --create-dirs -o {Path.Combine(cacheFolder, dataset.ArchiveName)} {url}); Fovea reads the " +
            $"archive without extracting it. Or name a folder (Load's path argument, --data <folder> on the command line, or FOVEA_DATA) that holds the archive or its extracted " +
            $"{dataset.FolderName} files. Searched: {places}; {downloadNote}.",
            downloadError);

        Found Log(Found found, string origin)
        {
            options.Log?.Invoke($"{dataset.DisplayName} {split}: using {found.Archive ?? found.Folder} ({origin}).");
            return found;
        }
    }

    /// <summary>The split's data in one folder: all its batch files there or in its cifar-10-batches-bin subfolder (taken
    /// first: nothing to decompress), else the archive; null with the reason when neither is there.</summary>
    private static Found? Probe(Cifar10Dataset dataset, IReadOnlyList<string> files, string folder, out string why)
    {
        why = "folder does not exist";
        if (!Directory.Exists(folder)) return null;
        string[] dirs = [folder, Path.Combine(folder, dataset.FolderName)];
        foreach (string dir in dirs)
            if (files.All(f => File.Exists(Path.Combine(dir, f)))) return new Found(Path.GetFullPath(dir), null);
        string archive = Path.Combine(folder, dataset.ArchiveName);
        if (File.Exists(archive)) return new Found(Path.GetFullPath(folder), Path.GetFullPath(archive));
        // Name what is missing from the folder that holds most of the files, which is the one the user meant.
        string best = dirs.OrderByDescending(d => files.Count(f => File.Exists(Path.Combine(d, f)))).First();
        var missing = files.Where(f => !File.Exists(Path.Combine(best, f))).ToArray();
        why = $"no {dataset.ArchiveName}; missing {string.Join(", ", missing)}" + (best == folder ? "" : $" in {dataset.FolderName}");
        return null;
    }
}
