namespace Fovea.Vision.Tests;

/// <summary>ImageFolderListing.FindImages, ImageLoader.ReadSize and ImageBatches.Read: many images, a batch at a time.</summary>
public sealed class ImageBatchesTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("fovea-batches-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string WriteImage(string relativePath, int label, int width = 30, int height = 22)
    {
        string path = Path.Combine(_root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bitmap = SyntheticFolder.Draw(label, width, height, grey: false, new Random(label * 31 + relativePath.Length));
        SyntheticFolder.Save(bitmap, path);
        return path;
    }

    /// <summary>Seven images in nested folders, with a text file and hidden files beside them.</summary>
    private List<string> SevenImages()
    {
        var written = new List<string>
        {
            WriteImage("b.png", 0), WriteImage("a.JPG", 1), WriteImage("sub/c.jpeg", 2), WriteImage("sub/deeper/d.png", 0),
            WriteImage("Z.png", 1), WriteImage("sub/e.jpg", 2), WriteImage("a b.png", 0),
        };
        File.WriteAllText(Path.Combine(_root, "notes.txt"), "not an image");
        WriteImage(".hidden.png", 1);
        WriteImage(".cache/x.png", 1);
        return written;
    }

    [Fact]
    public void FindImages_lists_images_under_a_folder_in_ordinal_order_and_counts_the_other_files()
    {
        var written = SevenImages();
        var found = ImageFolderListing.FindImages(_root, out int others);
        Assert.Equal(written.Order(StringComparer.Ordinal), found);
        Assert.Equal(Path.Combine(_root, "Z.png"), found[0]);   // ordinal: capitals first
        Assert.Equal(1, others);
        Assert.Equal(found, ImageFolderListing.FindImages(_root));

        string missing = Path.Combine(_root, "none");
        Assert.Contains(missing, Assert.Throws<DirectoryNotFoundException>(() => ImageFolderListing.FindImages(missing)).Message);
        Assert.Contains("is a file", Assert.Throws<DirectoryNotFoundException>(() => ImageFolderListing.FindImages(found[0])).Message);
        Assert.Empty(ImageFolderListing.FindImages(Directory.CreateDirectory(Path.Combine(_root, "empty")).FullName));
    }

    [Fact]
    public void Batches_hold_exactly_the_values_of_images_loaded_one_by_one_and_the_last_batch_the_rest()
    {
        SevenImages();
        var files = ImageFolderListing.FindImages(_root);
        var batches = ImageBatches.Read(files, 3, 12, 10, batchSize: 3).ToList();
        Assert.Equal([0, 3, 6], batches.Select(b => b.Start));
        Assert.Equal([3, 3, 1], batches.Select(b => b.Files.Count));
        Assert.Equal(files, batches.SelectMany(b => b.Files));
        foreach (var batch in batches)
        {
            Assert.Equal([batch.Files.Count, 3, 12, 10], batch.Images.Shape);
            for (int i = 0; i < batch.Files.Count; i++)
            {
                var alone = ImageLoader.Load(batch.Files[i], 3, 12, 10);
                Assert.True(alone.Span.SequenceEqual(batch.Images.Span.Slice(i * alone.Length, alone.Length)), batch.Files[i]);
            }
        }
        // Grey, and a batch larger than the list: one batch of everything.
        var grey = Assert.Single(ImageBatches.Read(files, 1, 5, 6));
        Assert.Equal([7, 1, 5, 6], grey.Images.Shape);
        Assert.True(ImageLoader.Load(files[6], 1, 5, 6).Span.SequenceEqual(grey.Images.Span[(6 * 30)..]));
        Assert.Empty(ImageBatches.Read([], 3, 8, 8));
    }

    [Fact]
    public void Bad_arguments_are_refused_by_the_call_itself_before_any_decoding()
    {
        string[] files = [Path.Combine(_root, "never-read.png")];
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageBatches.Read(files, 3, 8, 8, batchSize: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageBatches.Read(files, 2, 8, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageBatches.Read(files, 3, 0, 8));
        var tooLarge = Assert.Throws<ArgumentOutOfRangeException>(() => ImageBatches.Read(files, 3, 4000, 4000, batchSize: 4096));
        Assert.Contains("use a smaller batch size", tooLarge.Message);
        Assert.Throws<ArgumentNullException>(() => ImageBatches.Read(null!, 3, 8, 8));
        Assert.Throws<ArgumentNullException>(() => ImageBatches.Read([null!], 3, 8, 8));
    }

    [Fact]
    public void A_bad_file_is_named_when_its_batch_is_reached_after_the_batches_before_it()
    {
        var files = SevenImages().Order(StringComparer.Ordinal).ToList();
        var bytes = File.ReadAllBytes(files[4]);
        File.WriteAllBytes(files[4], bytes[..(bytes.Length / 2)]);   // its header reads fine: only decoding finds it
        using var batches = ImageBatches.Read(files, 3, 8, 8, batchSize: 3).GetEnumerator();
        Assert.True(batches.MoveNext());
        Assert.Equal(files[..3], batches.Current.Files);
        var e = Assert.Throws<ImageLoadException>(() => batches.MoveNext());
        Assert.Contains(files[4], e.Message);
        Assert.Contains("damaged or truncated", e.Message);
    }

    [Fact]
    public void ReadSize_reads_the_header_only_and_refuses_what_is_no_image()
    {
        string png = WriteImage("wide.png", 0, width: 40, height: 16);
        Assert.Equal((40, 16), ImageLoader.ReadSize(png));
        // A JPEG stored sideways (EXIF orientation 6) is displayed, and measured, turned.
        string jpeg = WriteImage("turned.jpg", 1, width: 40, height: 16);
        File.WriteAllBytes(jpeg, Exif.WithOrientation(File.ReadAllBytes(jpeg), 6));
        Assert.Equal((16, 40), ImageLoader.ReadSize(jpeg));
        // Truncated after the header: the size is still read; decoding is what finds the damage.
        var bytes = File.ReadAllBytes(png);
        File.WriteAllBytes(png, bytes[..(bytes.Length / 2)]);
        Assert.Equal((40, 16), ImageLoader.ReadSize(png));
        Assert.Contains("damaged or truncated", Assert.Throws<ImageLoadException>(() => ImageLoader.Load(png, 3, 8, 8)).Message);

        string text = Path.Combine(_root, "text.png");
        File.WriteAllText(text, "not an image");
        var e = Assert.Throws<ImageLoadException>(() => ImageLoader.ReadSize(text));
        Assert.Contains(text, e.Message);
        Assert.Equal(Assert.Throws<ImageLoadException>(() => ImageLoader.Load(text, 3, 8, 8)).Message, e.Message);
        Assert.Contains("not found", Assert.Throws<ImageLoadException>(() => ImageLoader.ReadSize(Path.Combine(_root, "none.png"))).Message);
        Assert.Contains("is a folder", Assert.Throws<ImageLoadException>(() => ImageLoader.ReadSize(_root)).Message);
    }
}
