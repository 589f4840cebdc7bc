using SkiaSharp;

namespace Fovea.Vision.Tests;

/// <summary>
/// Writes image folders as a user would have them: one subfolder per class, PNG and JPEG files (extensions in mixed
/// case, some in a nested subfolder) of different sizes and aspect ratios, some grey, plus files that are not images.
/// Each picture is a noisy background of random brightness with one object of random colour, size and place:
/// a filled disk, a set of horizontal bars, or a plus-shaped cross. Colour and place say nothing about the class; shape does.
/// </summary>
internal sealed class SyntheticFolder : IDisposable
{
    public static readonly string[] ClassNames = ["bars", "cross", "disk"];

    public SyntheticFolder(int imagesPerClass, int seed, int minSide = 40, int maxSide = 120)
    {
        Root = Directory.CreateTempSubdirectory("fovea-folder-").FullName;
        var rng = new Random(seed);
        for (int c = 0; c < ClassNames.Length; c++)
        {
            string classDir = Path.Combine(Root, ClassNames[c]);
            Directory.CreateDirectory(Path.Combine(classDir, "more"));
            for (int i = 0; i < imagesPerClass; i++)
            {
                int width = rng.Next(minSide, maxSide + 1), height = rng.Next(minSide, maxSide + 1);
                bool grey = i % 5 == 4;
                // Formats and places vary with the image number: .png, .jpg, .JPEG, and every fourth in a subfolder.
                string extension = (i % 3) switch { 0 => ".png", 1 => ".jpg", _ => ".JPEG" };
                string folder = i % 4 == 3 ? Path.Combine(classDir, "more") : classDir;
                string path = Path.Combine(folder, $"img{i:D3}{extension}");
                using var bitmap = Draw(c, width, height, grey, rng);
                Save(bitmap, path);
                Files.Add((path, c));
            }
            File.WriteAllText(Path.Combine(classDir, "notes.txt"), "not an image");
        }
        File.WriteAllText(Path.Combine(Root, "README.txt"), "a file beside the class folders");
        Directory.CreateDirectory(Path.Combine(Root, ".hidden"));
    }

    /// <summary>The folder (deleted on Dispose).</summary>
    public string Root { get; }

    /// <summary>Every image written, with its label (index into <see cref="ClassNames"/>).</summary>
    public List<(string Path, int Label)> Files { get; } = new();

    public void Dispose()
    {
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }

    /// <summary>Draws one picture of class <paramref name="label"/>.</summary>
    public static SKBitmap Draw(int label, int width, int height, bool grey, Random rng)
    {
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = bitmap.GetPixelSpan();
        int level = 60 + rng.Next(80);
        for (int p = 0; p < width * height; p++)
        {
            byte v = (byte)Math.Clamp(level + rng.Next(-25, 26), 0, 255);
            pixels[4 * p] = v; pixels[4 * p + 1] = v; pixels[4 * p + 2] = v; pixels[4 * p + 3] = 255;
        }
        var hue = rng.Next(360);
        var colour = SKColor.FromHsv(hue, 70 + rng.Next(30), 85 + rng.Next(15));
        int side = (int)(Math.Min(width, height) * (0.45 + 0.2 * rng.NextDouble()));
        float left = rng.Next(0, width - side + 1), top = rng.Next(0, height - side + 1);
        using var canvas = new SKCanvas(bitmap);
        using var paint = new SKPaint { Color = colour, IsAntialias = true, Style = SKPaintStyle.Fill };
        switch (label)
        {
            case 0: // bars: three horizontal stripes
                for (int b = 0; b < 3; b++) canvas.DrawRect(left, top + b * side / 2.5f, side, side / 5f, paint);
                break;
            case 1: // cross: a plus sign
                canvas.DrawRect(left + side * 0.38f, top, side * 0.24f, side, paint);
                canvas.DrawRect(left, top + side * 0.38f, side, side * 0.24f, paint);
                break;
            default: // disk
                canvas.DrawCircle(left + side / 2f, top + side / 2f, side / 2f, paint);
                break;
        }
        canvas.Flush();
        if (!grey) return bitmap;
        var greyBitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        var source = bitmap.GetPixelSpan();
        var target = greyBitmap.GetPixelSpan();
        for (int p = 0; p < width * height; p++)
            target[p] = (byte)Math.Round(0.299 * source[4 * p] + 0.587 * source[4 * p + 1] + 0.114 * source[4 * p + 2]);
        bitmap.Dispose();
        return greyBitmap;
    }

    /// <summary>Encodes by extension: PNG, or JPEG at quality 92.</summary>
    public static void Save(SKBitmap bitmap, string path)
    {
        bool png = path.EndsWith(".png", StringComparison.OrdinalIgnoreCase);
        using var data = bitmap.Encode(png ? SKEncodedImageFormat.Png : SKEncodedImageFormat.Jpeg, png ? 100 : 92)
            ?? throw new InvalidOperationException($"Could not encode {path}.");
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}
