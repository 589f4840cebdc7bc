using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Fovea.Serialization;

/// <summary>
/// The SHA-256 a Fovea file carries in its metadata ("checksum" = "sha256:" + 64 hex digits), so a file damaged after
/// it was saved (a bad disk, an interrupted copy, a bit flipped in transfer) is refused instead of loading as a
/// different network. It covers the data section (every tensor's bytes, in file order) and then every other metadata
/// entry in ordinal key order, each as UTF-8 key, a zero byte, UTF-8 value, a zero byte: weights, architecture and
/// class names alike. Files without the entry (written before it existed, or by other tools) load unchecked.
/// </summary>
internal static class ModelChecksum
{
    public const string MetadataKey = "checksum";
    private const string Prefix = "sha256:";

    /// <summary>The checksum of tensors about to be written with <paramref name="metadata"/>.</summary>
    public static string Compute(IReadOnlyList<(string Name, int[] Shape, float[] Values)> tensors, IReadOnlyDictionary<string, string> metadata) =>
        Compute(tensors.Select(t => SafeTensors.Float32(t.Name, t.Shape, t.Values)).ToList(), metadata);

    /// <summary>The checksum of stored tensors (any dtype) about to be written with <paramref name="metadata"/>.</summary>
    public static string Compute(IReadOnlyList<SafeTensors.Entry> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var entry in tensors) hash.AppendData(entry.Data); // the data section's bytes, in file order
        AppendMetadata(hash, metadata);
        return Prefix + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// Throws <see cref="FormatException"/> naming <paramref name="path"/> when the file's bytes do not match the checksum
    /// it carries; does nothing for a file without one.
    /// </summary>
    public static void Verify(byte[] file, IReadOnlyDictionary<string, string> metadata, string path)
    {
        if (!metadata.TryGetValue(MetadataKey, out var saved)) return;
        if (!saved.StartsWith(Prefix, StringComparison.Ordinal) || saved.Length != Prefix.Length + 64)
            throw new FormatException($"{path}: its checksum entry '{saved}' is malformed; expected 'sha256:' and 64 hex digits (the file is damaged).");
        // SafeTensors.Read has checked the header length, so the data section starts right after it.
        long dataStart = 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(file.AsSpan((int)dataStart));
        AppendMetadata(hash, metadata);
        string actual = Prefix + Convert.ToHexStringLower(hash.GetHashAndReset());
        if (!string.Equals(actual, saved, StringComparison.OrdinalIgnoreCase))
            throw new FormatException($"{path} is damaged: its content does not match the SHA-256 checksum saved in it ({saved[Prefix.Length..][..12]}..., content {actual[Prefix.Length..][..12]}...); restore it from a copy or save it again.");
    }

    private static void AppendMetadata(IncrementalHash hash, IReadOnlyDictionary<string, string> metadata)
    {
        foreach (var key in metadata.Keys.Where(k => k != MetadataKey).Order(StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes(key));
            hash.AppendData([0]);
            hash.AppendData(Encoding.UTF8.GetBytes(metadata[key]));
            hash.AppendData([0]);
        }
    }
}
