using SkiaSharp;

namespace Fovea.Vision;

/// <summary>
/// One rendered picture: an immutable raster image with a file-friendly <see cref="Name"/> (e.g. "act-conv2d") and a
/// human <see cref="Title"/>. Apps can draw <see cref="Image"/> directly; <see cref="EncodePng"/> gives the PNG bytes
/// (encoded once, then cached) and <see cref="SavePng"/> writes them atomically.
/// </summary>
public sealed class Picture : IDisposable
{
    private byte[]? _png;

    /// <summary>Wraps <paramref name="image"/> (ownership passes to the picture).</summary>
    public Picture(string name, string title, SKImage image, string? caption = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name; Title = title; Image = image ?? throw new ArgumentNullException(nameof(image)); Caption = caption;
    }

    /// <summary>File stem: letters, digits, '-' and '_' only.</summary>
    public string Name { get; }
    /// <summary>What the picture shows, one line.</summary>
    public string Title { get; }
    /// <summary>Optional longer explanation (shown under the picture in the HTML report).</summary>
    public string? Caption { get; }
    /// <summary>The pixels.</summary>
    public SKImage Image { get; }
    /// <summary>Width in pixels.</summary>
    public int Width => Image.Width;
    /// <summary>Height in pixels.</summary>
    public int Height => Image.Height;

    /// <summary>The picture as PNG bytes.</summary>
    public byte[] EncodePng()
    {
        if (_png is not null) return _png;
        // Fast settings (Sub filter, zlib level 1): activation grids are large, and the defaults cost several times the time for modestly smaller files.
        using var pixmap = Image.PeekPixels();
        using var data = (pixmap?.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.Sub, 1)) ?? Image.Encode(SKEncodedImageFormat.Png, 100))
            ?? throw new InvalidOperationException($"Could not encode picture '{Name}' as PNG.");
        return _png = data.ToArray();
    }

    /// <summary>Writes the PNG to <paramref name="path"/> through a temporary sibling and a rename (never half-written).</summary>
    public void SavePng(string path) => AtomicWrite.Bytes(path, EncodePng());

    /// <summary>A data: URI of the PNG, for self-contained HTML.</summary>
    public string ToDataUri() => "data:image/png;base64," + Convert.ToBase64String(EncodePng());

    /// <summary>Creates a picture from PNG (or other encoded) bytes, e.g. a chart rendered by ScottPlot.</summary>
    public static Picture FromEncoded(string name, string title, byte[] encoded, string? caption = null)
    {
        var image = SKImage.FromEncodedData(encoded) ?? throw new ArgumentException($"Picture '{name}': the bytes are not a readable image.");
        return new Picture(name, title, image, caption) { _png = encoded };
    }

    /// <summary>Makes a string safe as a file stem: letters (of any script), digits, '-' and '_' stay, other characters become '_'.</summary>
    public static string SafeName(string s)
    {
        var chars = s.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_').ToArray();
        return chars.Length == 0 ? "_" : new string(chars);
    }

    /// <inheritdoc/>
    public void Dispose() => Image.Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Width}×{Height}): {Title}";
}

/// <summary>Writes files through a temporary sibling and a rename, so a crash never leaves one half-written.</summary>
public static class AtomicWrite
{
    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/>, creating its folder.</summary>
    public static void Bytes(string path, byte[] bytes)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = $"{full}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(bytes);
                // On disk before the rename: after a power cut the path holds the old file or the new one, never an empty one.
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Writes UTF-8 <paramref name="text"/> to <paramref name="path"/>, creating its folder.</summary>
    public static void Text(string path, string text) => Bytes(path, System.Text.Encoding.UTF8.GetBytes(text));
}
