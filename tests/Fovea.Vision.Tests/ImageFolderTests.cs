using Fovea.Data;
using SkiaSharp;

namespace Fovea.Vision.Tests;

[Collection(DegreeCollection.Name)]
public class ImageFolderTests
{
    [Fact]
    public void Classes_are_the_sorted_subfolders_and_every_image_inside_is_labelled_by_its_folder()
    {
        using var folder = new SyntheticFolder(imagesPerClass: 7, seed: 1);
        var data = ImageFolder.Load(folder.Root, 3, 24, 24);

        Assert.Equal(SyntheticFolder.ClassNames, data.ClassNames);
        // notes.txt, README.txt and the hidden folder are not images; .png, .jpg and .JPEG in subfolders are.
        Assert.Equal(folder.Files.Count, data.Count);
        Assert.Equal(folder.Files.Select(f => f.Path).Order(StringComparer.Ordinal), data.Files.Order(StringComparer.Ordinal));
        var expectedLabel = folder.Files.ToDictionary(f => f.Path, f => f.Label);
        for (int i = 0; i < data.Count; i++) Assert.Equal(expectedLabel[data.Files[i]], data.GetLabel(i));
        Assert.Contains(data.Files, f => f.EndsWith(".JPEG", StringComparison.Ordinal));
        Assert.Contains(data.Files, f => Path.GetFileName(Path.GetDirectoryName(f)) == "more");
        Assert.Equal([3, 24, 24], data.SampleShape);
    }

    [Fact]
    public void Every_image_is_resized_to_the_requested_shape_with_the_values_predict_would_see()
    {
        using var folder = new SyntheticFolder(imagesPerClass: 4, seed: 2, minSide: 30, maxSide: 90);
        foreach (var (channels, height, width) in new[] { (3, 20, 30), (1, 16, 16) })
        {
            var data = ImageFolder.Load(folder.Root, channels, height, width);
            Assert.Equal([channels, height, width], data.SampleShape);
            var image = new float[channels * height * width];
            for (int i = 0; i < data.Count; i++)
            {
                data.CopyImage(i, image);
                // The folder and ImageLoader (used by fovea predict) decode a file to exactly the same values.
                Assert.Equal(ImageLoader.Load(data.Files[i], channels, height, width).ToArray(), image);
            }
        }
    }

    [Fact]
    public void Resizing_keeps_the_picture_a_large_jpeg_photo_included()
    {
        string dir = Directory.CreateTempSubdirectory("fovea-resize-").FullName;
        try
        {
            // Left half red, right half blue; a small PNG and a large JPEG (decoded at a reduced scale, then resized).
            foreach (var (name, w, h) in new[] { ("small.png", 60, 30), ("large.jpg", 2400, 1600) })
            {
                using var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque));
                using (var canvas = new SKCanvas(bitmap))
                {
                    canvas.Clear(new SKColor(220, 20, 20));
                    using var blue = new SKPaint { Color = new SKColor(20, 20, 220) };
                    canvas.DrawRect(w / 2f, 0, w / 2f, h, blue);
                }
                string path = Path.Combine(dir, name);
                SyntheticFolder.Save(bitmap, path);
                var image = ImageLoader.Load(path, 3, 8, 10);
                for (int y = 0; y < 8; y++)
                {
                    Assert.True(image[0, y, 1] > 0.75f && image[2, y, 1] < 0.2f, $"{name}: left side should be red at row {y}");
                    Assert.True(image[2, y, 8] > 0.75f && image[0, y, 8] < 0.2f, $"{name}: right side should be blue at row {y}");
                }
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Decoding_on_two_threads_reports_progress_and_gives_what_one_thread_gives()
    {
        using var folder = new SyntheticFolder(imagesPerClass: 6, seed: 3);
        var reports = new List<(int Done, int Total)>();
        int saved = Parallelism.Degree;
        try
        {
            Parallelism.Degree = 2;
            var parallel = ImageFolder.Load(folder.Root, 3, 16, 16, new ImageFolderOptions { Progress = (d, t) => reports.Add((d, t)) });
            Parallelism.Degree = 1;
            var serial = ImageFolder.Load(folder.Root, 3, 16, 16);
            Assert.Equal(serial.Data.Images.ToArray(), parallel.Data.Images.ToArray());
            Assert.Equal(Enumerable.Range(1, parallel.Count).Select(d => (d, parallel.Count)), reports);
        }
        finally { Parallelism.Degree = saved; }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void An_exception_of_the_progress_callback_reaches_the_caller_as_it_was_thrown(int threads)
    {
        // Throwing from Progress is how a caller stops a long load (it takes no token): it must come back as itself,
        // not wrapped in the AggregateException of the decoding threads' loop.
        using var folder = new SyntheticFolder(imagesPerClass: 4, seed: 5, maxSide: 48);
        int saved = Parallelism.Degree;
        try
        {
            Parallelism.Degree = threads;
            var e = Assert.Throws<OperationCanceledException>(() => ImageFolder.Load(folder.Root, 3, 8, 8,
                new ImageFolderOptions { Progress = (done, _) => { if (done == 3) throw new OperationCanceledException("stopped by the user"); } }));
            Assert.Equal("stopped by the user", e.Message);
        }
        finally { Parallelism.Degree = saved; }
    }

    [Fact]
    public void The_validation_split_takes_the_same_share_of_every_class_and_depends_only_on_the_seed()
    {
        using var folder = new SyntheticFolder(imagesPerClass: 10, seed: 4, maxSide: 48);
        var data = ImageFolder.Load(folder.Root, 1, 8, 8);
        var (train, validation) = data.Split(0.3, seed: 7);
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(3, Enumerable.Range(0, validation.Count).Count(i => validation.GetLabel(i) == c));
            Assert.Equal(7, Enumerable.Range(0, train.Count).Count(i => train.GetLabel(i) == c));
        }
        Assert.Empty(train.Files.Intersect(validation.Files));
        Assert.Equal(data.Files.Order(), train.Files.Concat(validation.Files).Order());
        Assert.Equal(validation.Files, data.Split(0.3, seed: 7).Validation.Files);
        Assert.NotEqual(validation.Files, data.Split(0.3, seed: 8).Validation.Files);

        // A class of two images still gives one to validation; a class of one keeps it for training.
        var tiny = new InMemoryDataset(new float[5], [0, 0, 1, 2, 2], [1, 1, 1], ["a", "b", "c"]);
        var (t, v) = StratifiedSplit.Indices(tiny, 0.1, seed: 0);
        Assert.Equal([1, 0, 1], new[] { 0, 1, 2 }.Select(c => v.Count(i => tiny.GetLabel(i) == c)));
        Assert.Equal(5, t.Length + v.Length);
    }

    [Fact]
    public void Jpeg_exif_orientation_is_applied()
    {
        string dir = Directory.CreateTempSubdirectory("fovea-exif-").FullName;
        try
        {
            // Stored pixels: left half red, right half blue, 40 wide and 20 high. EXIF orientation 6 says "turn 90° clockwise
            // to view": the stored left column becomes the top row, so the upright image is 20 wide, 40 high, red on top.
            using var bitmap = new SKBitmap(new SKImageInfo(40, 20, SKColorType.Rgba8888, SKAlphaType.Opaque));
            using (var canvas = new SKCanvas(bitmap))
            {
                canvas.Clear(new SKColor(220, 20, 20));
                using var blue = new SKPaint { Color = new SKColor(20, 20, 220) };
                canvas.DrawRect(20, 0, 20, 20, blue);
            }
            using var encoded = bitmap.Encode(SKEncodedImageFormat.Jpeg, 95);
            string path = Path.Combine(dir, "rotated.jpg");
            File.WriteAllBytes(path, Exif.WithOrientation(encoded.ToArray(), 6));

            var image = ImageLoader.Load(path, 3, 40, 20);
            foreach (int x in new[] { 2, 10, 17 })
            {
                Assert.True(image[0, 5, x] > 0.75f && image[2, 5, x] < 0.2f, $"the top of the upright image should be red at x = {x}");
                Assert.True(image[2, 35, x] > 0.75f && image[0, 35, x] < 0.2f, $"the bottom of the upright image should be blue at x = {x}");
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
