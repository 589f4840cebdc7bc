using Fovea.Layers;
using Fovea.Models;
using Fovea.Tensors;

namespace Fovea.Vision.Tests;

public class GradCamTests
{
    [Fact]
    public void GradCam_on_generated_images_peaks_on_the_object_not_on_the_background_or_the_distractor()
    {
        var (train, _) = Synthetic.Shapes(1200, 32, 1, seed: 1);
        var (test, boxes, distractors) = Synthetic.ShapesWithDistractors(60, 32, 1, seed: 2);
        var model = Synthetic.TinyCnn(1, 32, 3);
        Synthetic.Train(model, train, epochs: 12, lr: 0.005f);

        double inside = Synthetic.PeakInsideBox(model, test, boxes, margin: 2, out double accuracy);
        double onDistractor = Synthetic.PeakInsideBox(model, test, distractors, margin: 0, out _);
        double insideScore = Synthetic.PeakInsideBox(model, test, boxes, margin: 2, out _, GradCamTarget.Score);
        Assert.True(accuracy >= 0.85, $"the tiny CNN should learn the shapes; test accuracy {accuracy:P0}");
        // The object box covers ~8% of the image and an equally bright distractor bar sits elsewhere in every image.
        Assert.True(inside >= 0.8, $"Grad-CAM (log p) peak inside the object box for only {inside:P0} of the images (score-based: {insideScore:P0})");
        Assert.True(onDistractor <= 0.1, $"Grad-CAM (log p) peak on the distractor for {onDistractor:P0} of the images");
        // Not just the single peak: most of the hottest 5% of the map lies on the object. (The mean heat is a weaker sign
        // here: for two of the three classes this small network keeps a low, broad baseline over the noise texture.)
        double hottest = Synthetic.HottestPixelsInsideBox(model, test, boxes, margin: 2, out double boxArea);
        Assert.True(hottest >= 0.6, $"only {hottest:P0} of the hottest 5% of Grad-CAM pixels lie in the object box, which covers {boxArea:P0} of the image");

        // Occlusion asks the same question from outside (8×8 patches of the mean colour, every 4 pixels) and finds the same place.
        double occluded = Synthetic.OcclusionPeakInsideBox(model, test, boxes, margin: 2);
        double occludedDistractor = Synthetic.OcclusionPeakInsideBox(model, test, distractors, margin: 0);
        Assert.True(occluded >= 0.8, $"occlusion peak inside the object box for only {occluded:P0} of the images");
        Assert.True(occludedDistractor <= 0.15, $"occlusion peak on the distractor for {occludedDistractor:P0} of the images");
    }

    [Fact]
    public void Gradient_of_score_matches_finite_differences_and_leaves_weights_alone()
    {
        var model = new Sequential([2, 6, 6], "smooth", seed: 4)
            .Base(new Conv2D(3, 3, padding: 1), new BatchNorm2D(), new Tanh(), new AvgPool2D(2))
            .Top(new Flatten(), new Dense(4));
        model.Normalization = new InputNormalization([0.5f, 0.4f], [0.5f, 0.25f]);
        var rng = new Random(5);
        var bn = (BatchNorm2D)model.GetLayer("batchnorm2d");
        for (int i = 0; i < 3; i++) { bn.RunningMean.Span[i] = 0.1f * i; bn.RunningVariance.Span[i] = 0.5f + i; }
        var image = new Tensor(2, 6, 6);
        foreach (ref float v in image.Span) v = rng.NextSingle();

        var trace = NetworkTrace.Run(model, image);
        const int cls = 2;
        var grad = trace.GradientOfScore(model.Input, cls); // d score / d normalised input
        Assert.All(model.Parameters, p => Assert.True(p.Value.Grad is null || p.Value.Grad.Span.ToArray().All(g => g == 0)));

        var std = model.Normalization.Std;
        foreach (int index in new[] { 0, 7, 20, 35, 41, 71 })
        {
            const float eps = 1e-2f;
            float Score(float delta)
            {
                var x = image.Clone();
                x.Span[index] += delta;
                return model.Predict(x.View(1, 2, 6, 6)).Span[cls];
            }
            // A raw-pixel step of eps moves the normalised input by eps / std[channel].
            float numeric = (Score(eps) - Score(-eps)) / (2 * eps) * std[index / 36];
            Assert.True(Math.Abs(numeric - grad.Span[index]) < 2e-3f + 0.02f * Math.Abs(numeric), $"pixel {index}: analytic {grad.Span[index]}, numeric {numeric}");
        }
    }

    [Fact]
    public void Default_layer_is_the_end_of_the_last_convolution_block()
    {
        Assert.Equal("relu_1", GradCam.DefaultLayer(ModelZoo.Default([1, 28, 28], 10)));
        Assert.Equal("layer4_1_relu2", GradCam.DefaultLayer(Synthetic.ResNet(32, 3, [4, 4, 8, 8])));
        var ex = Assert.Throws<ArgumentException>(() => GradCam.DefaultLayer(new Sequential([4]).Top(new Dense(2))));
        Assert.Contains("no convolution", ex.Message);
    }

    [Fact]
    public void Named_layer_and_class_are_respected_and_bad_ones_are_reported()
    {
        var model = Synthetic.ResNet(32, 3, [4, 4, 8, 8]);
        var image = new Tensor(3, 32, 32);
        var cam = GradCam.Compute(model, image, classIndex: 1, layerName: "layer3_0_relu2");
        Assert.Equal(1, cam.ClassIndex);
        Assert.Equal("cross", cam.ClassName);
        Assert.Equal(2, cam.Map.GetLength(0)); // 32 → stem /2 → pool /2 → stage 2 /2 → stage 3 /2
        Assert.Equal(32, cam.Upsampled.GetLength(1));
        Assert.Throws<ArgumentException>(() => GradCam.Compute(model, image, layerName: "nope"));
        Assert.Throws<ArgumentException>(() => GradCam.Compute(model, image, layerName: "avgpool"));
        Assert.Throws<ArgumentOutOfRangeException>(() => GradCam.Compute(model, image, classIndex: 3));
    }

    [Fact]
    public void Maps_shown_together_share_one_colour_scale()
    {
        var flat = new float[8, 8];
        for (int y = 0; y < 8; y++) for (int x = 0; x < 8; x++) flat[y, x] = 1;
        var cam = new GradCamResult("conv", 0, "a", 0.01f, flat, flat, (0, 0), Strength: 0.5f);
        var image = new Tensor(1, 8, 8);
        SkiaSharp.SKColor HeatPanelCentre(Picture p)
        {
            using var bitmap = SkiaSharp.SKBitmap.Decode(p.EncodePng());
            return bitmap.GetPixel(16 + 224 + 16 + 112, 44 + 112); // scale 28: panels of 224 px after a 16 px gap, 44 px title
        }
        using var alone = GradCam.Render(cam, image);
        using var beside = GradCam.Render(cam, image, strongest: 2f);
        Assert.Equal(ColorMaps.Heat(1), HeatPanelCentre(alone));
        Assert.Equal(ColorMaps.Heat(0.25f), HeatPanelCentre(beside));
        Assert.Contains("is 25", beside.Caption);
    }
}
