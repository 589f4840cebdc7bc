using System.Formats.Tar;
using System.IO.Compression;
using Fovea.Data;

namespace Fovea.Tests.Data;

/// <summary>
/// Small stand-ins for the CIFAR-10 binary release: batches of a few records in the real format (label byte, then the red,
/// green and blue planes of 32 x 32), whose labels and pixels follow a formula, so a test can check every value it loads.
/// </summary>
internal static class CifarTestFiles
{
    public static readonly string[] TrainFiles = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
    public const string TestFile = "test_batch.bin";
    public const string Folder = "cifar-10-batches-bin";
    public const string Archive = "cifar-10-binary.tar.gz";

    /// <summary>File <paramref name="file"/> of the release: 0..4 the training batches, 5 the test batch.</summary>
    public static string FileName(int file) => file < 5 ? TrainFiles[file] : TestFile;

    /// <summary>Label of record <paramref name="record"/> of file <paramref name="file"/>: every class occurs.</summary>
    public static int Label(int file, int record) => (file * 3 + record) % 10;

    /// <summary>The pixel at channel c, row y, column x: the three channels, rows and columns all differ, so a
    /// transposed or interleaved read shows.</summary>
    public static byte Pixel(int file, int record, int c, int y, int x) => (byte)(file * 41 + record * 7 + c * 85 + y * 3 + x);

    /// <summary>One batch file's bytes: <paramref name="records"/> records of 3,073 bytes.</summary>
    public static byte[] Batch(int file, int records)
    {
        var bytes = new byte[records * 3073];
        for (int r = 0; r < records; r++)
        {
            int o = r * 3073;
            bytes[o] = (byte)Label(file, r);
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++)
                        bytes[o + 1 + c * 1024 + y * 32 + x] = Pixel(file, r, c, y, x);
        }
        return bytes;
    }

    /// <summary>The six batches and batches.meta.txt, as (name, bytes).</summary>
    public static List<(string Name, byte[] Bytes)> Release(int recordsPerFile)
    {
        var files = Enumerable.Range(0, 6).Select(f => (FileName(f), Batch(f, recordsPerFile))).ToList();
        files.Add(("batches.meta.txt", System.Text.Encoding.ASCII.GetBytes(string.Join("\n", Cifar10.ClassNames) + "\n")));
        return files;
    }

    /// <summary>Writes the extracted release into <paramref name="folder"/> (created).</summary>
    public static void WriteFolder(string folder, int recordsPerFile = 20)
    {
        Directory.CreateDirectory(folder);
        foreach (var (name, bytes) in Release(recordsPerFile)) File.WriteAllBytes(Path.Combine(folder, name), bytes);
    }

    /// <summary>
    /// Writes a gzip'd tar as the official one is laid out: a cifar-10-batches-bin folder entry, then the files in it.
    /// The test batch comes first, so a reader must look past the order it asks for files in.
    /// </summary>
    public static void WriteArchive(string path, int recordsPerFile = 20, IEnumerable<(string Name, byte[] Bytes)>? files = null)
    {
        using var stream = File.Create(path);
        using var gzip = new GZipStream(stream, CompressionLevel.Fastest);
        using var tar = new TarWriter(gzip, TarEntryFormat.Gnu);
        tar.WriteEntry(new GnuTarEntry(TarEntryType.Directory, Folder + "/"));
        foreach (var (name, bytes) in (files ?? Release(recordsPerFile)).OrderBy(f => f.Name == TestFile ? 0 : 1))
            tar.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, $"{Folder}/{name}") { DataStream = new MemoryStream(bytes) });
    }

    public static string Md5(string path) => Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(File.ReadAllBytes(path)));

    /// <summary>Asserts that <paramref name="data"/> holds files <paramref name="files"/> of <paramref name="recordsPerFile"/> records, in order, exactly.</summary>
    public static void AssertHolds(InMemoryDataset data, int[] files, int recordsPerFile)
    {
        Assert.Equal(files.Length * recordsPerFile, data.Count);
        Assert.Equal([3, 32, 32], data.SampleShape);
        Assert.Equal(Cifar10.ClassNames, data.ClassNames);
        var expected = new float[3072];
        for (int i = 0; i < data.Count; i++)
        {
            int file = files[i / recordsPerFile], record = i % recordsPerFile;
            Assert.Equal(Label(file, record), data.GetLabel(i));
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++)
                        expected[c * 1024 + y * 32 + x] = Pixel(file, record, c, y, x) / 255f;
            Assert.True(expected.AsSpan().SequenceEqual(data.GetImage(i)), $"image {i} (file {FileName(file)}, record {record}) differs");
        }
    }
}
