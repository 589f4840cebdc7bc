using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;
using Fovea.Tensors;
using SkiaSharp;

namespace Fovea.Vision.Tests;

public class FilterPatternTests
{
    /// <summary>
    /// Two hand-set 3×3 filters behind a ReLU: channel 0 fires on horizontal edges (bright row above a dark one), channel 1
    /// on vertical ones. Nothing else in the network.
    /// </summary>
    private static Model EdgeDetectors()
    {
        var conv = new Conv2D(2, 3, padding: Padding.Same, useBias: false, name: "edges");
        var model = new Sequential([1, 24, 24]).Base(conv, new ReLU(name: "fire")).Top(new Flatten(), new Dense(2, name: "scores"));
        var w = conv.Weight.Span;
        for (int i = 0; i < 3; i++)
        {
            w[0 * 9 + 0 * 3 + i] = 1; w[0 * 9 + 2 * 3 + i] = -1; // filter 0: top row +, bottom row −
            w[1 * 9 + i * 3 + 0] = 1; w[1 * 9 + i * 3 + 2] = -1; // filter 1: left column +, right column −
        }
        return model;
    }

    /// <summary>Mean |difference| between vertically neighbouring pixels and between horizontally neighbouring ones.</summary>
    private static (double Vertical, double Horizontal) Variation(float[] image, int h, int w)
    {
        double vertical = 0, horizontal = 0;
        for (int y = 0; y + 1 < h; y++)
            for (int x = 0; x < w; x++) vertical += Math.Abs(image[(y + 1) * w + x] - image[y * w + x]);
        for (int y = 0; y < h; y++)
            for (int x = 0; x + 1 < w; x++) horizontal += Math.Abs(image[y * w + x + 1] - image[y * w + x]);
        return (vertical / ((h - 1) * w), horizontal / (h * (w - 1)));
    }

    [Fact]
    public void The_pattern_of_an_edge_detector_is_stripes_across_its_edges()
    {
        var result = FilterPatterns.Compute(EdgeDetectors(), "fire");
        Assert.Equal(["channel 0", "channel 1"], result.Patterns.Select(p => p.Label));
        var horizontalEdges = Variation(result.Patterns[0].Image, 24, 24);
        var verticalEdges = Variation(result.Patterns[1].Image, 24, 24);
        // Horizontal edges change from row to row: stripes that run across, and the reverse for the vertical detector.
        Assert.True(horizontalEdges.Vertical > 3 * horizontalEdges.Horizontal, $"channel 0: {horizontalEdges}");
        Assert.True(verticalEdges.Horizontal > 3 * verticalEdges.Vertical, $"channel 1: {verticalEdges}");
        foreach (var p in result.Patterns)
        {
            // Grey with zero padding already fires on the border rows; stripes of period 4 are about the best there is.
            Assert.True(p.Activation > 1.5f * p.StartActivation && p.StartActivation > 0, $"{p.Label}: {p.StartActivation} -> {p.Activation}");
            Assert.All(p.Image, v => Assert.InRange(v, 0f, 1f));
        }
    }

    [Fact]
    public void The_climb_raises_each_channel_and_leaves_the_model_as_it_was()
    {
        var model = ModelZoo.Default([1, 28, 28], 3);
        model.ClassNames = ["zero", "one", "two"];
        var before = model.Parameters.Select(p => p.Value.ToArray()).ToList();
        var layers = FilterPatterns.DefaultLayers(model);
        Assert.Equal(2, layers.Count);
        Assert.Equal(NetworkVisualizer.ScoreNode(model).Name, layers[1]);
        var options = new FilterPatternOptions { MaxChannels = 4, Steps = 24 };
        var block = FilterPatterns.Compute(model, layers[0], options);
        var classes = FilterPatterns.Compute(model, layers[1], options);
        Assert.Equal([0, 1, 2, 3], block.Patterns.Select(p => p.Channel));
        Assert.Equal(["zero", "one", "two"], classes.Patterns.Select(p => p.Label));
        Assert.True(classes.ClassScores);
        Assert.False(block.ClassScores);
        foreach (var p in block.Patterns.Concat(classes.Patterns))
            Assert.True(p.Activation > p.StartActivation + 0.1f, $"{p.Label}: {p.StartActivation} -> {p.Activation}");

        // Weights untouched, still trainable, no gradients left behind; the same seed gives the same images.
        Assert.All(model.Parameters.Zip(before), pair => Assert.Equal(pair.Second, pair.First.Value.ToArray()));
        Assert.All(model.Parameters.Where(p => !p.IsBuffer), p => Assert.True(p.Value.RequiresGrad));
        Assert.All(model.Parameters, p => Assert.Null(p.Value.Grad));
        var again = FilterPatterns.Compute(model, layers[1], options);
        Assert.Equal(classes.Patterns[2].Image, again.Patterns[2].Image);

        using var picture = FilterPatterns.Render(classes);
        using var bitmap = SKBitmap.Decode(picture.EncodePng());
        Assert.True(bitmap.Width >= 500 && bitmap.Height >= 100);
    }

    [Fact]
    public void A_colour_network_with_input_normalisation_climbs_in_pixel_units()
    {
        // The gradient goes back through the model's own normalisation: the images stay [0, 1] pixels, not normalised values.
        var model = new Sequential([3, 16, 16]).Base(new Conv2D(4, 3, padding: Padding.Same, name: "c"), new ReLU()).Top(new Flatten(), new Dense(2));
        model.Normalization = new InputNormalization([0.5f, 0.4f, 0.3f], [0.2f, 0.25f, 0.3f]);
        var result = FilterPatterns.Compute(model, "c", new FilterPatternOptions { Steps = 16, BatchSize = 3 });
        Assert.Equal(4, result.Patterns.Count); // two batches: 3 + 1
        foreach (var p in result.Patterns)
        {
            Assert.Equal(3 * 16 * 16, p.Image.Length);
            Assert.All(p.Image, v => Assert.InRange(v, 0f, 1f));
            Assert.True(p.Activation > p.StartActivation, $"{p.Label}: {p.StartActivation} -> {p.Activation}");
        }
    }

    [Fact]
    public void Bad_layers_and_options_are_refused_naming_the_value()
    {
        var model = EdgeDetectors();
        Assert.Contains("'nope'", Assert.ThrowsAny<ArgumentException>(() => FilterPatterns.Compute(model, "nope")).Message);
        Assert.Contains("'input'", Assert.Throws<ArgumentException>(() => FilterPatterns.Compute(model, "input")).Message);
        Assert.Contains("Channel 5", Assert.Throws<ArgumentException>(() => FilterPatterns.Compute(model, "fire", new() { Channels = [0, 5] })).Message);
        Assert.Contains("received 0", Assert.Throws<ArgumentException>(() => FilterPatterns.Compute(model, "fire", new() { StepSize = 0 })).Message);
        Assert.Contains("received NaN", Assert.Throws<ArgumentException>(() => FilterPatterns.Compute(model, "fire", new() { StepSize = float.NaN })).Message);
        Assert.Contains("received -1", Assert.Throws<ArgumentException>(() => FilterPatterns.Compute(model, "fire", new() { Steps = -1 })).Message);
        Assert.Contains("received 1", Assert.Throws<ArgumentException>(() => FilterPatterns.Compute(model, "fire", new() { Decay = 1 })).Message);
        Assert.Contains("received -2", Assert.Throws<ArgumentException>(() => FilterPatterns.Compute(model, "fire", new() { Jitter = -2 })).Message);
        Assert.Contains("received 0", Assert.Throws<ArgumentException>(() => FilterPatterns.Compute(model, "fire", new() { BatchSize = 0 })).Message);
        Assert.Contains("received 0", Assert.Throws<ArgumentException>(() => FilterPatterns.Compute(model, "fire", new() { MaxChannels = 0 })).Message);
        Assert.Contains("Channels is empty", Assert.Throws<ArgumentException>(() => FilterPatterns.Compute(model, "fire", new() { Channels = [] })).Message);
        Assert.Contains("[2×2×2×4]", Assert.Throws<ArgumentException>(() =>
            FilterPatterns.Compute(new Sequential([1, 6, 6]).Base(new Conv2D(2, 3, name: "c")).Top(new Flatten(), new Reshape([2, 2, 2, 4], name: "r"), new Flatten(), new Dense(2)), "r")).Message);
    }

    [Fact]
    public void Visualize_draws_patterns_when_asked_and_the_cli_reports_them()
    {
        var model = EdgeDetectors();
        var image = new Tensor(1, 24, 24);
        using (var plain = NetworkVisualizer.Visualize(model, image)) Assert.Empty(plain.Patterns);
        using var v = NetworkVisualizer.Visualize(model, image, new VisualizationOptions { PatternLayers = ["fire", "scores"], Patterns = new() { Steps = 8 } });
        Assert.Equal(["patterns-fire", "patterns-scores"], v.Patterns.Select(p => p.Name));
        Assert.Contains(v.Patterns[0], v.All);
        Assert.Contains("What the channels look for", new HtmlReport("r").AddVisualization(v).ToHtml());

        string dir = Directory.CreateTempSubdirectory("fovea-patterns-").FullName;
        try
        {
            string modelPath = Path.Combine(dir, "m.fovea"), imagePath = Path.Combine(dir, "x.png");
            ModelFile.Save(model, modelPath);
            ImageLoader.SavePng(image, imagePath);
            Assert.Equal(0, Fovea.Cli.Cli.Run(["visualize", modelPath, imagePath, "--out", Path.Combine(dir, "out"), "--patterns", "auto", "--pattern-steps", "4", "--pattern-channels", "1"]));
            var names = Directory.GetFiles(Path.Combine(dir, "out"), "*patterns*.png").Select(Path.GetFileName).Order().ToList();
            Assert.Equal(2, names.Count);
            Assert.EndsWith("-patterns-edges.png", names[0]); // the block before its ReLU
            Assert.EndsWith("-patterns-scores.png", names[1]);
            Assert.Equal(2, Fovea.Cli.Cli.Run(["visualize", modelPath, imagePath, "--out", Path.Combine(dir, "bad"), "--patterns", "nope"]));
            Assert.Equal(2, Fovea.Cli.Cli.Run(["visualize", modelPath, imagePath, "--out", Path.Combine(dir, "bad"), "--patterns", "fire", "--pattern-steps", "-3"]));
            Assert.False(Directory.Exists(Path.Combine(dir, "bad")));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
