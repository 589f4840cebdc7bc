using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Fovea.Data;

/// <summary>Element type codes of the IDX format (third byte of the magic number).</summary>
public enum IdxDataType : byte
{
    /// <summary>0x08: unsigned byte, the only type MNIST-family files use.</summary>
    UnsignedByte = 0x08,
    /// <summary>0x09: signed byte.</summary>
    SignedByte = 0x09,
    /// <summary>0x0B: big-endian int16.</summary>
    Int16 = 0x0B,
    /// <summary>0x0C: big-endian int32.</summary>
    Int32 = 0x0C,
    /// <summary>0x0D: big-endian float32.</summary>
    Float32 = 0x0D,
    /// <summary>0x0E: big-endian float64.</summary>
    Float64 = 0x0E,
}

/// <summary>The contents of one IDX file of unsigned bytes.</summary>
/// <param name="Path">File it was read from (for messages).</param>
/// <param name="Dimensions">Sizes, outermost first: [N, H, W] for MNIST images, [N] for labels.</param>
/// <param name="Data">The values in row-major order; length is the product of <paramref name="Dimensions"/>.</param>
public sealed record IdxFile(string Path, int[] Dimensions, byte[] Data)
{
    /// <summary>SHA-256 (lowercase hex) of the uncompressed file bytes: header followed by data.
    /// Independent of how the file was compressed, so it identifies the content of a .gz and a plain copy alike.</summary>
    public string ComputeContentSha256()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(IdxReader.BuildHeader(IdxDataType.UnsignedByte, Dimensions));
        hash.AppendData(Data);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}

/// <summary>
/// Reads IDX files (the MNIST format): magic 0x00 0x00 &lt;type&gt; &lt;rank&gt;, then rank big-endian int32 sizes, then the data.
/// Gzip compression is detected from the content (bytes 0x1f 0x8b), not from the file name.
/// </summary>
public static class IdxReader
{
    /// <summary>Largest rank accepted; IDX allows up to 255 but real files use 1 to 4.</summary>
    private const int MaxRank = 8;

    // Pipes and devices report 0 bytes too: refusing them before opening is what keeps a FIFO from blocking forever.
    private static void RequireBytes(string path)
    {
        if (Serialization.LinkedFile.Length(path) == 0) // through symbolic links, which .NET describes by themselves
            throw new InvalidDataException($"IDX file {path} is empty (0 bytes) or not a regular file.");
    }

    /// <summary>True when the file begins with the gzip magic 0x1f 0x8b.</summary>
    public static bool IsGzip(string path)
    {
        RequireBytes(path);
        using var fs = File.OpenRead(path);
        Span<byte> head = stackalloc byte[2];
        return fs.ReadAtLeast(head, 2, throwOnEndOfStream: false) == 2 && head[0] == 0x1f && head[1] == 0x8b;
    }

    /// <summary>Opens the file for reading its uncompressed bytes, decompressing when it is gzip.</summary>
    public static Stream OpenDecompressed(string path)
    {
        RequireBytes(path);
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            Span<byte> head = stackalloc byte[2];
            int n = fs.ReadAtLeast(head, 2, throwOnEndOfStream: false);
            fs.Position = 0;
            if (n == 2 && head[0] == 0x1f && head[1] == 0x8b) return new GZipStream(fs, CompressionMode.Decompress, leaveOpen: false);
            return fs;
        }
        catch
        {
            fs.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads an IDX file of unsigned bytes (type 0x08), gzip-compressed or plain.
    /// </summary>
    /// <param name="path">File to read.</param>
    /// <param name="expectedRank">When given, the number of dimensions the file must have (3 for images, 1 for labels).</param>
    /// <exception cref="InvalidDataException">Bad magic, unsupported type, wrong rank, truncated or over-long data; the message names the file.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static IdxFile Read(string path, int? expectedRank = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file '{path}' does not exist.", path);
        try
        {
            using var stream = OpenDecompressed(path);
            // Deflate expands at most 1032:1, so a gzip file of L bytes holds at most 1032·L: a header within that bound
            // is allocated at once, as a plain file's is (growing a buffer by doubling kept 95 MB for Fashion-MNIST's 47).
            long bound = stream is GZipStream ? new FileInfo(path).Length * 1032 : new FileInfo(path).Length;
            return Read(stream, path, expectedRank, bound);
        }
        catch (InvalidDataException ex) when (!ex.Message.Contains(path, StringComparison.Ordinal))
        {
            // GZipStream reports corrupt or cut-off compressed data without naming the file.
            throw new InvalidDataException($"IDX file '{path}': the gzip data is corrupt or truncated ({ex.Message}).", ex);
        }
    }

    /// <summary>Reads an IDX file of unsigned bytes from an already-decompressed stream; <paramref name="name"/> is used in messages.</summary>
    public static IdxFile Read(Stream stream, string name, int? expectedRank = null) => Read(stream, name, expectedRank, maxBytes: null);

    /// <summary>As <see cref="Read(Stream, string, int?)"/>, knowing that the stream holds at most <paramref name="maxBytes"/> bytes.</summary>
    private static IdxFile Read(Stream stream, string name, int? expectedRank, long? maxBytes)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> magic = stackalloc byte[4];
        int got = stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        if (got < 4) throw new InvalidDataException($"IDX file '{name}' is truncated: it has {got} bytes, fewer than the 4-byte magic number.");
        if (magic[0] != 0 || magic[1] != 0)
            throw new InvalidDataException($"IDX file '{name}' has a bad magic number {Convert.ToHexString(magic)}: an IDX file starts with 0x00 0x00 <type> <rank>. Is it a different format, or compressed other than with gzip?");
        var type = (IdxDataType)magic[2];
        if (type != IdxDataType.UnsignedByte)
        {
            string known = Enum.IsDefined(type) ? $"{type} (0x{magic[2]:X2})" : $"unknown type 0x{magic[2]:X2}";
            throw new InvalidDataException($"IDX file '{name}' holds {known}; only unsigned bytes (0x08) are supported.");
        }
        int rank = magic[3];
        if (rank == 0 || rank > MaxRank) throw new InvalidDataException($"IDX file '{name}' declares {rank} dimensions; expected between 1 and {MaxRank}.");
        if (expectedRank is int er && rank != er)
            throw new InvalidDataException($"IDX file '{name}' has {rank} dimensions but {er} were expected ({(er == 1 ? "a label file" : er == 3 ? "an image file [N, H, W]" : "wrong kind of file")}).");

        Span<byte> dimBytes = stackalloc byte[4 * MaxRank];
        dimBytes = dimBytes[..(4 * rank)];
        got = stream.ReadAtLeast(dimBytes, dimBytes.Length, throwOnEndOfStream: false);
        if (got < dimBytes.Length) throw new InvalidDataException($"IDX file '{name}' is truncated inside its header: expected {dimBytes.Length} bytes of dimension sizes, found {got}.");
        var dims = new int[rank];
        long total = 1;
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(dimBytes.Slice(4 * i, 4));
            if (dims[i] < 0) throw new InvalidDataException($"IDX file '{name}' declares a negative size {dims[i]} for dimension {i}.");
            total *= dims[i];
            if (total > Array.MaxLength) throw new InvalidDataException($"IDX file '{name}' declares {string.Join(" x ", dims[..(i + 1)])} values, more than one array can hold.");
        }

        var data = ReadData(stream, (int)total, maxBytes, out got);
        if (got < total)
            throw new InvalidDataException($"IDX file '{name}' is truncated: expected {total} bytes of data after the header (dimensions {string.Join(" x ", dims)}), found {got}.");
        Span<byte> extra = stackalloc byte[1];
        if (stream.Read(extra) != 0)
            throw new InvalidDataException($"IDX file '{name}' has bytes after the {data.Length} bytes of data its header declares (dimensions {string.Join(" x ", dims)}); the file is damaged or not what it seems.");
        return new IdxFile(name, dims, data);
    }

    /// <summary>
    /// Reads up to <paramref name="size"/> bytes (<paramref name="got"/> of them there). The header's sizes are not trusted
    /// with memory before the data is there: a damaged 16-byte file claiming 2 GB of pixels allocated them all before
    /// finding it truncated. A seekable stream says how much follows; a stream known to hold at most <paramref name="maxBytes"/>
    /// gets its buffer at once when the size is within that; any other grows its buffer as data arrives.
    /// </summary>
    private static byte[] ReadData(Stream stream, int size, long? maxBytes, out int got)
    {
        if (stream.CanSeek && stream.Length - stream.Position < size)
        {
            got = (int)Math.Max(0, stream.Length - stream.Position);
            return [];
        }
        bool trusted = stream.CanSeek || size <= maxBytes;
        var data = GC.AllocateUninitializedArray<byte>(trusted ? size : Math.Min(size, 1 << 24));
        got = 0;
        while (true)
        {
            got += stream.ReadAtLeast(data.AsSpan(got), data.Length - got, throwOnEndOfStream: false);
            if (got < data.Length || data.Length == size) return data;
            Array.Resize(ref data, (int)Math.Min(size, 2L * data.Length));
        }
    }

    /// <summary>Reads an image file: rank 3, [N, H, W].</summary>
    public static IdxFile ReadImages(string path) => Read(path, expectedRank: 3);

    /// <summary>Reads a label file: rank 1, [N].</summary>
    public static IdxFile ReadLabels(string path) => Read(path, expectedRank: 1);

    /// <summary>The IDX header for the given type and sizes (4 + 4*rank bytes).</summary>
    public static byte[] BuildHeader(IdxDataType type, ReadOnlySpan<int> dimensions)
    {
        if (dimensions.Length is 0 or > 255) throw new ArgumentException($"IDX rank must be 1 to 255; got {dimensions.Length}.", nameof(dimensions));
        var header = new byte[4 + 4 * dimensions.Length];
        header[2] = (byte)type;
        header[3] = (byte)dimensions.Length;
        for (int i = 0; i < dimensions.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), dimensions[i]);
        return header;
    }
}
