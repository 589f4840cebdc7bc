namespace Fovea.Vision.Tests;

/// <summary>Writes the smallest EXIF block a JPEG decoder reads: one orientation tag.</summary>
internal static class Exif
{
    /// <summary>
    /// <paramref name="jpeg"/> with an APP1 "Exif" segment right after its start-of-image marker, holding a big-endian TIFF
    /// header and one IFD entry: tag 0x0112 (orientation), type SHORT, count 1, the value; no further IFD.
    /// </summary>
    public static byte[] WithOrientation(byte[] jpeg, ushort orientation)
    {
        if (jpeg.Length < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8) throw new ArgumentException("Not a JPEG: it does not start with FF D8.");
        byte[] tiff =
        [
            (byte)'M', (byte)'M', 0, 42, 0, 0, 0, 8,   // byte order, magic number, offset of the first IFD
            0, 1,                                      // one entry
            0x01, 0x12, 0, 3, 0, 0, 0, 1, (byte)(orientation >> 8), (byte)orientation, 0, 0,
            0, 0, 0, 0,                                // no next IFD
        ];
        byte[] payload = [.. "Exif\0\0"u8, .. tiff];
        int length = payload.Length + 2; // the length field counts itself
        return [jpeg[0], jpeg[1], 0xFF, 0xE1, (byte)(length >> 8), (byte)length, .. payload, .. jpeg[2..]];
    }
}
