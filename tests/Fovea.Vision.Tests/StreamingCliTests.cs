using System.Text.Json.Nodes;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;
using SkiaSharp;

namespace Fovea.Vision.Tests;

/// <summary>
/// fovea train with a pretrained base decodes the images a batch at a time on their way through the base: no limit on the
/// folder's size from holding every decoded image, and an undecodable file is still one line naming it. Run as the real executable.
/// </summary>
public sealed class StreamingCliTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-streaming-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (int Code, string Out, string Err) Fovea(params string[] args) => CliProcess.Run(TimeSpan.FromMinutes(5), output, args);

    /// <summary>A small base file taking [channels, size, size]: pooling by <paramref name="pool"/> (when above 1), then a residual block that can be cut after stem_relu.</summary>
    private string SaveBase(int channels, int size, int pool)
    {
        var m = new Model([channels, size, size], "small-base", seed: 3);
        if (pool > 1) m.Add(new MaxPool2D(pool, name: "shrink"));
        var stem = m.Add(new Conv2D(4, 3, padding: 1, name: "stem"));
        stem = m.Add(new ReLU(name: "stem_relu"), stem);
        var block = m.Add(new Conv2D(4, 3, padding: 1, name: "block_conv"), stem);
        block = m.Add(new Add(name: "block_add"), block, stem);
        m.Add(new ReLU(name: "block_relu"), block);
        string path = Path.Combine(_dir, $"base-{channels}x{size}.fovea");
        ModelFile.Save(m, path);
        return path;
    }

    [Fact]
    public void An_undecodable_file_is_one_line_naming_it_with_a_pretrained_base_and_when_fine_tuning()
    {
        using var train = new SyntheticFolder(imagesPerClass: 5, seed: 91, minSide: 20, maxSide: 40);
        using var test = new SyntheticFolder(imagesPerClass: 2, seed: 92, minSide: 20, maxSide: 40);
        string basePath = SaveBase(3, 16, 1);
        string brokenTest = Path.Combine(test.Root, "disk", "zz-broken.png");
        File.WriteAllText(brokenTest, "not a picture");
        // --json: no progress lines, so standard error holds the error alone.
        string[] run = ["train", "--data", train.Root, "--base", basePath, "--epochs", "2", "--out", Path.Combine(_dir, "m.fovea"), "--json"];
        CliProcess.AssertUsageError(Fovea([.. run, "--test-data", test.Root]), brokenTest, "PNG or JPEG");

        // Without --json too, every file's header is read before anything is decoded: the error is the only line, not the
        // end of minutes of feature extraction.
        var shown = Fovea([.. run[..^1], "--test-data", test.Root]);
        Assert.Equal(2, shown.Code);
        var line = Assert.Single(shown.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"fovea: error: {brokenTest}", line);

        string broken = Path.Combine(train.Root, "cross", "broken.jpg");
        File.WriteAllText(broken, "not a picture either");
        CliProcess.AssertUsageError(Fovea(run), broken, "PNG or JPEG");
        CliProcess.AssertUsageError(Fovea([.. run, "--fine-tune", "stem_relu", "--fine-tune-epochs", "1"]), broken);
        // Whether the images are decoded up front or batch by batch, the message is the same.
        CliProcess.AssertUsageError(Fovea("train", "--data", train.Root, "--base", "none", "--image-size", "16", "--epochs", "1", "--json"), broken);
    }

    [Fact]
    public void More_images_than_one_array_holds_decoded_are_refused_from_scratch_but_not_with_a_pretrained_base()
    {
        // 512 grey images at 2048 x 2048 are 2^31 bytes of pixels, just over what one array holds. Decoding them all takes
        // minutes (a 100-second run trained on them); a broken first file stops the pretrained run at its first batch,
        // which shows it got past the limit that refuses the run from scratch before any image is decoded.
        string folder = Path.Combine(_dir, "large");
        using (var bitmap = new SKBitmap(new SKImageInfo(4, 4, SKColorType.Gray8, SKAlphaType.Opaque)))
        {
            for (int i = 0; i < 512; i++)
            {
                string classDir = Path.Combine(folder, i % 2 == 0 ? "dark" : "light");
                Directory.CreateDirectory(classDir);
                byte level = (byte)(i % 2 == 0 ? 40 : 200);
                bitmap.Erase(new SKColor(level, level, level));
                SyntheticFolder.Save(bitmap, Path.Combine(classDir, $"{i:D3}.png"));
            }
        }
        string broken = Path.Combine(folder, "dark", "000.png");
        File.WriteAllText(broken, "not a picture");
        CliProcess.AssertUsageError(Fovea("train", "--data", folder, "--base", "none", "--channels", "1", "--image-size", "2048", "--json"),
            "512 images of 1 x 2048 x 2048 need 2.1 GB as 8-bit pixels, more than the 2.1 GB one array holds");
        // All of it for training (so the broken file is in the first batch), the same folder as test images.
        string[] pretrained = ["train", "--data", folder, "--validation-split", "0", "--test-data", folder, "--base", SaveBase(1, 2048, 128), "--json"];
        CliProcess.AssertUsageError(Fovea(pretrained), broken);
        CliProcess.AssertUsageError(Fovea([.. pretrained, "--fine-tune", "stem_relu"]), broken);
    }
}
