using System.Buffers.Binary;
using System.IO.Compression;
using Fovea.TestSupport;
using SkiaSharp;

namespace Fovea.Vision.Tests;

/// <summary>
/// Files whose header claims far more pixels than their bytes can hold: refused, naming the file, before pixel memory is
/// set aside (a 159-byte JPEG claiming 60000 x 60000 took 550 MB and was then classified, libjpeg having filled it with grey).
/// </summary>
public sealed class ImageHeaderSizeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-header-size-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A PNG whose header says <paramref name="width"/> x <paramref name="height"/> grey pixels, holding the deflated <paramref name="rows"/>.</summary>
    private static byte[] Png(int width, int height, byte[] rows)
    {
        var deflated = new MemoryStream();
        using (var z = new ZLibStream(deflated, CompressionLevel.SmallestSize, leaveOpen: true)) z.Write(rows);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth; colour type 0 (grey), no interlace
        return [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, .. Chunk("IHDR", header), .. Chunk("IDAT", deflated.ToArray()), .. Chunk("IEND", [])];
    }

    private static byte[] Chunk(string type, byte[] data)
    {
        byte[] typed = [.. System.Text.Encoding.ASCII.GetBytes(type), .. data];
        var chunk = new byte[8 + data.Length + 4];
        BinaryPrimitives.WriteInt32BigEndian(chunk, data.Length);
        typed.CopyTo(chunk, 4);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), Crc32(typed));
        return chunk;
    }

    /// <summary>The CRC-32 (polynomial 0xEDB88320) a PNG chunk ends with, over its type and data.</summary>
    private static uint Crc32(byte[] bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>A small baseline JPEG encoded by Skia, its frame header then made to claim <paramref name="side"/> x <paramref name="side"/>.</summary>
    private static byte[] JpegClaiming(int side)
    {
        using var bitmap = new SKBitmap(8, 8);
        bitmap.Erase(SKColors.Gray);
        byte[] jpeg = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90).ToArray();
        for (int i = 2; i + 9 < jpeg.Length;)
        {
            int marker = jpeg[i + 1], length = jpeg[i + 2] << 8 | jpeg[i + 3];
            if (marker is 0xC0 or 0xC2)
            {
                BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(i + 5), (ushort)side);
                BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(i + 7), (ushort)side);
                return jpeg;
            }
            i += 2 + length;
        }
        throw new InvalidOperationException("Skia's JPEG has no frame header");
    }

    /// <summary>An arithmetic-coded JPEG of 8000 x 8000 uniform grey (cjpeg -arithmetic -grayscale): intact in 125 bytes.</summary>
    private static readonly byte[] ArithmeticGrey8000 = Convert.FromHexString(
        "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f141d1a1f1e1d1a1c1c20242e" +
        "2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc9000b081f401f4001011100ffcc000600101005ffda0008010100003f001eb780ffd9");

    [Fact]
    public void A_png_too_small_for_its_header_is_refused_before_decoding()
    {
        string path = Path.Combine(_dir, "huge.png");
        File.WriteAllBytes(path, Png(20000, 20000, new byte[1 + 20000])); // one row of the 20,000 it claims
        foreach (var call in new Action[] { () => ImageLoader.ReadSize(path), () => ImageLoader.Load(path, 3, 8, 8) })
        {
            var e = Assert.Throws<ImageLoadException>(call);
            Assert.StartsWith($"{path}: the image is damaged or truncated", e.Message);
            Assert.Contains("20000x20000 pixels", e.Message);
        }
        var bytes = File.ReadAllBytes(path);
        Assert.Contains("upload: the image is damaged", Assert.Throws<ImageLoadException>(() => ImageLoader.LoadEncoded(bytes, "upload", 1, 8, 8)).Message);
    }

    [Fact]
    public void A_jpeg_too_small_for_its_header_is_refused_instead_of_decoded_as_grey()
    {
        string path = Path.Combine(_dir, "huge.jpg");
        File.WriteAllBytes(path, JpegClaiming(60000));
        var e = Assert.Throws<ImageLoadException>(() => ImageLoader.Load(path, 3, 32, 32));
        Assert.Contains("60000x60000 pixels, which a JPEG file of", e.Message);
        Assert.Contains("huge.jpg", e.Message);
        Assert.Throws<ImageLoadException>(() => ImageLoader.ReadSize(path));
        // The same file, honest about its size, loads.
        File.WriteAllBytes(path, JpegClaiming(8));
        Assert.Equal((8, 8), ImageLoader.ReadSize(path));
    }

    [Fact]
    public void Intact_files_that_compress_well_still_load()
    {
        // 4000 x 4000 of one grey: deflate takes it to a few kilobytes, within what the format allows.
        string png = Path.Combine(_dir, "flat.png");
        File.WriteAllBytes(png, Png(4000, 4000, new byte[4000 * 4001]));
        Assert.True(new FileInfo(png).Length < 100_000);
        Assert.Equal(0f, ImageLoader.Load(png, 1, 8, 8).Span[0]);
        // Arithmetic coding can hold 64 megapixels of grey in 125 bytes: not held to the Huffman bound.
        Assert.False(EncodedSizeCheck.IsHuffmanCoded(new MemoryStream(ArithmeticGrey8000)));
        Assert.True(EncodedSizeCheck.IsHuffmanCoded(new MemoryStream(JpegClaiming(8))));
        string jpeg = Path.Combine(_dir, "grey.jpg");
        File.WriteAllBytes(jpeg, ArithmeticGrey8000);
        Assert.Equal((8000, 8000), ImageLoader.ReadSize(jpeg));
        Assert.InRange(ImageLoader.Load(jpeg, 1, 8, 8).Span[0], 0.49f, 0.52f);
    }

    [Fact]
    public void A_target_size_too_large_is_refused_before_anything_is_allocated()
    {
        // 3 x 40000 x 40000 overflowed an int to 505,032,704: a buffer of the wrong size was allocated and decoding went on.
        string path = Path.Combine(_dir, "small.jpg");
        File.WriteAllBytes(path, JpegClaiming(8));
        byte[] encoded = File.ReadAllBytes(path);
        using var bitmap = new SKBitmap(4, 4);
        foreach (var call in new Action[]
        {
            () => ImageLoader.Load(path, 3, 40000, 40000), () => ImageLoader.LoadEncoded(encoded, "upload", 3, 40000, 40000),
            () => ImageLoader.FromBitmap(bitmap, 1, 20000, 20000), () => ImageLoader.LoadPixels(path, 3, 40000, 40000, new byte[16]),
        })
            Assert.Contains("more than Fovea resizes to (100 megapixels)", Assert.Throws<ArgumentOutOfRangeException>(call).Message);
        Assert.Equal(3 * 10 * 10, ImageLoader.Load(path, 3, 10, 10).Length);
    }

    [Fact]
    public void SavePng_leaves_a_file_named_like_its_temporary_file_alone()
    {
        string path = Path.Combine(_dir, "x.png");
        File.WriteAllText(path + ".tmp", "the user's");
        ImageLoader.SavePng(new Fovea.Tensors.Tensor(1, 4, 4), path);
        Assert.Equal("the user's", File.ReadAllText(path + ".tmp"));
        Assert.Equal((4, 4), ImageLoader.ReadSize(path));
        Assert.Equal([path, path + ".tmp"], Directory.GetFiles(_dir).Order());
    }

    [Fact]
    public void Predict_names_the_file_at_the_header_check()
    {
        var model = new Fovea.Models.Sequential([1, 8, 8]).Top(new Fovea.Layers.Flatten(), new Fovea.Layers.Dense(2));
        string modelPath = Path.Combine(_dir, "m.fovea"), folder = Directory.CreateDirectory(Path.Combine(_dir, "photos")).FullName;
        Fovea.Serialization.ModelFile.Save(model, modelPath);
        File.WriteAllBytes(Path.Combine(folder, "a.jpg"), JpegClaiming(8));
        File.WriteAllBytes(Path.Combine(folder, "b.jpg"), JpegClaiming(60000));
        CliProcess.AssertUsageError(CliProcess.Run("predict", modelPath, folder), "b.jpg: the image is damaged or truncated", "60000x60000");
    }
}
