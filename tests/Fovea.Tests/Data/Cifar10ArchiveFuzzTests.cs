using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Fovea.Data;
using static Fovea.Tests.Data.CifarTestFiles;

namespace Fovea.Tests.Data;

/// <summary>
/// Damaged CIFAR-10 archives found by mutation fuzzing: each once escaped from .NET's TarReader as an OverflowException or
/// InvalidOperationException, or allocated hundreds of megabytes for a header's size, instead of an InvalidDataException
/// naming the archive.
/// </summary>
[Collection("MnistFamily environment")]
public class Cifar10ArchiveFuzzTests
{
    /// <summary>An uncompressed PAX tar of the test batch (one record), its file entry's header patched by <paramref name="patch"/>.</summary>
    private static byte[] Tar(Action<byte[], int, int>? patch = null)
    {
        using var ms = new MemoryStream();
        using (var tar = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, $"{Folder}/{TestFile}") { DataStream = new MemoryStream(Batch(5, 1)) });
        var bytes = ms.ToArray();
        // PAX writes an extended-attributes header ('x') and then the file's own header ('0').
        int extended = Enumerable.Range(0, bytes.Length / 512).Select(i => i * 512).First(o => bytes[o + 156] == (byte)'x');
        int file = Enumerable.Range(0, bytes.Length / 512).Select(i => i * 512).First(o => bytes[o + 156] == (byte)'0');
        patch?.Invoke(bytes, extended, file);
        return bytes;
    }

    /// <summary>Writes <paramref name="size"/> into the size field of the header at <paramref name="header"/> and fixes its checksum.</summary>
    private static void SetSize(byte[] tar, int header, long size)
    {
        Encoding.ASCII.GetBytes(Convert.ToString(size, 8).PadLeft(11, '0') + "\0").CopyTo(tar, header + 124);
        for (int i = 0; i < 8; i++) tar[header + 148 + i] = (byte)' ';
        int sum = tar.AsSpan(header, 512).ToArray().Sum(b => b);
        Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(tar, header + 148);
    }

    private static InvalidDataException LoadFails(byte[] tar)
    {
        using var dir = new TempFolder();
        using var cache = new TempFolder();
        string archive = dir.File(Archive);
        using (var gzip = new GZipStream(File.Create(archive), CompressionLevel.Fastest)) gzip.Write(tar);
        var options = new DatasetLoadOptions { Offline = true, EnvironmentFolder = "", SystemFolder = "", CacheFolder = cache.Path, VerifyChecksums = false };
        var e = Assert.Throws<InvalidDataException>(() => Cifar10.Load(DatasetSplit.Test, dir.Path, options));
        Assert.Contains($"CIFAR-10 archive '{archive}'", e.Message);
        return e;
    }

    [Fact]
    public void TheUntouchedArchiveLoads()
    {
        using var dir = new TempFolder();
        using (var gzip = new GZipStream(File.Create(dir.File(Archive)), CompressionLevel.Fastest)) gzip.Write(Tar());
        var options = new DatasetLoadOptions { Offline = true, EnvironmentFolder = "", SystemFolder = "", VerifyChecksums = false };
        Assert.Equal(1, Cifar10.Load(DatasetSplit.Test, dir.Path, options).Count);
    }

    [Fact]
    public void AModificationTimeOutOfRangeIsADamagedArchive()
    {
        // The extended header's "mtime=1795894845.8107398" made all nines: 10^18 seconds, an OverflowException in TarReader.
        var e = LoadFails(Tar((tar, extended, _) =>
        {
            int at = tar.AsSpan(extended + 512).IndexOf("mtime="u8) + extended + 512 + "mtime=".Length;
            for (; tar[at] != (byte)'\n'; at++) tar[at] = (byte)'9';
        }));
        Assert.Contains("is damaged or truncated", e.Message);
    }

    [Fact]
    public void AnExtendedHeaderTooLargeIsADamagedArchive() =>
        // 6,442,450,998 bytes of extended attributes: TarReader's InvalidOperationException, "size field ... greater than the expected length".
        Assert.Contains("is damaged or truncated", LoadFails(Tar((tar, extended, _) => SetSize(tar, extended, 6_442_450_998))).Message);

    [Fact]
    public void ASizeTheArchiveCannotHoldIsRefusedBeforeAllocatingIt()
    {
        // 170,000 records: 522 MB of pixels, claimed by a 6 KB archive.
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = LoadFails(Tar((tar, _, file) => SetSize(tar, file, 170_000L * 3073)));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 << 20, "the load allocated the records the header claims");
        Assert.Contains($"entry {Folder}/{TestFile} claims 522,410,000 bytes", e.Message);
    }
}
