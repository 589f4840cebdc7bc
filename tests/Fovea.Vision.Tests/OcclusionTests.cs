using Fovea.Layers;
using Fovea.Models;
using Fovea.Tensors;
using SkiaSharp;

namespace Fovea.Vision.Tests;

public class OcclusionTests
{
    /// <summary>
    /// A dense network on 16×16 images whose class 0 score is the brightness of the top-left 4×4 corner and class 1's a
    /// constant: covering the corner (with the image's darker mean colour) is what lowers p(class 0).
    /// </summary>
    private static (Model Model, Tensor Image) CornerDetector(int top = 0, int left = 0)
    {
        var dense = new Dense(2, name: "scores");
        var model = new Sequential([1, 16, 16]).Top(new Flatten(), dense);
        var w = dense.Weight.Span;
        w.Clear();
        dense.Bias!.Span.Clear();
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++) w[(top + y) * 16 + left + x] = 1f; // row 0 of [2, 256]: class 0
        dense.Bias!.Span[1] = 8f;
        var image = new Tensor(1, 16, 16);
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 6; x++) image[0, Math.Min(15, top + y), Math.Min(15, left + x)] = 1f;
        return (model, image);
    }

    [Fact]
    public void Covering_the_evidence_is_what_lowers_the_class()
    {
        var (model, image) = CornerDetector();
        var result = Occlusion.Compute(model, image, classIndex: 0, patch: 4, stride: 2);
        Assert.Equal(0, result.ClassIndex);
        Assert.True(result.Peak.Y < 4 && result.Peak.X < 4, $"peak at {result.Peak}");
        Assert.Equal(0f, result.Map[12, 12]);                   // nothing the score reads
        Assert.True(result.LargestFall > 1, $"largest fall {result.LargestFall}");
        // p(class 0) = sigmoid(16 − 8): covering the whole corner (16 → 16·mean) gives the largest fall of log p.
        double mean = 36.0 / 256, expected = Math.Log(1 / (1 + Math.Exp(-8))) - Math.Log(1 / (1 + Math.Exp(-(16 * mean - 8))));
        Assert.Equal(expected, result.LargestFall, 3);
        Assert.Equal((float)(1 / (1 + Math.Exp(-8))), result.Probability, 5);
        // The other class gains where class 0 loses: covering the corner raises p(class 1).
        var other = Occlusion.Compute(model, image, classIndex: 1, patch: 4, stride: 2);
        Assert.True(other.Map[1, 1] < 0, $"class 1 at the corner: {other.Map[1, 1]}");
        // Batching does not change the numbers.
        var oneByOne = Occlusion.Compute(model, image, classIndex: 0, patch: 4, stride: 2, batchSize: 1);
        Assert.Equal(result.Map.Cast<float>(), oneByOne.Map.Cast<float>());

        using var picture = Occlusion.Render(result, image);
        using var bitmap = SKBitmap.Decode(picture.EncodePng());
        Assert.True(bitmap.Width > 600 && bitmap.Height > 200);
        Assert.Contains("log p", picture.Caption);
    }

    [Fact]
    public void Every_pixel_is_covered_even_when_the_stride_does_not_fit()
    {
        // Evidence in the far corner (rows and columns 12..15). Patches of 5 every 3 pixels start at 0, 3, 6, 9 and end
        // at 13: the last one is moved flush with the edge (to 11) rather than leaving the last two rows and columns out.
        var (model, image) = CornerDetector(top: 12, left: 12);
        var result = Occlusion.Compute(model, image, classIndex: 0, patch: 5, stride: 3);
        Assert.True(result.Map[15, 15] > 0.5f, $"far corner: {result.Map[15, 15]}");
        Assert.Equal((15, 15), (result.Peak.Y >= 11 ? 15 : result.Peak.Y, result.Peak.X >= 11 ? 15 : result.Peak.X));
        (model, image) = CornerDetector();
        Assert.Equal(5, result.Patch);
        Assert.Equal(3, result.Stride);
        var defaults = Occlusion.Compute(model, image);
        Assert.Equal((4, 2), (defaults.Patch, defaults.Stride));
    }

    [Fact]
    public void Bad_arguments_are_refused_naming_the_value()
    {
        var (model, image) = CornerDetector();
        Assert.Contains("received 17", Assert.Throws<ArgumentException>(() => Occlusion.Compute(model, image, patch: 17)).Message);
        Assert.Contains("received 0", Assert.Throws<ArgumentException>(() => Occlusion.Compute(model, image, patch: 0)).Message);
        Assert.Contains("received 0", Assert.Throws<ArgumentException>(() => Occlusion.Compute(model, image, stride: 0)).Message);
        Assert.Contains("received 0", Assert.Throws<ArgumentException>(() => Occlusion.Compute(model, image, batchSize: 0)).Message);
        Assert.Contains("Class 2", Assert.Throws<ArgumentException>(() => Occlusion.Compute(model, image, classIndex: 2)).Message);
        Assert.Contains("(1, 8, 8)", Assert.Throws<ArgumentException>(() => Occlusion.Compute(model, new Tensor(1, 8, 8))).Message);
    }
}
