using Fovea.Tensors;
using SkiaSharp;

namespace Fovea.Vision;

/// <summary>Thrown when an image file cannot be read; the message names the file.</summary>
public sealed class ImageLoadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Decodes PNG/JPEG (and other formats Skia reads) into model input: converted to the requested channel count
/// (1 = grey by luma, 3 = RGB), resized to height × width with high-quality filtering, scaled to [0, 1], CHW order.
/// </summary>
public static class ImageLoader
{
    /// <summary>Loads <paramref name="path"/> as a [channels, height, width] tensor with values in [0, 1].</summary>
    public static Tensor Load(string path, int channels, int height, int width)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, $"Images can be loaded with 1 or 3 channels. Received: {channels}.");
        if (!File.Exists(path)) throw new ImageLoadException($"Image file not found: {path}");
        using var bitmap = SKBitmap.Decode(path) ?? throw new ImageLoadException($"{path}: not a readable image (PNG, JPEG, BMP, GIF or WebP expected).");
        return FromBitmap(bitmap, channels, height, width);
    }

    /// <summary>Converts a decoded bitmap (any size) to a [channels, height, width] tensor in [0, 1].</summary>
    public static Tensor FromBitmap(SKBitmap bitmap, int channels, int height, int width)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var resized = new SKBitmap(info);
        using (var canvas = new SKCanvas(resized))
        {
            // Transparent pixels become white, as they look in a viewer.
            canvas.Clear(SKColors.White);
            using var image = SKImage.FromBitmap(bitmap);
            canvas.DrawImage(image, new SKRect(0, 0, width, height), new SKSamplingOptions(SKCubicResampler.Mitchell));
        }
        var t = new Tensor(channels, height, width);
        var dst = t.Span;
        var pixels = resized.GetPixelSpan();
        int plane = height * width;
        for (int i = 0; i < plane; i++)
        {
            float r = pixels[4 * i] / 255f, g = pixels[4 * i + 1] / 255f, b = pixels[4 * i + 2] / 255f;
            if (channels == 1) dst[i] = 0.299f * r + 0.587f * g + 0.114f * b; // ITU-R BT.601 luma
            else { dst[i] = r; dst[plane + i] = g; dst[2 * plane + i] = b; }
        }
        return t;
    }

    /// <summary>Writes a [channels, height, width] tensor in [0, 1] as a PNG (for tests and sample images).</summary>
    public static void SavePng(Tensor image, string path)
    {
        int c = image.Dim(0), h = image.Dim(1), w = image.Dim(2), plane = h * w;
        using var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var px = bitmap.GetPixelSpan();
        var src = image.Span;
        for (int i = 0; i < plane; i++)
        {
            byte ToByte(float v) => (byte)Math.Clamp((int)MathF.Round(v * 255f), 0, 255);
            byte r = ToByte(src[i]), g = c == 3 ? ToByte(src[plane + i]) : r, b = c == 3 ? ToByte(src[2 * plane + i]) : r;
            px[4 * i] = r; px[4 * i + 1] = g; px[4 * i + 2] = b; px[4 * i + 3] = 255;
        }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        string temp = path + ".tmp";
        using (var f = File.Create(temp)) data.SaveTo(f);
        File.Move(temp, path, overwrite: true);
    }
}
