using System.Diagnostics;
using Fovea.Data;

namespace Fovea.Tests.Data;

// Tests here set FOVEA_OFFLINE; one collection keeps them from running beside each other.
[CollectionDefinition("MnistFamily environment", DisableParallelization = true)]
public class MnistFamilyEnvironmentCollection;

[Collection("MnistFamily environment")]
public class MnistFamilyTests
{
    private const string SystemFolder = "/usr/share/datasets/fashion-mnist";

    private static void RequireDebianFashionMnist()
    {
        Assert.True(Directory.Exists(SystemFolder),
            $"{SystemFolder} is missing: install the Debian package with \"sudo apt-get install dataset-fashion-mnist\" (CI installs it).");
    }

    /// <summary>Options that search nothing but the system folder, so results do not depend on the developer's cache or FOVEA_DATA.</summary>
    private static DatasetLoadOptions SystemOnly(TempFolder emptyCache) =>
        new() { Offline = true, EnvironmentFolder = "", CacheFolder = emptyCache.Path };

    [Fact]
    public void FindsDebianFashionMnistAndFilesMatchOfficialChecksums()
    {
        RequireDebianFashionMnist();
        foreach (var file in FashionMnist.Descriptor.Files)
        {
            string path = Path.Combine(SystemFolder, file.FileName);
            Assert.Null(MnistFamily.VerifyFile(file, path));
        }
        using var cache = new TempFolder();
        var (images, labels) = MnistFamily.Locate(FashionMnist.Descriptor, DatasetSplit.Test, options: SystemOnly(cache));
        Assert.Equal(Path.Combine(SystemFolder, "t10k-images-idx3-ubyte.gz"), images);
        Assert.Equal(Path.Combine(SystemFolder, "t10k-labels-idx1-ubyte.gz"), labels);
    }

    [Theory]
    [InlineData(DatasetSplit.Train, 60000)]
    [InlineData(DatasetSplit.Test, 10000)]
    public void LoadsFashionMnistSplit(DatasetSplit split, int expectedCount)
    {
        RequireDebianFashionMnist();
        using var cache = new TempFolder();
        var sw = Stopwatch.StartNew();
        var ds = FashionMnist.Load(split, options: SystemOnly(cache));
        sw.Stop();
        Assert.Equal(expectedCount, ds.Count);
        Assert.Equal([1, 28, 28], ds.SampleShape);
        Assert.Equal(10, ds.ClassNames.Count);
        Assert.Equal("T-shirt/top", ds.ClassNames[0]);
        Assert.Equal("Ankle boot", ds.ClassNames[9]);
        var counts = new int[10];
        foreach (int label in ds.Labels) counts[label]++;
        // Fashion-MNIST is exactly balanced: 6,000 (train) or 1,000 (test) per class.
        Assert.All(counts, c => Assert.Equal(expectedCount / 10, c));
        float min = float.MaxValue, max = float.MinValue;
        foreach (float v in ds.Images) { min = Math.Min(min, v); max = Math.Max(max, v); }
        Assert.Equal(0f, min);
        Assert.Equal(1f, max);
        if (split == DatasetSplit.Train)
        {
            Assert.Equal(9, ds.GetLabel(0)); // the first training image is an ankle boot
            // Generous bound for a Debug build on a busy CI machine; a Release read of the training set takes well under a second.
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"Loading took {sw.Elapsed}.");
        }
    }

    [Fact]
    public void ReadsTrainingImagesQuickly()
    {
        RequireDebianFashionMnist();
        IdxReader.ReadImages(Path.Combine(SystemFolder, "t10k-images-idx3-ubyte.gz")); // warm up
        var sw = Stopwatch.StartNew();
        var f = IdxReader.ReadImages(Path.Combine(SystemFolder, "train-images-idx3-ubyte.gz"));
        sw.Stop();
        Assert.Equal([60000, 28, 28], f.Dimensions);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"Reading the 60k training images took {sw.Elapsed}.");
    }

    [Fact]
    public void ExplicitFolderWithPlainFilesIsUsedFirst()
    {
        using var dir = new TempFolder();
        using var cache = new TempFolder();
        // Tiny stand-in files, uncompressed, under the official plain names.
        IdxTestFiles.Write(dir.File("t10k-images-idx3-ubyte"), [3, 28, 28], IdxTestFiles.Pattern(3 * 784), gzip: false);
        IdxTestFiles.Write(dir.File("t10k-labels-idx1-ubyte"), [3], [7, 0, 9], gzip: false);
        var ds = FashionMnist.Load(DatasetSplit.Test, dir.Path,
            new DatasetLoadOptions { Offline = true, EnvironmentFolder = "", CacheFolder = cache.Path, VerifyChecksums = false });
        Assert.Equal(3, ds.Count);
        Assert.Equal([7, 0, 9], ds.Labels.ToArray());
        Assert.Equal(IdxReader.Read(dir.File("t10k-images-idx3-ubyte")).Data[5] / 255f, ds.GetImage(0)[5]);
    }

    [Fact]
    public void ChecksumMismatchNamesFile()
    {
        using var dir = new TempFolder();
        using var cache = new TempFolder();
        IdxTestFiles.Write(dir.File("t10k-images-idx3-ubyte.gz"), [1, 28, 28], new byte[784], gzip: true);
        IdxTestFiles.Write(dir.File("t10k-labels-idx1-ubyte.gz"), [1], [0], gzip: true);
        var ex = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(DatasetSplit.Test, dir.Path,
            new DatasetLoadOptions { Offline = true, EnvironmentFolder = "", CacheFolder = cache.Path }));
        Assert.Contains(dir.File("t10k-images-idx3-ubyte.gz"), ex.Message);
        Assert.Contains("VerifyChecksums", ex.Message);
    }

    [Fact]
    public void NotFoundMessageSaysHowToGetTheDataAndWhereItLooked()
    {
        using var empty = new TempFolder();
        using var cache = new TempFolder();
        string? before = Environment.GetEnvironmentVariable("FOVEA_OFFLINE");
        Environment.SetEnvironmentVariable("FOVEA_OFFLINE", "1");
        try
        {
            var options = new DatasetLoadOptions { EnvironmentFolder = "", SystemFolder = Path.Combine(empty.Path, "no-system"), CacheFolder = cache.Path };
            var ex = Assert.Throws<DatasetNotFoundException>(() => FashionMnist.Load(DatasetSplit.Train, null, new DatasetLoadOptions
            {
                EnvironmentFolder = empty.Path, SystemFolder = Path.Combine(empty.Path, "no-system"), CacheFolder = cache.Path,
            }));
            Assert.Contains("sudo apt-get install dataset-fashion-mnist", ex.Message);
            Assert.Contains("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", ex.Message);
            Assert.Contains("train-images-idx3-ubyte.gz", ex.Message);
            Assert.Contains("t10k-labels-idx1-ubyte.gz", ex.Message);
            Assert.Contains(cache.Path, ex.Message);
            Assert.Contains("--data <folder>", ex.Message);
            Assert.Contains("Load's path argument", ex.Message);   // a library user has no command line
            Assert.Contains(empty.Path, ex.Message);
            Assert.Contains(Path.Combine(empty.Path, "no-system"), ex.Message);
            Assert.Contains("FOVEA_OFFLINE", ex.Message);
            Assert.DoesNotContain("\n", ex.Message);
            Assert.Equal("fashion-mnist", ex.DatasetName);
            Assert.Contains(ex.Searched, s => s.StartsWith(cache.Path, StringComparison.Ordinal));
        }
        finally
        {
            Environment.SetEnvironmentVariable("FOVEA_OFFLINE", before);
        }
    }

    [Fact]
    public void AFolderGivenExplicitlyIsTheOnlyPlaceSearched()
    {
        using var given = new TempFolder();
        using var cache = new TempFolder();
        // The cache holds the test split, the folder the caller named does not: no quiet fallback to the cache.
        IdxTestFiles.Write(Path.Combine(cache.Path, "t10k-images-idx3-ubyte"), [2, 28, 28], IdxTestFiles.Pattern(2 * 784), gzip: false);
        IdxTestFiles.Write(Path.Combine(cache.Path, "t10k-labels-idx1-ubyte"), [2], [1, 2], gzip: false);
        var options = new DatasetLoadOptions { EnvironmentFolder = "", SystemFolder = "", CacheFolder = cache.Path, Offline = true, VerifyChecksums = false };
        var ex = Assert.Throws<DatasetNotFoundException>(() => FashionMnist.Load(DatasetSplit.Test, given.Path, options));
        Assert.Contains(given.Path, ex.Message);
        Assert.Contains("t10k-images-idx3-ubyte", ex.Message);
        Assert.Contains("only place searched", ex.Message);
        Assert.DoesNotContain(cache.Path, ex.Message);
        Assert.Equal(2, FashionMnist.Load(DatasetSplit.Test, null, options).Count); // without a folder the cache serves
    }

    [Fact]
    public void FailedDownloadGivesUpQuicklyAndLeavesNoPartialFiles()
    {
        using var empty = new TempFolder();
        using var cache = new TempFolder();
        // An unroutable mirror (reserved TEST-NET address) stands in for "no internet"; the short timeout keeps the test fast.
        var unreachable = FashionMnist.Descriptor with { BaseUrls = ["http://192.0.2.1/fashion/"] };
        var options = new DatasetLoadOptions
        {
            Offline = false, EnvironmentFolder = "", SystemFolder = "", CacheFolder = cache.Path, DownloadTimeout = TimeSpan.FromSeconds(1),
        };
        var sw = Stopwatch.StartNew();
        var ex = Assert.Throws<DatasetNotFoundException>(() => MnistFamily.Load(unreachable, DatasetSplit.Test, null, options));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"Giving up took {sw.Elapsed}.");
        Assert.Contains("download from http://192.0.2.1/fashion/ failed", ex.Message);
        Assert.NotNull(ex.InnerException);
        Assert.Empty(Directory.GetFiles(cache.Path));
    }

    private static string Md5(string path) => Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(File.ReadAllBytes(path)));

    /// <summary>Two test images and labels as .gz files in <paramref name="folder"/>; a descriptor that downloads them from
    /// <paramref name="baseUrl"/> with their true MD5s, or with <paramref name="imagesMd5"/> for the images.</summary>
    private static MnistFamilyDataset ServedTestSplit(string folder, string baseUrl, string? imagesMd5 = null)
    {
        string images = System.IO.Path.Combine(folder, "t10k-images-idx3-ubyte.gz"), labels = System.IO.Path.Combine(folder, "t10k-labels-idx1-ubyte.gz");
        IdxTestFiles.Write(images, [2, 28, 28], IdxTestFiles.Pattern(2 * 784), gzip: true);
        IdxTestFiles.Write(labels, [2], [3, 7], gzip: true);
        return FashionMnist.Descriptor with
        {
            BaseUrls = [baseUrl],
            TestImages = new IdxResource("t10k-images-idx3-ubyte.gz", imagesMd5 ?? Md5(images), null),
            TestLabels = new IdxResource("t10k-labels-idx1-ubyte.gz", Md5(labels), null),
        };
    }

    private static DatasetLoadOptions DownloadInto(string cache) => new()
    {
        Offline = false, EnvironmentFolder = "", SystemFolder = "", CacheFolder = cache, DownloadTimeout = TimeSpan.FromSeconds(20),
    };

    [Fact]
    public void DownloadsAndSavesFilesWhoseChecksumMatches()
    {
        using var served = new TempFolder();
        using var cache = new TempFolder();
        using var server = new LocalFileServer(served.Path, "fashion");
        var dataset = ServedTestSplit(served.Path, server.BaseUrl);
        var log = new List<string>();
        var options = DownloadInto(cache.Path) with { Log = log.Add };
        var data = MnistFamily.Load(dataset, DatasetSplit.Test, null, options);
        Assert.Equal(2, data.Count);
        Assert.Equal([3, 7], new[] { data.GetLabel(0), data.GetLabel(1) });
        Assert.Equal(["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"], server.Requests.Order());
        // Saved byte for byte under the official names, and nothing else (no .part file) left behind.
        Assert.Equal(["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"], Directory.GetFiles(cache.Path).Select(System.IO.Path.GetFileName).Order());
        Assert.Equal(File.ReadAllBytes(served.File("t10k-images-idx3-ubyte.gz")), File.ReadAllBytes(cache.File("t10k-images-idx3-ubyte.gz")));
        Assert.Contains(log, l => l.StartsWith($"Downloading {server.BaseUrl}t10k-images-idx3-ubyte.gz"));
        // A second load finds the saved files and asks the server for nothing.
        MnistFamily.Load(dataset, DatasetSplit.Test, null, options);
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public void ADownloadWithTheWrongChecksumIsRefusedAndNothingIsSaved()
    {
        using var served = new TempFolder();
        using var cache = new TempFolder();
        using var server = new LocalFileServer(served.Path, "fashion");
        string wrong = new('0', 32);
        var dataset = ServedTestSplit(served.Path, server.BaseUrl, imagesMd5: wrong);
        var ex = Assert.Throws<DatasetNotFoundException>(() => MnistFamily.Load(dataset, DatasetSplit.Test, null, DownloadInto(cache.Path)));
        Assert.Contains($"has MD5 {Md5(served.File("t10k-images-idx3-ubyte.gz"))}, expected {wrong}", ex.Message);
        Assert.Contains("t10k-images-idx3-ubyte.gz", server.Requests);
        Assert.Empty(Directory.GetFiles(cache.Path));
    }

    [Fact]
    public void AMissingFileOnTheServerIsReportedAndNothingIsSaved()
    {
        using var served = new TempFolder();
        using var cache = new TempFolder();
        using var server = new LocalFileServer(served.Path, "fashion");
        var dataset = ServedTestSplit(served.Path, server.BaseUrl);
        File.Delete(served.File("t10k-labels-idx1-ubyte.gz"));
        var ex = Assert.Throws<DatasetNotFoundException>(() => MnistFamily.Load(dataset, DatasetSplit.Test, null, DownloadInto(cache.Path)));
        Assert.Contains("404", ex.Message);
        // The images came down whole and are kept for next time; the missing labels left no partial file.
        Assert.Equal(["t10k-images-idx3-ubyte.gz"], Directory.GetFiles(cache.Path).Select(System.IO.Path.GetFileName));
    }

    [Fact]
    public void CacheFolderFollowsXdgCacheHome()
    {
        string? before = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        try
        {
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", "/tmp/xdg-test");
            Assert.Equal("/tmp/xdg-test/fovea/datasets/fashion-mnist", MnistFamily.DefaultCacheFolder(FashionMnist.Descriptor));
        }
        finally
        {
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", before);
        }
    }
}
