namespace Fovea.Data;

/// <summary>One file of an MNIST-family dataset.</summary>
/// <param name="FileName">Official name of the gzip file, e.g. "train-images-idx3-ubyte.gz".</param>
/// <param name="GzipMd5">MD5 (lowercase hex) of the official .gz as published; checked on every download.</param>
/// <param name="ContentSha256">SHA-256 (lowercase hex) of the decompressed IDX bytes, when known; checked on files found locally
/// (it does not depend on how a copy was compressed, so it also fits re-packed or decompressed copies).</param>
public sealed record IdxResource(string FileName, string GzipMd5, string? ContentSha256)
{
    /// <summary>The name without ".gz", as the file is called when stored uncompressed.</summary>
    public string PlainName => FileName.EndsWith(".gz", StringComparison.Ordinal) ? FileName[..^3] : FileName;
}

/// <summary>Describes an MNIST-family dataset: its files, where they are published, their checksums and its classes.</summary>
/// <param name="Name">Short name used for folders, e.g. "fashion-mnist" (cache folder ~/.cache/fovea/datasets/&lt;Name&gt;).</param>
/// <param name="DisplayName">Human name, e.g. "Fashion-MNIST".</param>
/// <param name="DebianPackage">Debian package that installs the files into <paramref name="SystemFolder"/>, or null if none.</param>
/// <param name="SystemFolder">System-wide folder searched, e.g. "/usr/share/datasets/fashion-mnist".</param>
/// <param name="BaseUrls">Official download locations, tried in order; a file's URL is base + FileName.</param>
/// <param name="TrainImages">Training images, [60000, 28, 28].</param>
/// <param name="TrainLabels">Training labels, [60000].</param>
/// <param name="TestImages">Test images, [10000, 28, 28].</param>
/// <param name="TestLabels">Test labels, [10000].</param>
/// <param name="ClassNames">Names of labels 0..9.</param>
public sealed record MnistFamilyDataset(
    string Name,
    string DisplayName,
    string? DebianPackage,
    string SystemFolder,
    IReadOnlyList<string> BaseUrls,
    IdxResource TrainImages,
    IdxResource TrainLabels,
    IdxResource TestImages,
    IdxResource TestLabels,
    IReadOnlyList<string> ClassNames)
{
    /// <summary>Images are 28 x 28, one channel.</summary>
    public const int ImageSize = 28;

    /// <summary>All four files, training first.</summary>
    public IReadOnlyList<IdxResource> Files => [TrainImages, TrainLabels, TestImages, TestLabels];

    /// <summary>The (images, labels) files of a split.</summary>
    public (IdxResource Images, IdxResource Labels) FilesOf(DatasetSplit split) =>
        DatasetSplits.Check(split) == DatasetSplit.Train ? (TrainImages, TrainLabels) : (TestImages, TestLabels);
}

/// <summary>
/// Finds, downloads and loads MNIST-family datasets (MNIST, Fashion-MNIST): 28 x 28 grey images in 10 classes,
/// stored as four IDX files. Search order: explicit path, FOVEA_DATA, the system folder (/usr/share/datasets/&lt;name&gt;),
/// the cache folder; then a download into the cache unless offline.
/// </summary>
public static class MnistFamily
{
    /// <summary>Fashion-MNIST (Zalando): 10 kinds of clothing. Checksums: MD5s from the official README;
    /// content SHA-256s measured on the Debian package dataset-fashion-mnist, whose .gz files Debian recompressed
    /// (so their .gz MD5s differ from the README's while the decompressed content is the same data).</summary>
    public static MnistFamilyDataset FashionMnist { get; } = new(
        Name: "fashion-mnist",
        DisplayName: "Fashion-MNIST",
        DebianPackage: "dataset-fashion-mnist",
        SystemFolder: "/usr/share/datasets/fashion-mnist",
        BaseUrls: ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        TrainImages: new("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        TrainLabels: new("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        TestImages: new("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        TestLabels: new("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        ClassNames: ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]);

    /// <summary>MNIST handwritten digits. MD5s of the .gz files as published alongside torchvision's MNIST;
    /// no content SHA-256 is recorded, so local copies are checked for structure only (and refused when they are
    /// Fashion-MNIST's files, which have the same names and shapes).</summary>
    public static MnistFamilyDataset Mnist { get; } = new(
        Name: "mnist",
        DisplayName: "MNIST",
        DebianPackage: null,
        SystemFolder: "/usr/share/datasets/mnist",
        BaseUrls:
        [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ],
        TrainImages: new("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", null),
        TrainLabels: new("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", null),
        TestImages: new("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", null),
        TestLabels: new("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", null),
        ClassNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);

    /// <summary>The per-dataset cache folder: $XDG_CACHE_HOME/fovea/datasets/&lt;name&gt;, else ~/.cache/fovea/datasets/&lt;name&gt;
    /// (on Windows, %LOCALAPPDATA%\fovea\datasets\&lt;name&gt;).</summary>
    public static string DefaultCacheFolder(MnistFamilyDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return DatasetSearch.DefaultCacheFolder(dataset.Name);
    }

    /// <summary>
    /// Loads one split as an <see cref="InMemoryDataset"/>: sample shape [1, 28, 28], pixels scaled to [0, 1], labels 0..9.
    /// </summary>
    /// <param name="dataset">Which dataset, e.g. <see cref="FashionMnist"/>.</param>
    /// <param name="split">Train (60,000 images) or test (10,000).</param>
    /// <param name="path">A folder holding the files (gzip or plain), or its parent holding a &lt;name&gt; folder; when given,
    /// the only place searched (no fallback to other folders or a download). Null to search FOVEA_DATA, the system folder,
    /// the cache, then download.</param>
    /// <param name="options">Search and download settings; null for defaults.</param>
    /// <exception cref="DatasetNotFoundException">The files are nowhere searched and could not be downloaded.</exception>
    /// <exception cref="InvalidDataException">A file was found but is damaged or fails its checksum; the message names it.</exception>
    public static InMemoryDataset Load(MnistFamilyDataset dataset, DatasetSplit split, string? path = null, DatasetLoadOptions? options = null)
    {
        options ??= new DatasetLoadOptions();
        var (imagesPath, labelsPath) = Locate(dataset, split, path, options);
        var (imagesRes, labelsRes) = dataset.FilesOf(split);
        var images = IdxReader.ReadImages(imagesPath);
        var labels = IdxReader.ReadLabels(labelsPath);
        if (options.VerifyChecksums)
        {
            CheckContent(dataset, imagesRes, images);
            CheckContent(dataset, labelsRes, labels);
        }
        int n = images.Dimensions[0];
        const int size = MnistFamilyDataset.ImageSize;
        if (images.Dimensions[1] != size || images.Dimensions[2] != size)
            throw new InvalidDataException($"IDX file '{imagesPath}' holds images of {images.Dimensions[1]} x {images.Dimensions[2]}; {dataset.DisplayName} images are {size} x {size}.");
        if (labels.Dimensions[0] != n)
            throw new InvalidDataException($"IDX file '{labelsPath}' holds {labels.Dimensions[0]} labels but '{imagesPath}' holds {n} images.");

        var labelValues = new int[n];
        for (int i = 0; i < n; i++)
        {
            int label = labels.Data[i];
            if (label >= dataset.ClassNames.Count)
                throw new InvalidDataException($"IDX file '{labelsPath}' has label {label} at index {i}; {dataset.DisplayName} has {dataset.ClassNames.Count} classes.");
            labelValues[i] = label;
        }
        // Kept as bytes (read as value / 255): a quarter of the memory of a float copy.
        return new InMemoryDataset(images.Data, 255f, labelValues, [1, size, size], dataset.ClassNames);
    }

    /// <summary>
    /// Finds (or downloads) the image and label files of a split without reading them.
    /// Returns full paths; each may be gzip-compressed or plain.
    /// </summary>
    /// <exception cref="DatasetNotFoundException">Not found anywhere and not downloadable.</exception>
    public static (string Images, string Labels) Locate(MnistFamilyDataset dataset, DatasetSplit split, string? path = null, DatasetLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        options ??= new DatasetLoadOptions();
        var (imagesRes, labelsRes) = dataset.FilesOf(split);
        var searched = new List<string>();

        var candidates = new List<(string Folder, string Origin)>();
        if (!string.IsNullOrEmpty(path))
        {
            // A folder the caller named is the only place to look: quietly using a copy found elsewhere would
            // evaluate or train on data the caller did not choose.
            DatasetSearch.AddWithSubfolder(candidates, path, "path given", dataset.Name);
            foreach (var (folder, origin) in candidates)
            {
                string? images = FindFile(folder, imagesRes), labels = FindFile(folder, labelsRes);
                if (images is not null && labels is not null)
                {
                    options.Log?.Invoke($"{dataset.DisplayName} {split}: using {folder} ({origin}).");
                    return (images, labels);
                }
            }
            throw new DatasetNotFoundException(dataset.Name, candidates.Select(c => c.Folder).ToArray(),
                $"{dataset.DisplayName} {split} files {imagesRes.FileName} and {labelsRes.FileName} (gzip-compressed or not) are not in " +
                $"{path} or its subfolder {dataset.Name}; the folder given is the only place searched. Omit it to search the usual places.");
        }
        var usualPlaces = DatasetSearch.UsualPlaces(dataset.Name, dataset.SystemFolder, options, out string cacheFolder);
        foreach (var (folder, origin) in usualPlaces)
        {
            string? images = FindFile(folder, imagesRes);
            string? labels = FindFile(folder, labelsRes);
            if (images is not null && labels is not null)
            {
                options.Log?.Invoke($"{dataset.DisplayName} {split}: using {folder} ({origin}).");
                return (images, labels);
            }
            string why = !Directory.Exists(folder) ? "folder does not exist"
                : $"missing {string.Join(" and ", new[] { images is null ? imagesRes : null, labels is null ? labelsRes : null }.OfType<IdxResource>().Select(r => r.FileName))}";
            searched.Add($"{folder} ({origin}: {why})");
        }

        Exception? downloadError = null;
        if (!DatasetSearch.IsOffline(options, out string downloadNote))
        {
            try
            {
                string images = FindFile(cacheFolder, imagesRes) ?? DatasetSearch.Download(dataset.BaseUrls, imagesRes.FileName, imagesRes.GzipMd5, cacheFolder, options);
                string labels = FindFile(cacheFolder, labelsRes) ?? DatasetSearch.Download(dataset.BaseUrls, labelsRes.FileName, labelsRes.GzipMd5, cacheFolder, options);
                return (images, labels);
            }
            catch (Exception ex) when (DatasetSearch.IsDownloadFailure(ex))
            {
                downloadError = ex;
                downloadNote = $"download from {dataset.BaseUrls[0]} failed: {ex.Message}";
            }
        }

        throw new DatasetNotFoundException(dataset.Name, searched, BuildNotFoundMessage(dataset, split, cacheFolder, searched, downloadNote), downloadError);
    }

    /// <summary>Checks a file against the official checksums: the .gz MD5 when the file is a byte-identical official .gz,
    /// otherwise the content SHA-256 when known. Returns null when it matches, else a description of the mismatch.</summary>
    public static string? VerifyFile(IdxResource resource, string path)
    {
        ArgumentNullException.ThrowIfNull(resource);
        string md5 = DatasetSearch.FileMd5(path);
        if (md5 == resource.GzipMd5) return null;
        if (resource.ContentSha256 is null)
            return $"'{path}' has MD5 {md5}, not the official {resource.GzipMd5}, and no content checksum is known for {resource.FileName}.";
        string sha = IdxReader.Read(path).ComputeContentSha256();
        return sha == resource.ContentSha256 ? null
            : $"'{path}' decompresses to content with SHA-256 {sha}, expected {resource.ContentSha256} for {resource.FileName}.";
    }

    private static void CheckContent(MnistFamilyDataset dataset, IdxResource resource, IdxFile file)
    {
        if (resource.ContentSha256 is null)
        {
            // No checksum of this data set's content is on record (MNIST), but the family shares file names and shapes:
            // another member's files, recognised by theirs, would be read without a word (Fashion-MNIST's clothing under
            // MNIST's digit labels, say).
            string content = file.ComputeContentSha256();
            foreach (var other in new[] { FashionMnist, Mnist }.Where(d => d.Name != dataset.Name))
                if (other.Files.FirstOrDefault(f => f.ContentSha256 == content) is { } theirs)
                    throw new InvalidDataException($"IDX file '{file.Path}' is {other.DisplayName}'s {theirs.FileName}, not {dataset.DisplayName}'s " +
                        $"{resource.FileName}. Load {other.DisplayName} to use it (--dataset {other.Name}), or give the folder that holds {dataset.DisplayName}'s files.");
            return;
        }
        string sha = file.ComputeContentSha256();
        if (sha != resource.ContentSha256)
            throw new InvalidDataException(
                $"IDX file '{file.Path}' does not match the official {resource.FileName}: its content SHA-256 is {sha}, expected {resource.ContentSha256}. " +
                "Delete or replace it (or, from the library, load it with DatasetLoadOptions.VerifyChecksums = false).");
    }

    private static string? FindFile(string folder, IdxResource resource)
    {
        foreach (string name in new[] { resource.FileName, resource.PlainName })
        {
            string p = Path.Combine(folder, name);
            if (File.Exists(p)) return Path.GetFullPath(p);
        }
        return null;
    }

    private static string BuildNotFoundMessage(MnistFamilyDataset dataset, DatasetSplit split, string cacheFolder, List<string> searched, string downloadNote)
    {
        string files = string.Join(", ", dataset.Files.Select(f => f.FileName));
        string install = dataset.DebianPackage is null ? "" : $"run \"sudo apt-get install {dataset.DebianPackage}\" (it installs them into {dataset.SystemFolder}), or ";
        string places = string.Join("; ", searched.Select((s, i) => $"{i + 1}) {s}"));
        return $"{dataset.DisplayName} ({split.ToString().ToLowerInvariant()} split) was not found. To get it, {install}" +
               $"download the four files {files} from {dataset.BaseUrls[0]} into {cacheFolder}, " +
               $"or name a folder (Load's path argument, --data <folder> on the command line, or FOVEA_DATA) that holds them, gzip-compressed or not. " +
               $"Searched: {places}; {downloadNote}.";
    }
}

/// <summary>Fashion-MNIST: 28 x 28 grey images of clothing in 10 classes (T-shirt/top, Trouser, Pullover, Dress, Coat,
/// Sandal, Shirt, Sneaker, Bag, Ankle boot); 60,000 for training, 10,000 for testing.</summary>
public static class FashionMnist
{
    /// <summary>The dataset's description (files, URLs, checksums, classes).</summary>
    public static MnistFamilyDataset Descriptor => MnistFamily.FashionMnist;

    /// <summary>Class names, label order.</summary>
    public static IReadOnlyList<string> ClassNames => MnistFamily.FashionMnist.ClassNames;

    /// <summary>Loads a split: shape [1, 28, 28], pixels in [0, 1]. See <see cref="MnistFamily.Load"/> for the search order.</summary>
    public static InMemoryDataset Load(DatasetSplit split, string? path = null, DatasetLoadOptions? options = null) =>
        MnistFamily.Load(MnistFamily.FashionMnist, split, path, options);
}

/// <summary>MNIST: 28 x 28 grey images of handwritten digits 0-9; 60,000 for training, 10,000 for testing.</summary>
public static class Mnist
{
    /// <summary>The dataset's description (files, URLs, checksums, classes).</summary>
    public static MnistFamilyDataset Descriptor => MnistFamily.Mnist;

    /// <summary>Class names "0".."9".</summary>
    public static IReadOnlyList<string> ClassNames => MnistFamily.Mnist.ClassNames;

    /// <summary>Loads a split: shape [1, 28, 28], pixels in [0, 1]. See <see cref="MnistFamily.Load"/> for the search order.</summary>
    public static InMemoryDataset Load(DatasetSplit split, string? path = null, DatasetLoadOptions? options = null) =>
        MnistFamily.Load(MnistFamily.Mnist, split, path, options);
}
