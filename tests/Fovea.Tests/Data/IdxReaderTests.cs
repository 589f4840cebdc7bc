using Fovea.Data;

namespace Fovea.Tests.Data;

public class IdxReaderTests
{
    [Fact]
    public void AGzipFileOfRealSizeIsReadIntoOneBufferOfItsSize()
    {
        // 20 MB of pixels, gzip: within deflate's bound, so the data buffer is allocated once (a doubling buffer kept
        // 16 + 20 MB, which raised a Fashion-MNIST training run's peak memory by 45 MB).
        using var dir = new TempFolder();
        var random = new Random(4);
        var pixels = new byte[20_000_000];
        random.NextBytes(pixels);
        string path = dir.File("big.idx.gz");
        IdxTestFiles.Write(path, [20_000, 1000, 1], pixels, gzip: true);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var file = IdxReader.Read(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(pixels.Length, file.Data.Length);
        Assert.True(allocated < 1.2 * pixels.Length, $"allocated {allocated:N0} bytes for {pixels.Length:N0}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RoundTripsImagesAndLabels(bool gzip)
    {
        using var dir = new TempFolder();
        var pixels = IdxTestFiles.Pattern(5 * 4 * 3);
        // Deliberately no .gz extension on the gzip file: detection must be by content.
        string imagesPath = dir.File("images.idx");
        IdxTestFiles.Write(imagesPath, [5, 4, 3], pixels, gzip);
        string labelsPath = dir.File("labels.idx");
        IdxTestFiles.Write(labelsPath, [5], [0, 1, 2, 3, 4], gzip);

        Assert.Equal(gzip, IdxReader.IsGzip(imagesPath));
        var images = IdxReader.ReadImages(imagesPath);
        Assert.Equal([5, 4, 3], images.Dimensions);
        Assert.Equal(pixels, images.Data);
        var labels = IdxReader.ReadLabels(labelsPath);
        Assert.Equal([5], labels.Dimensions);
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4 }, labels.Data);
    }

    [Fact]
    public void ContentHashIsIndependentOfCompression()
    {
        using var dir = new TempFolder();
        var pixels = IdxTestFiles.Pattern(2 * 3 * 3);
        IdxTestFiles.Write(dir.File("a"), [2, 3, 3], pixels, gzip: false);
        IdxTestFiles.Write(dir.File("b"), [2, 3, 3], pixels, gzip: true);
        string expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(dir.File("a"))));
        Assert.Equal(expected, IdxReader.Read(dir.File("a")).ComputeContentSha256());
        Assert.Equal(expected, IdxReader.Read(dir.File("b")).ComputeContentSha256());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedDataNamesFileAndCounts(bool gzip)
    {
        using var dir = new TempFolder();
        string path = dir.File("short-images");
        var full = IdxTestFiles.Encode(0x08, [10, 4, 4], IdxTestFiles.Pattern(160));
        IdxTestFiles.WriteRaw(path, full[..(16 + 37)], gzip);
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, ex.Message);
        Assert.Contains("expected 160 bytes of data after the header", ex.Message);
        Assert.Contains("found 37", ex.Message);
    }

    [Fact]
    public void CutGzipStreamNamesFile()
    {
        using var dir = new TempFolder();
        string whole = dir.File("whole.gz");
        IdxTestFiles.Write(whole, [50, 8, 8], IdxTestFiles.Pattern(3200), gzip: true);
        var bytes = File.ReadAllBytes(whole);
        string cut = dir.File("cut.gz");
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(cut));
        Assert.Contains(cut, ex.Message);
    }

    [Fact]
    public void BadMagicNamesFile()
    {
        using var dir = new TempFolder();
        string path = dir.File("not-idx.txt");
        File.WriteAllText(path, "hello, this is not an IDX file");
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path));
        Assert.Contains(path, ex.Message);
        Assert.Contains("bad magic", ex.Message);
    }

    [Fact]
    public void UnsupportedTypeIsRejectedClearly()
    {
        using var dir = new TempFolder();
        string path = dir.File("floats");
        IdxTestFiles.Write(path, [2], new byte[8], gzip: false, type: 0x0D);
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path));
        Assert.Contains(path, ex.Message);
        Assert.Contains("0x0D", ex.Message);
        Assert.Contains("only unsigned bytes (0x08)", ex.Message);
    }

    [Fact]
    public void WrongRankNamesFileAndCounts()
    {
        using var dir = new TempFolder();
        string path = dir.File("labels");
        IdxTestFiles.Write(path, [4], [1, 2, 3, 4], gzip: true);
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, ex.Message);
        Assert.Contains("has 1 dimensions but 3 were expected", ex.Message);
    }

    [Fact]
    public void TrailingBytesAreRejected()
    {
        using var dir = new TempFolder();
        string path = dir.File("long");
        var bytes = IdxTestFiles.Encode(0x08, [3], [1, 2, 3]);
        IdxTestFiles.WriteRaw(path, [.. bytes, 9, 9], gzip: false);
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path));
        Assert.Contains(path, ex.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AHeaderClaimingGigabytesIsTruncationNotAnAllocation(bool gzip)
    {
        // Found by fuzzing: a damaged 11-byte file whose header says 2 billion labels allocated 2 GB before reading 3 bytes.
        using var dir = new TempFolder();
        string path = dir.File("huge-labels");
        IdxTestFiles.WriteRaw(path, IdxTestFiles.Encode(0x08, [2_000_000_000], [1, 2, 3]), gzip);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.ReadLabels(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 << 20, "the read allocated what the header claims");
        Assert.Contains(path, ex.Message);
        Assert.Contains("expected 2000000000 bytes of data after the header", ex.Message);
        Assert.Contains("found 3", ex.Message);
    }

    [Fact]
    public void MissingFileIsFileNotFound()
    {
        using var dir = new TempFolder();
        var ex = Assert.Throws<FileNotFoundException>(() => IdxReader.Read(dir.File("nope")));
        Assert.Contains("nope", ex.Message);
    }
}
