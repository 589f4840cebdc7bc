using Fovea.Data;
using static Fovea.Tests.Data.CifarTestFiles;

namespace Fovea.Tests.Data;

// Some tests here set FOVEA_OFFLINE: in the collection of the MNIST loader's tests, which never run beside each other.
[Collection("MnistFamily environment")]
public class Cifar10Tests
{
    private static readonly int[] TrainOrder = [0, 1, 2, 3, 4];

    /// <summary>Options that search nothing but the folder given (or the cache named), never the network.</summary>
    private static DatasetLoadOptions Isolated(TempFolder cache, bool verify = true) =>
        new() { Offline = true, EnvironmentFolder = "", SystemFolder = "", CacheFolder = cache.Path, VerifyChecksums = verify };

    [Fact]
    public void ExtractedFilesLoadExactlyInOrderWithClassNames()
    {
        using var dir = new TempFolder();
        using var cache = new TempFolder();
        WriteFolder(dir.Path);
        var train = Cifar10.Load(DatasetSplit.Train, dir.Path, Isolated(cache));
        AssertHolds(train, TrainOrder, 20);
        var test = Cifar10.Load(DatasetSplit.Test, dir.Path, Isolated(cache));
        AssertHolds(test, [5], 20);
        Assert.Equal(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"], test.ClassNames);
        float min = float.MaxValue, max = float.MinValue;
        foreach (float v in train.Images) { min = Math.Min(min, v); max = Math.Max(max, v); }
        Assert.Equal(0f, min);
        Assert.Equal(1f, max);
    }

    [Fact]
    public void ARecordIsReadAsItsRedGreenAndBluePlanes()
    {
        // One record whose channels are flat and different, except for one marked pixel per plane.
        using var dir = new TempFolder();
        using var cache = new TempFolder();
        var record = new byte[3073];
        record[0] = 7;
        Array.Fill(record, (byte)255, 1, 1024);          // red
        Array.Fill(record, (byte)0, 1025, 1024);         // green
        Array.Fill(record, (byte)51, 2049, 1024);        // blue
        record[1 + 1024 + 2 * 32 + 5] = 102;             // green, row 2, column 5
        File.WriteAllBytes(dir.File(TestFile), record);
        var image = Cifar10.Load(DatasetSplit.Test, dir.Path, Isolated(cache)).GetImage(0).ToArray();
        Assert.All(image[..1024], v => Assert.Equal(1f, v));
        Assert.Equal(0.4f, image[1024 + 2 * 32 + 5]);
        Assert.Equal(1023, image[1024..2048].Count(v => v == 0f));
        Assert.All(image[2048..], v => Assert.Equal(0.2f, v));
    }

    [Fact]
    public void TheBatchesFolderItselfItsParentAndACifar10SubfolderAllWork()
    {
        using var root = new TempFolder();
        using var cache = new TempFolder();
        string batches = Path.Combine(root.Path, "cifar10", Folder);
        WriteFolder(batches);
        foreach (string given in new[] { batches, Path.Combine(root.Path, "cifar10"), root.Path })
        {
            var log = new List<string>();
            var test = Cifar10.Load(DatasetSplit.Test, given, Isolated(cache) with { Log = log.Add });
            AssertHolds(test, [5], 20);
            Assert.Equal([$"CIFAR-10 Test: using {batches} (path given)."], log);
        }
    }

    [Fact]
    public void TheArchiveIsReadWithoutExtractingAndItsChecksumIsVerified()
    {
        using var dir = new TempFolder();
        using var cache = new TempFolder();
        string archive = dir.File(Archive);
        WriteArchive(archive);
        var dataset = Cifar10.Descriptor with { ArchiveMd5 = Md5(archive) };
        var log = new List<string>();
        AssertHolds(Cifar10.Load(dataset, DatasetSplit.Train, dir.Path, Isolated(cache) with { Log = log.Add }), TrainOrder, 20);
        AssertHolds(Cifar10.Load(dataset, DatasetSplit.Test, dir.Path, Isolated(cache)), [5], 20);
        Assert.Equal([$"CIFAR-10 Train: using {archive} (path given)."], log);
        Assert.Equal([Archive], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));

        // The official checksum does not fit this archive: refused, naming it, unless checksums are off.
        var ex = Assert.Throws<InvalidDataException>(() => Cifar10.Load(DatasetSplit.Test, dir.Path, Isolated(cache)));
        Assert.Contains($"'{archive}' has MD5 {Md5(archive)}, expected c32a1d4ab5d03f1284b67883e8d87530", ex.Message);
        Assert.Contains("VerifyChecksums", ex.Message);
        AssertHolds(Cifar10.Load(DatasetSplit.Test, dir.Path, Isolated(cache, verify: false)), [5], 20);
    }

    [Fact]
    public void BatchesOfManyChunksLoadInOrderFromFilesAndFromAnArchiveThatHoldsThemInAnotherOrder()
    {
        // 50 records a batch: the reader takes 21 at a time, so a batch ends in a part-chunk.
        using var dir = new TempFolder();
        using var cache = new TempFolder();
        WriteFolder(Path.Combine(dir.Path, Folder), recordsPerFile: 50);
        AssertHolds(Cifar10.Load(DatasetSplit.Train, dir.Path, Isolated(cache)), TrainOrder, 50);

        using var other = new TempFolder();
        string archive = other.File(Archive);
        WriteArchive(archive, files: Release(50).AsEnumerable().Reverse());
        AssertHolds(Cifar10.Load(DatasetSplit.Train, other.Path, Isolated(cache, verify: false)), TrainOrder, 50);

        // A label out of range in a later chunk is named by its record; so is an entry shorter than the first one read.
        string test = Path.Combine(dir.Path, Folder, TestFile);
        var bytes = File.ReadAllBytes(test);
        bytes[45 * 3073] = 200;
        File.WriteAllBytes(test, bytes);
        var ex = Assert.Throws<InvalidDataException>(() => Cifar10.Load(DatasetSplit.Test, dir.Path, Isolated(cache)));
        Assert.Contains($"'{test}' has label 200 in record 45 (byte 138,285); labels are 0-9", ex.Message);
        WriteArchive(archive, files: Release(50).Select(f => f.Name == "data_batch_1.bin" ? (f.Name, f.Bytes[..(49 * 3073)]) : f).Reverse());
        ex = Assert.Throws<InvalidDataException>(() => Cifar10.Load(DatasetSplit.Train, other.Path, Isolated(cache, verify: false)));
        Assert.Contains($"'{archive}' entry cifar-10-batches-bin/data_batch_1.bin holds 49 records but '{archive}' entry cifar-10-batches-bin/data_batch_5.bin holds 50", ex.Message);
    }

    [Fact]
    public void ExtractedFilesAreTakenBeforeTheArchiveBesideThem()
    {
        using var dir = new TempFolder();
        using var cache = new TempFolder();
        WriteFolder(Path.Combine(dir.Path, Folder), recordsPerFile: 3);
        File.WriteAllText(dir.File(Archive), "not read: the extracted files come first");
        AssertHolds(Cifar10.Load(DatasetSplit.Train, dir.Path, Isolated(cache)), TrainOrder, 3);
    }

    [Theory]
    [InlineData(-100, "has 61,360 bytes, not a whole number of 3,073-byte records")]
    [InlineData(-3073, "holds 19 records but")]
    public void ATruncatedBatchIsNamed(int cut, string expected)
    {
        using var dir = new TempFolder();
        using var cache = new TempFolder();
        WriteFolder(dir.Path);
        string path = dir.File("data_batch_3.bin");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length + cut)]);
        var ex = Assert.Throws<InvalidDataException>(() => Cifar10.Load(DatasetSplit.Train, dir.Path, Isolated(cache)));
        Assert.Contains(path, ex.Message);
        Assert.Contains(expected, ex.Message);
        Assert.Contains("10,000", ex.Message);
    }

    [Fact]
    public void AnEmptyBatchAndALabelOutOfRangeAreNamed()
    {
        using var dir = new TempFolder();
        using var cache = new TempFolder();
        WriteFolder(dir.Path);
        var bytes = File.ReadAllBytes(dir.File(TestFile));
        bytes[4 * 3073] = 10;
        File.WriteAllBytes(dir.File(TestFile), bytes);
        var ex = Assert.Throws<InvalidDataException>(() => Cifar10.Load(DatasetSplit.Test, dir.Path, Isolated(cache)));
        Assert.Contains($"'{dir.File(TestFile)}' has label 10 in record 4 (byte 12,292); labels are 0-9", ex.Message);

        File.WriteAllBytes(dir.File(TestFile), []);
        ex = Assert.Throws<InvalidDataException>(() => Cifar10.Load(DatasetSplit.Test, dir.Path, Isolated(cache)));
        Assert.Contains($"'{dir.File(TestFile)}' has 0 bytes", ex.Message);
    }

    [Fact]
    public void ATruncatedOrDamagedArchiveIsNamed()
    {
        using var dir = new TempFolder();
        using var cache = new TempFolder();
        string archive = dir.File(Archive);
        WriteArchive(archive);
        var whole = File.ReadAllBytes(archive);

        // Cut in half: the reader runs out of data before the batches it needs.
        File.WriteAllBytes(archive, whole[..(whole.Length / 2)]);
        var ex = Assert.Throws<InvalidDataException>(() => Cifar10.Load(DatasetSplit.Train, dir.Path, Isolated(cache, verify: false)));
        Assert.Contains($"CIFAR-10 archive '{archive}'", ex.Message);
        Assert.Matches("is damaged or truncated|ends without", ex.Message);
        Assert.Contains("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", ex.Message);

        // Not gzip at all.
        File.WriteAllBytes(archive, whole[100..]);
        ex = Assert.Throws<InvalidDataException>(() => Cifar10.Load(DatasetSplit.Test, dir.Path, Isolated(cache, verify: false)));
        Assert.Contains($"CIFAR-10 archive '{archive}' is damaged or truncated", ex.Message);

        // A whole archive without the test batch, and one whose batch is cut short.
        WriteArchive(archive, files: Release(20).Where(f => f.Name != TestFile));
        ex = Assert.Throws<InvalidDataException>(() => Cifar10.Load(DatasetSplit.Test, dir.Path, Isolated(cache, verify: false)));
        Assert.Contains($"CIFAR-10 archive '{archive}' ends without cifar-10-batches-bin/test_batch.bin", ex.Message);
        WriteArchive(archive, files: Release(20).Select(f => f.Name == "data_batch_2.bin" ? (f.Name, f.Bytes[..^5]) : f));
        ex = Assert.Throws<InvalidDataException>(() => Cifar10.Load(DatasetSplit.Train, dir.Path, Isolated(cache, verify: false)));
        Assert.Contains($"'{archive}' entry cifar-10-batches-bin/data_batch_2.bin has 61,455 bytes", ex.Message);
    }

    [Fact]
    public void SearchOrderIsEnvironmentFolderThenSystemFolderThenCache()
    {
        using var env = new TempFolder();
        using var system = new TempFolder();
        using var cache = new TempFolder();
        WriteFolder(Path.Combine(env.Path, "cifar10"), recordsPerFile: 1);   // FOVEA_DATA/<name>
        WriteArchive(system.File(Archive), recordsPerFile: 2);
        WriteFolder(cache.Path, recordsPerFile: 3);
        var options = new DatasetLoadOptions { Offline = true, EnvironmentFolder = env.Path, SystemFolder = system.Path, CacheFolder = cache.Path, VerifyChecksums = false };
        Assert.Equal(1, Cifar10.Load(DatasetSplit.Test, null, options).Count);
        Assert.Equal(2, Cifar10.Load(DatasetSplit.Test, null, options with { EnvironmentFolder = "" }).Count);
        Assert.Equal(3, Cifar10.Load(DatasetSplit.Test, null, options with { EnvironmentFolder = "", SystemFolder = "" }).Count);
    }

    [Fact]
    public void AFolderGivenExplicitlyIsTheOnlyPlaceSearched()
    {
        using var given = new TempFolder();
        using var cache = new TempFolder();
        WriteFolder(cache.Path);
        File.WriteAllBytes(given.File("data_batch_1.bin"), Batch(0, 20));
        var ex = Assert.Throws<DatasetNotFoundException>(() => Cifar10.Load(DatasetSplit.Train, given.Path, Isolated(cache)));
        Assert.Contains(given.Path, ex.Message);
        Assert.Contains("missing data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin", ex.Message);
        Assert.Contains("only place searched", ex.Message);
        Assert.DoesNotContain(cache.Path, ex.Message);
        Assert.Equal(100, Cifar10.Load(DatasetSplit.Train, null, Isolated(cache)).Count); // without a folder the cache serves
    }

    [Fact]
    public void OfflineAndNowhereFoundSaysHowToGetTheArchiveAndWhereItLooked()
    {
        using var empty = new TempFolder();
        using var cache = new TempFolder();
        string? before = Environment.GetEnvironmentVariable("FOVEA_OFFLINE");
        Environment.SetEnvironmentVariable("FOVEA_OFFLINE", "1");
        try
        {
            var ex = Assert.Throws<DatasetNotFoundException>(() => Cifar10.Load(DatasetSplit.Train, null, new DatasetLoadOptions
            {
                EnvironmentFolder = empty.Path, SystemFolder = Path.Combine(empty.Path, "no-system"), CacheFolder = cache.Path,
            }));
            Assert.StartsWith("CIFAR-10 (train split) was not found. To get it, download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz " +
                $"(MD5 c32a1d4ab5d03f1284b67883e8d87530) and put it, as it is, into {cache.Path}", ex.Message);
            Assert.Contains($"curl --create-dirs -o {cache.File(Archive)} https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", ex.Message);
            Assert.Contains("--data <folder>", ex.Message);
            Assert.Contains("Load's path argument", ex.Message);   // a library user has no command line
            Assert.Contains("cifar-10-batches-bin", ex.Message);
            Assert.Contains($"{empty.Path} (FOVEA_DATA: no cifar-10-binary.tar.gz; missing data_batch_1.bin", ex.Message);
            Assert.Contains($"{Path.Combine(empty.Path, "no-system")} (system folder: folder does not exist)", ex.Message);
            Assert.Contains("download skipped because FOVEA_OFFLINE is set", ex.Message);
            Assert.DoesNotContain("\n", ex.Message);
            Assert.Equal("cifar10", ex.DatasetName);
            Assert.Contains(ex.Searched, s => s.StartsWith(cache.Path, StringComparison.Ordinal));
        }
        finally
        {
            Environment.SetEnvironmentVariable("FOVEA_OFFLINE", before);
        }
    }

    private static DatasetLoadOptions DownloadInto(string cache) => new()
    {
        Offline = false, EnvironmentFolder = "", SystemFolder = "", CacheFolder = cache, DownloadTimeout = TimeSpan.FromSeconds(20),
    };

    [Fact]
    public void DownloadsTheArchiveIntoTheCacheAndReadsItFromThere()
    {
        using var served = new TempFolder();
        using var cache = new TempFolder();
        using var server = new LocalFileServer(served.Path, "kriz");
        WriteArchive(served.File(Archive));
        var dataset = Cifar10.Descriptor with { BaseUrls = [server.BaseUrl], ArchiveMd5 = Md5(served.File(Archive)) };
        var log = new List<string>();
        AssertHolds(Cifar10.Load(dataset, DatasetSplit.Test, null, DownloadInto(cache.Path) with { Log = log.Add }), [5], 20);
        Assert.Equal([Archive], server.Requests);
        Assert.Contains($"Downloading {server.BaseUrl}{Archive} ...", log);
        // The cache holds the archive alone, byte for byte (no extracted files, no .part file), and serves the next load.
        Assert.Equal([Archive], Directory.GetFileSystemEntries(cache.Path).Select(Path.GetFileName));
        Assert.Equal(File.ReadAllBytes(served.File(Archive)), File.ReadAllBytes(cache.File(Archive)));
        AssertHolds(Cifar10.Load(dataset, DatasetSplit.Train, null, DownloadInto(cache.Path)), TrainOrder, 20);
        Assert.Single(server.Requests);
    }

    [Fact]
    public void ADownloadWithTheWrongChecksumIsRefusedAndNothingIsSaved()
    {
        using var served = new TempFolder();
        using var cache = new TempFolder();
        using var server = new LocalFileServer(served.Path, "kriz");
        WriteArchive(served.File(Archive));
        var dataset = Cifar10.Descriptor with { BaseUrls = [server.BaseUrl] };
        var ex = Assert.Throws<DatasetNotFoundException>(() => Cifar10.Load(dataset, DatasetSplit.Test, null, DownloadInto(cache.Path)));
        Assert.Contains($"downloaded {server.BaseUrl}{Archive} has MD5 {Md5(served.File(Archive))}, expected c32a1d4ab5d03f1284b67883e8d87530", ex.Message);
        Assert.Contains($"download from {server.BaseUrl} failed", ex.Message);
        Assert.IsType<IOException>(ex.InnerException);
        Assert.Empty(Directory.GetFileSystemEntries(cache.Path));

        // Nothing served at all: the 404 is reported the same way.
        File.Delete(served.File(Archive));
        ex = Assert.Throws<DatasetNotFoundException>(() => Cifar10.Load(dataset, DatasetSplit.Test, null, DownloadInto(cache.Path)));
        Assert.Contains("404", ex.Message);
        Assert.Empty(Directory.GetFileSystemEntries(cache.Path));
    }

    [Fact]
    public void HoldsDataTellsACifarFolderFromAnImageFolder()
    {
        using var dir = new TempFolder();
        Directory.CreateDirectory(dir.File("cat"));
        Assert.False(Cifar10.HoldsData(dir.Path));
        File.WriteAllBytes(dir.File(TestFile), Batch(5, 1));
        Assert.True(Cifar10.HoldsData(dir.Path));
        using var parent = new TempFolder();
        Directory.CreateDirectory(Path.Combine(parent.Path, "cifar10", Folder));
        Assert.True(Cifar10.HoldsData(parent.Path));
        using var withArchive = new TempFolder();
        File.WriteAllText(withArchive.File(Archive), "");
        Assert.True(Cifar10.HoldsData(withArchive.Path));
    }

    [Fact]
    public void CacheFolderFollowsXdgCacheHome()
    {
        string? before = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        try
        {
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", "/tmp/xdg-test");
            Assert.Equal("/tmp/xdg-test/fovea/datasets/cifar10", Cifar10.DefaultCacheFolder());
        }
        finally
        {
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", before);
        }
    }
}
