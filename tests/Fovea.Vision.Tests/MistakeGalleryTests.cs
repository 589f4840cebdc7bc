using Fovea.Data;
using Fovea.Training;
using SkiaSharp;

namespace Fovea.Vision.Tests;

public class MistakeGalleryTests
{
    [Fact]
    public void Mistakes_are_drawn_as_tiles_and_none_is_said_so()
    {
        var data = new InMemoryDataset(new float[5 * 3 * 40 * 30], [0, 1, 2, 0, 1], [3, 40, 30], ["cat", "dog", "a very long class name indeed"]);
        var mistakes = new[] { new Mistake(4, 1, 2, 0.0004f, 0.99f), new Mistake(0, 0, 1, 0.2f, 0.7f) };
        using var picture = MistakeGallery.Render(data, mistakes);
        using var bitmap = SKBitmap.Decode(picture.EncodePng());
        Assert.True(bitmap.Width >= 560 && bitmap.Height > 150, $"{bitmap.Width}×{bitmap.Height}");
        Assert.Equal("mistakes", picture.Name);
        using var none = MistakeGallery.Render(data, []);
        Assert.NotNull(SKBitmap.Decode(none.EncodePng()));
    }
}
