using System.Runtime.InteropServices;
using System.Text;

namespace Fovea.Vision.Tests;

/// <summary>Every mistake in an image folder is reported with the folder or file it concerns and what was expected.</summary>
public sealed class ImageFolderErrorTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("fovea-folder-errors-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string WriteImage(string relativePath, int label = 0)
    {
        string path = Path.Combine(_root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bitmap = SyntheticFolder.Draw(label, 32, 24, grey: false, new Random(label));
        SyntheticFolder.Save(bitmap, path);
        return path;
    }

    [Fact]
    public void A_missing_root_is_named()
    {
        string missing = Path.Combine(_root, "no-such-folder");
        var e = Assert.Throws<DirectoryNotFoundException>(() => ImageFolder.Load(missing, 3, 8, 8));
        Assert.Contains(missing, e.Message);
    }

    [Fact]
    public void A_root_without_class_folders_explains_the_layout()
    {
        WriteImage("loose.png");
        var e = Assert.Throws<ImageFolderException>(() => ImageFolder.Load(_root, 3, 8, 8));
        Assert.Contains(_root, e.Message);
        Assert.Contains("no class subfolders", e.Message);
        Assert.Contains(Path.Combine(_root, "cat", "1.jpg"), e.Message);
    }

    [Fact]
    public void A_single_class_folder_is_named()
    {
        WriteImage("only/a.png");
        var e = Assert.Throws<ImageFolderException>(() => ImageFolder.Load(_root, 3, 8, 8));
        Assert.Contains("only one class folder ('only')", e.Message);
        Assert.Contains("at least two classes", e.Message);
    }

    [Fact]
    public void A_class_folder_without_images_is_named_with_what_it_holds()
    {
        WriteImage("cats/a.png");
        Directory.CreateDirectory(Path.Combine(_root, "dogs", "sub"));
        File.WriteAllText(Path.Combine(_root, "dogs", "sub", "list.txt"), "not an image");
        var e = Assert.Throws<ImageFolderException>(() => ImageFolder.Load(_root, 3, 8, 8));
        Assert.Contains(Path.Combine(_root, "dogs"), e.Message);
        Assert.Contains("no images", e.Message);
        Assert.Contains(".png, .jpg or .jpeg", e.Message);
        Assert.Contains("1 other file", e.Message);
    }

    [Fact]
    public void An_undecodable_file_is_named_and_the_expected_formats_are_given()
    {
        for (int i = 0; i < 6; i++) WriteImage($"cats/{i}.png", 0);
        for (int i = 0; i < 6; i++) WriteImage($"dogs/{i}.jpg", 2);
        string bad = Path.Combine(_root, "dogs", "3b.jpg");
        File.WriteAllText(bad, "this is text, not a JPEG");
        var e = Assert.Throws<ImageLoadException>(() => ImageFolder.Load(_root, 3, 8, 8));
        Assert.Contains(bad, e.Message);
        Assert.Contains("PNG or JPEG", e.Message);
    }

    [Fact]
    public void A_truncated_jpeg_is_named_as_damaged()
    {
        WriteImage("cats/a.png", 0);
        string good = WriteImage("dogs/b.jpg", 2);
        var bytes = File.ReadAllBytes(good);
        File.WriteAllBytes(good, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<ImageLoadException>(() => ImageFolder.Load(_root, 3, 8, 8));
        Assert.Contains(good, e.Message);
        Assert.Contains("damaged or truncated", e.Message);
    }

    [Fact]
    public void A_test_folder_with_a_class_the_model_does_not_know_is_named()
    {
        WriteImage("cats/a.png");
        WriteImage("horses/b.png");
        var e = Assert.Throws<ImageFolderException>(() =>
            ImageFolder.Load(_root, 3, 8, 8, new ImageFolderOptions { ClassNames = ["cats", "dogs"] }));
        Assert.Contains("'horses'", e.Message);
        Assert.Contains("cats, dogs", e.Message);

        // Known classes alone are fine, even one of them, and keep the model's label numbers.
        Directory.Delete(Path.Combine(_root, "cats"), recursive: true);
        Directory.Move(Path.Combine(_root, "horses"), Path.Combine(_root, "dogs"));
        var data = ImageFolder.Load(_root, 3, 8, 8, new ImageFolderOptions { ClassNames = ["cats", "dogs"] });
        Assert.Equal(1, data.GetLabel(0));
    }

    [Fact]
    public void An_image_claiming_a_huge_size_is_refused_before_decoding()
    {
        string path = Path.Combine(_root, "huge.png");
        File.WriteAllBytes(path, PngHeaderOnly(100_000, 100_000));
        var e = Assert.Throws<ImageLoadException>(() => ImageLoader.Load(path, 3, 8, 8));
        Assert.Contains("100000x100000", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_folder_is_not_an_image() =>
        Assert.Contains("is a folder", Assert.Throws<ImageLoadException>(() => ImageLoader.Load(_root, 3, 8, 8)).Message);

    [Fact]
    public void A_link_back_up_the_tree_is_read_once()
    {
        WriteImage("cat/a.png", 0);
        WriteImage("dog/b.png", 1);
        Directory.CreateSymbolicLink(Path.Combine(_root, "cat", "loop"), _root);
        var data = ImageFolder.Load(_root, 3, 8, 8);
        Assert.Equal(2, data.Count);
    }

    /// <summary>A PNG whose header says width x height (8-bit RGB) but whose data is one compressed zero byte.</summary>
    private static byte[] PngHeaderOnly(int width, int height)
    {
        var header = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; header[9] = 2; // bit depth, colour type RGB
        var png = new List<byte>([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        AddChunk(png, "IHDR", header);
        AddChunk(png, "IDAT", [0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]); // zlib of one 0 byte
        AddChunk(png, "IEND", []);
        return [.. png];
    }

    private static void AddChunk(List<byte> png, string type, byte[] data)
    {
        var length = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        byte[] typed = [.. System.Text.Encoding.ASCII.GetBytes(type), .. data];
        var crc = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typed));
        png.AddRange(length);
        png.AddRange(typed);
        png.AddRange(crc);
    }

    // The CRC-32 of PNG chunks (reflected polynomial 0xEDB88320), bit by bit: a test needs no table.
    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    [DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    private static extern int Rename(byte[] from, byte[] to);

    [Fact]
    public void An_image_whose_name_is_not_utf8_is_named_as_such_not_as_missing()
    {
        // A Latin-1 name ("caf\xe9.png", from an old archive): .NET lists it with U+FFFD and then cannot open it, which
        // was reported as "Image file not found" for a file that is there.
        WriteImage("cat/a.png");
        WriteImage("dog/b.png", 1);
        string written = WriteImage("cat/cafe.png");
        byte[] latin1 = [.. Encoding.UTF8.GetBytes(Path.Combine(_root, "cat", "caf")), 0xE9, .. ".png"u8, 0];
        Assert.Equal(0, Rename([.. Encoding.UTF8.GetBytes(written), 0], latin1));
        try
        {
            var e = Assert.Throws<ImageLoadException>(() => ImageFolder.Load(_root, 3, 8, 8));
            Assert.Contains(Path.Combine(_root, "cat", "caf\uFFFD.png"), e.Message);
            Assert.Contains("not valid UTF-8", e.Message);
            Assert.Contains("rename it", e.Message);
        }
        finally { Rename(latin1, [.. Encoding.UTF8.GetBytes(written), 0]); }   // .NET could not delete it by name either
        // A name that is simply missing keeps the plain message.
        string missing = Path.Combine(_root, "cat", "gone\uFFFD.png");
        Assert.EndsWith($"not found: {missing}", Assert.Throws<ImageLoadException>(() => ImageLoader.Load(missing, 3, 8, 8)).Message);
    }
}
