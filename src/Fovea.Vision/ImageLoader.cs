using Fovea.Tensors;
using SkiaSharp;

namespace Fovea.Vision;

/// <summary>Thrown when an image file cannot be read; the message names the file.</summary>
public sealed class ImageLoadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Decodes PNG/JPEG (and other formats Skia reads) into model input: turned upright by its EXIF orientation, converted to
/// the requested channel count (1 = grey by luma, 3 = RGB), resized to height × width with high-quality filtering, as
/// 8-bit pixels (<see cref="LoadPixels"/>) or scaled to [0, 1] (<see cref="Load"/>), CHW order. Training on an
/// <see cref="ImageFolder"/> and <c>fovea predict</c> both go through here, so a model sees the same values in both.
/// </summary>
public static class ImageLoader
{
    private const string Expected = "a PNG or JPEG image (BMP, GIF and WebP are also read)";

    /// <summary>Loads <paramref name="path"/> as a [channels, height, width] tensor with values in [0, 1] (pixel / 255).</summary>
    /// <exception cref="ImageLoadException">The file is missing, not an image, or damaged; the message names it.</exception>
    public static Tensor Load(string path, int channels, int height, int width)
    {
        var pixels = new byte[PixelCount(channels, height, width)];
        LoadPixels(path, channels, height, width, pixels);
        return ToTensor(pixels, channels, height, width);
    }

    /// <summary>
    /// Reads only the header of <paramref name="path"/> and returns the image's size as displayed (EXIF orientation
    /// applied). A quick check, before decoding many files, that each exists and is an image: a file that is none fails
    /// here with the message <see cref="Load"/> would give; damage further into the file shows only when it is decoded.
    /// </summary>
    /// <exception cref="ImageLoadException">The file is missing, empty, a folder or not an image; the message names it.</exception>
    public static (int Width, int Height) ReadSize(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var codec = OpenCodec(path);
        bool sideways = Sideways(codec.EncodedOrigin);
        return sideways ? (codec.Info.Height, codec.Info.Width) : (codec.Info.Width, codec.Info.Height);
    }

    /// <summary>
    /// Decodes <paramref name="path"/> into 8-bit pixels, [channels, height, width] in CHW order, written to
    /// <paramref name="destination"/> (at least channels × height × width bytes). Grey is the rounded BT.601 luma.
    /// </summary>
    /// <exception cref="ImageLoadException">The file is missing, not an image, or damaged; the message names it.</exception>
    public static void LoadPixels(string path, int channels, int height, int width, Span<byte> destination)
    {
        CheckSize(channels, height, width, destination.Length);
        using var decoded = Decode(path, height, width);
        ResizeToPixels(decoded, channels, height, width, destination);
    }

    /// <summary>
    /// Decodes an encoded image held in memory (an upload, a resource) as <see cref="Load"/> decodes a file: upright by
    /// its EXIF orientation, converted and resized to a [channels, height, width] tensor in [0, 1].
    /// </summary>
    /// <param name="encoded">The bytes of a PNG or JPEG file.</param>
    /// <param name="name">What error messages call the image (a file name, "upload 3", ...).</param>
    /// <param name="channels">1 (grey, by BT.601 luma) or 3 (RGB).</param>
    /// <param name="height">Height the image is resized to, in pixels.</param>
    /// <param name="width">Width the image is resized to, in pixels.</param>
    /// <exception cref="ImageLoadException">The bytes are empty, not an image, or damaged; the message names <paramref name="name"/>.</exception>
    public static Tensor LoadEncoded(byte[] encoded, string name, int channels, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        var pixels = new byte[PixelCount(channels, height, width)];
        if (encoded.Length == 0) throw new ImageLoadException($"{name} is empty (0 bytes); expected {Expected}.");
        // The codec owns the stream it reads from and disposes it with itself.
        using var codec = SKCodec.Create(new MemoryStream(encoded, writable: false), out var status)
            ?? throw new ImageLoadException($"{name}: not a readable image ({Expected} expected; the decoder reports {status}).");
        EncodedSizeCheck.Check(codec, () => new MemoryStream(encoded, writable: false), encoded.Length, name);
        using var decoded = Decode(codec, name, height, width);
        ResizeToPixels(decoded, channels, height, width, pixels);
        return ToTensor(pixels, channels, height, width);
    }

    /// <summary>Converts a decoded bitmap (any size) to a [channels, height, width] tensor in [0, 1].</summary>
    /// <exception cref="ObjectDisposedException">The bitmap has been disposed.</exception>
    /// <exception cref="ArgumentException">The bitmap has no pixels (0 x 0, or none allocated).</exception>
    public static Tensor FromBitmap(SKBitmap bitmap, int channels, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(bitmap);
        var pixels = new byte[PixelCount(channels, height, width)];
        // Skia itself does not check: a disposed bitmap crashed the process (SIGSEGV), and one without pixels failed
        // deep inside with "Value cannot be null (Parameter 'image')".
        if (bitmap.Handle == IntPtr.Zero) throw new ObjectDisposedException(nameof(SKBitmap), "The bitmap has been disposed; classify it before disposing it.");
        if (bitmap.Width < 1 || bitmap.Height < 1 || bitmap.GetPixels() == IntPtr.Zero)
            throw new ArgumentException($"The bitmap has no pixels ({bitmap.Width}x{bitmap.Height}, {bitmap.ColorType}); expected a decoded image of at least 1x1.", nameof(bitmap));
        ResizeToPixels(bitmap, channels, height, width, pixels);
        return ToTensor(pixels, channels, height, width);
    }

    private static void CheckSize(int channels, int height, int width, int destinationLength)
    {
        int needed = PixelCount(channels, height, width);
        if (destinationLength < needed)
            throw new ArgumentException($"Destination holds {destinationLength} bytes but a {channels} x {height} x {width} image needs {needed}.");
    }

    /// <summary>Channels × height × width of a valid target size, checked before anything is allocated for it (the product
    /// of large sizes overflowed an int and allocated a wrong-sized buffer).</summary>
    private static int PixelCount(int channels, int height, int width)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, $"Images can be loaded with 1 or 3 channels. Received: {channels}.");
        if (height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(height), $"Image size must be positive. Received: {height} x {width}.");
        if ((long)height * width > MaxDecodedPixels)
            throw new ArgumentOutOfRangeException(nameof(height), $"Image size {height} x {width} is more than Fovea resizes to ({MaxDecodedPixels / 1_000_000} megapixels).");
        return channels * height * width;
    }

    private static Tensor ToTensor(byte[] pixels, int channels, int height, int width)
    {
        var t = new Tensor(channels, height, width);
        var dst = t.Span;
        // Division, as InMemoryDataset's byte storage reads, so a loaded file and a decoded folder hold equal values.
        for (int i = 0; i < pixels.Length; i++) dst[i] = pixels[i] / 255f;
        return t;
    }

    /// <summary>
    /// Decodes the file upright (EXIF orientation applied). A JPEG much larger than the target is decoded directly at a
    /// reduced scale (the codec can skip detail in steps of 1/8), which makes phone photos several times faster to read.
    /// </summary>
    // 400 MB of RGBA: far above any camera photo after the JPEG scaling below, and a header claiming more is refused
    // before anything is allocated.
    private const long MaxDecodedPixels = 100_000_000;

    private static SKBitmap Decode(string path, int height, int width)
    {
        using var codec = OpenCodec(path);
        return Decode(codec, path, height, width);
    }

    private static SKBitmap Decode(SKCodec codec, string path, int height, int width)
    {
        bool sideways = Sideways(codec.EncodedOrigin);
        int storedTargetW = sideways ? height : width, storedTargetH = sideways ? width : height;
        float scale = Math.Max((float)storedTargetW / codec.Info.Width, (float)storedTargetH / codec.Info.Height);
        var size = scale < 1 ? codec.GetScaledDimensions(scale) : codec.Info.Size;
        var alpha = codec.Info.AlphaType == SKAlphaType.Opaque ? SKAlphaType.Opaque : SKAlphaType.Premul;
        if ((long)size.Width * size.Height > MaxDecodedPixels)
            throw new ImageLoadException($"{path}: {codec.Info.Width}x{codec.Info.Height} pixels is more than Fovea decodes ({MaxDecodedPixels / 1_000_000} megapixels); scale the image down first.");
        var info = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, alpha);
        var bitmap = new SKBitmap(info);
        if (bitmap.GetPixels() == IntPtr.Zero)
        {
            bitmap.Dispose();
            throw new ImageLoadException($"{path}: not enough memory to decode {size.Width}x{size.Height} pixels.");
        }
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result != SKCodecResult.Success)
        {
            bitmap.Dispose();
            throw new ImageLoadException($"{path}: the image is damaged or truncated (decoder: {result}); {Expected} was expected.");
        }
        return Orient(bitmap, codec.EncodedOrigin);
    }

    /// <summary>True for the EXIF orientations stored turned by 90 degrees (width and height swap when shown).</summary>
    private static bool Sideways(SKEncodedOrigin origin) =>
        origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;

    /// <summary>Opens the file's decoder, which reads only its header; refuses what is not an image file, naming it.</summary>
    private static SKCodec OpenCodec(string path)
    {
        if (Directory.Exists(path)) throw new ImageLoadException($"{path} is a folder; expected an image file ({Expected}).");
        // Followed through symbolic links: pipes and devices report 0 bytes too, and refusing them here is what keeps a
        // FIFO (or a link to one) from blocking the open forever.
        long? length = Fovea.Serialization.LinkedFile.Length(path);
        if (length is null) throw new ImageLoadException($"Image file not found: {path}{Fovea.Serialization.LinkedFile.NotFoundNote(path)}");
        if (length == 0) throw new ImageLoadException($"{path} is empty (0 bytes) or not a regular file; expected an image file ({Expected}).");
        var codec = SKCodec.Create(path, out var status) ?? throw new ImageLoadException(UnreadableReason(path) ??
            $"{path}: not a readable image ({Expected} expected; the decoder reports {status}).");
        try { EncodedSizeCheck.Check(codec, () => File.OpenRead(path), length.Value, path); }
        catch { codec.Dispose(); throw; }
        return codec;
    }

    /// <summary>
    /// Why the file cannot be opened at all (no permission to read it, an I/O error), for the decoder reports only a
    /// generic failure then; null when it opens, so the failure is the content's.
    /// </summary>
    private static string? UnreadableReason(string path)
    {
        try { using var _ = File.OpenRead(path); return null; }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException) { return $"{path}: cannot be read ({e.Message.TrimEnd('.')})."; }
    }

    /// <summary>Redraws a bitmap stored in EXIF orientation <paramref name="origin"/> as it is meant to be seen (disposes the input).</summary>
    private static SKBitmap Orient(SKBitmap stored, SKEncodedOrigin origin)
    {
        float w = stored.Width, h = stored.Height;
        // Maps a stored pixel (x, y) to where it is displayed: X = ScaleX·x + SkewX·y + TransX, Y = SkewY·x + ScaleY·y + TransY.
        SKMatrix? toDisplay = origin switch
        {
            SKEncodedOrigin.TopRight => new SKMatrix(-1, 0, w, 0, 1, 0, 0, 0, 1),      // mirrored
            SKEncodedOrigin.BottomRight => new SKMatrix(-1, 0, w, 0, -1, h, 0, 0, 1),  // upside down
            SKEncodedOrigin.BottomLeft => new SKMatrix(1, 0, 0, 0, -1, h, 0, 0, 1),    // flipped
            SKEncodedOrigin.LeftTop => new SKMatrix(0, 1, 0, 1, 0, 0, 0, 0, 1),        // transposed
            SKEncodedOrigin.RightTop => new SKMatrix(0, -1, h, 1, 0, 0, 0, 0, 1),      // turn 90° clockwise to view
            SKEncodedOrigin.RightBottom => new SKMatrix(0, -1, h, -1, 0, w, 0, 0, 1),  // transverse
            SKEncodedOrigin.LeftBottom => new SKMatrix(0, 1, 0, -1, 0, w, 0, 0, 1),    // turn 90° anticlockwise to view
            _ => null,
        };
        if (toDisplay is not { } matrix) return stored;
        bool sideways = origin >= SKEncodedOrigin.LeftTop;
        var upright = new SKBitmap(new SKImageInfo(sideways ? stored.Height : stored.Width, sideways ? stored.Width : stored.Height, stored.ColorType, stored.AlphaType));
        using (var canvas = new SKCanvas(upright))
        {
            canvas.Clear(SKColors.Transparent);
            canvas.SetMatrix(matrix);
            canvas.DrawBitmap(stored, 0, 0);
        }
        stored.Dispose();
        return upright;
    }

    /// <summary>Resizes to height × width over a white background (transparent pixels look white, as in a viewer) and writes CHW bytes.</summary>
    private static void ResizeToPixels(SKBitmap bitmap, int channels, int height, int width, Span<byte> destination)
    {
        using var source = HalveUntilNear(bitmap, height, width);
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var resized = new SKBitmap(info);
        using (var canvas = new SKCanvas(resized))
        {
            canvas.Clear(SKColors.White);
            using var image = SKImage.FromBitmap(source ?? bitmap);
            canvas.DrawImage(image, new SKRect(0, 0, width, height), new SKSamplingOptions(SKCubicResampler.Mitchell));
        }
        var pixels = resized.GetPixelSpan();
        int plane = height * width;
        for (int i = 0; i < plane; i++)
        {
            byte r = pixels[4 * i], g = pixels[4 * i + 1], b = pixels[4 * i + 2];
            if (channels == 1) destination[i] = (byte)MathF.Round(0.299f * r + 0.587f * g + 0.114f * b); // ITU-R BT.601 luma
            else { destination[i] = r; destination[plane + i] = g; destination[2 * plane + i] = b; }
        }
    }

    /// <summary>
    /// Cubic filtering reads 4 × 4 source pixels per output pixel, so shrinking by much more than 2× skips detail and
    /// aliases; halving with linear filtering averages 2 × 2 blocks. Returns null when no halving is needed.
    /// </summary>
    private static SKBitmap? HalveUntilNear(SKBitmap bitmap, int height, int width)
    {
        SKBitmap? current = null;
        var source = bitmap;
        while (source.Width >= 4 * width && source.Height >= 4 * height)
        {
            var half = new SKBitmap(new SKImageInfo(source.Width / 2, source.Height / 2, SKColorType.Rgba8888, SKAlphaType.Premul));
            using (var canvas = new SKCanvas(half))
            using (var image = SKImage.FromBitmap(source))
            {
                canvas.Clear(SKColors.Transparent);
                canvas.DrawImage(image, new SKRect(0, 0, half.Width, half.Height), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None));
            }
            current?.Dispose();
            current = half;
            source = half;
        }
        return current;
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
        // Through a temporary file of its own: a fixed "path.tmp" replaced, then moved away, a user's file of that name.
        AtomicWrite.Bytes(path, data.ToArray());
    }
}
