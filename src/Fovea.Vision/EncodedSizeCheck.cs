using SkiaSharp;

namespace Fovea.Vision;

/// <summary>
/// Refuses a PNG or JPEG whose header claims far more pixels than its bytes can hold (a 159-byte file saying 60000 x
/// 60000), before any pixel memory is allocated: the decoder would set aside hundreds of megabytes for it, and libjpeg
/// fills what a JPEG lacks with grey and reports success, so such a file would be classified as if it were a photo.
/// The bounds are what the formats allow at best, so no intact file is refused: deflate (PNG) compresses at most
/// 1032 : 1 and a PNG row holds at least 1 bit per pixel and a filter byte; a Huffman-coded JPEG spends at least one
/// bit on every 8 x 8 block of each component, and no component is subsampled more than 4 x 4 (arithmetic-coded JPEGs
/// can be smaller still and are not checked, nor are the other formats).
/// </summary>
internal static class EncodedSizeCheck
{
    /// <summary>Throws naming <paramref name="name"/> when <paramref name="length"/> bytes cannot hold the image <paramref name="codec"/> describes.</summary>
    /// <param name="codec">The decoder, its header read.</param>
    /// <param name="open">Opens the encoded bytes, seekable, from the start (a JPEG's markers are read to find its coding).</param>
    /// <param name="length">The encoded size in bytes.</param>
    /// <param name="name">What the message calls the image.</param>
    public static void Check(SKCodec codec, Func<Stream> open, long length, string name)
    {
        long width = codec.Info.Width, height = codec.Info.Height;
        long needed = codec.EncodedFormat switch
        {
            SKEncodedImageFormat.Png => height * ((width + 7) / 8 + 1) / 1032,
            SKEncodedImageFormat.Jpeg => width * height / 8192,
            _ => 0,
        };
        if (length >= needed) return;
        if (codec.EncodedFormat == SKEncodedImageFormat.Jpeg)
        {
            using var jpeg = open();
            if (!IsHuffmanCoded(jpeg)) return;
        }
        throw new ImageLoadException($"{name}: the image is damaged or truncated: its header says {width}x{height} pixels, which a " +
            $"{codec.EncodedFormat.ToString().ToUpperInvariant()} file of {length:N0} bytes cannot hold (it needs at least {needed:N0}).");
    }

    /// <summary>
    /// True when the JPEG's frame header (SOF0-3, 5-7) says Huffman coding; false for arithmetic coding (SOF9-11, 13-15)
    /// or when no frame header comes before the first scan.
    /// </summary>
    internal static bool IsHuffmanCoded(Stream jpeg)
    {
        jpeg.Position = 0;
        if (jpeg.ReadByte() != 0xFF || jpeg.ReadByte() != 0xD8) return false;
        while (true)
        {
            int b = jpeg.ReadByte();
            if (b < 0) return false;
            if (b != 0xFF) continue;                       // not at a marker: look for the next
            int marker;
            do marker = jpeg.ReadByte(); while (marker == 0xFF); // fill bytes
            if (marker < 0) return false;
            if (marker is >= 0xC0 and <= 0xCF && marker is not (0xC4 or 0xC8 or 0xCC)) return marker < 0xC8;
            if (marker is 0xDA or 0xD9) return false;      // a scan or the end, and no frame header yet
            if (marker is 0x01 or 0x00 or (>= 0xD0 and <= 0xD7)) continue; // markers without a length
            int high = jpeg.ReadByte(), low = jpeg.ReadByte();
            if (low < 0) return false;
            int segment = (high << 8 | low) - 2;           // the length counts its own two bytes
            if (segment < 0) return false;
            jpeg.Seek(segment, SeekOrigin.Current);
        }
    }
}
