using System.IO.Compression;
using System.Buffers.Binary;

namespace Fovea.Tests.Data;

/// <summary>Writes small IDX files for tests, and hands out temporary folders that delete themselves.</summary>
internal static class IdxTestFiles
{
    public static byte[] Encode(byte type, int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        bytes[2] = type;
        bytes[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    public static void Write(string path, int[] dims, byte[] data, bool gzip, byte type = 0x08) =>
        WriteRaw(path, Encode(type, dims, data), gzip);

    public static void WriteRaw(string path, byte[] bytes, bool gzip)
    {
        using var fs = File.Create(path);
        if (gzip)
        {
            using var gz = new GZipStream(fs, CompressionLevel.Fastest);
            gz.Write(bytes);
        }
        else fs.Write(bytes);
    }

    public static byte[] Pattern(int n, int seed = 1)
    {
        var data = new byte[n];
        new Random(seed).NextBytes(data);
        return data;
    }
}

internal sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("fovea-test-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
