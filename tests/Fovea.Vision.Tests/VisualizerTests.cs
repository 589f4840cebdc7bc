using System.Diagnostics;
using Fovea.Models;
using Fovea.Tensors;
using Fovea.Layers;
using Fovea.Training;
using SkiaSharp;

namespace Fovea.Vision.Tests;

public class VisualizerTests
{
    private static void AssertDecodes(Picture p)
    {
        using var bitmap = SKBitmap.Decode(p.EncodePng());
        Assert.NotNull(bitmap);
        Assert.True(bitmap.Width >= 100 && bitmap.Height >= 50, $"{p.Name} is only {bitmap.Width}×{bitmap.Height}");
    }

    [Fact]
    public void A_network_without_convolutions_gets_every_other_picture()
    {
        // A pooling layer and dense layers: activation maps and predictions, but no map for Grad-CAM to weight.
        var model = new Sequential([1, 12, 12]).Base(new AvgPool2D(2)).Top(new Flatten(), new Dense(8), new ReLU(), new Dense(3));
        var image = new Tensor(1, 12, 12);
        for (int i = 0; i < image.Length; i++) image.Span[i] = (i % 5) / 5f;
        using var v = NetworkVisualizer.Visualize(model, image);
        Assert.Empty(v.GradCams);
        Assert.NotNull(v.Occlusion); // needs no convolution: the one explanation such a network gets
        Assert.Equal(["act-avgpool2d"], v.ActivationMaps.Select(p => p.Name));
        Assert.Null(v.FirstLayerFilters);
        var report = new HtmlReport("dense").AddVisualization(v).ToHtml();
        Assert.DoesNotContain("Grad-CAM", report);

        // Asking to explain a class is a request Grad-CAM cannot serve: refused, naming the model.
        var e = Assert.Throws<ArgumentException>(() => NetworkVisualizer.Visualize(model, image, new VisualizationOptions { ExtraClasses = [1] }));
        Assert.Contains("has no convolution layer to explain with Grad-CAM", e.Message);
    }

    [Fact]
    public void An_imported_style_axis_softmax_is_explained_through_its_logits()
    {
        // Grad-CAM of a probability saturates; like a final Softmax, an AxisSoftmax over the sample hands over its input.
        var model = new Sequential([1, 8, 8]).Base(new Conv2D(2, 3, padding: 1), new ReLU()).Top(new Flatten(), new Dense(3, name: "logits"), new AxisSoftmax(-1));
        Assert.Equal("logits", NetworkVisualizer.ScoreNode(model).Name);
        Assert.True(NetworkVisualizer.HasClassScores(model));
    }

    [Fact]
    public void A_long_thin_input_is_enlarged_within_bounds()
    {
        // 5×300: enlarging the short side to 224 pixels would make the long one 13,500; the long side caps the enlargement.
        var model = new Sequential([1, 5, 300]).Base(new Conv2D(3, 3, padding: 1), new ReLU()).Top(new Flatten(), new Dense(2));
        var image = new Tensor(1, 5, 300);
        for (int i = 0; i < image.Length; i++) image.Span[i] = (i % 7) / 7f;
        using var v = NetworkVisualizer.Visualize(model, image);
        Assert.InRange(v.Input.Width, 900, 1024 + 64);
        Assert.InRange(v.GradCams[0].Width, 3 * 900, 3 * 1024 + 64);
        // A square input is enlarged as before: 28×28 to 224×224 (8x).
        Assert.Equal(8, Drawing.Enlargement(28, 28, 224));
        Assert.Equal(1, Drawing.Enlargement(224, 224, 224));
        Assert.Equal(1, Drawing.Enlargement(3, 2000, 224));
    }

    [Fact]
    public void Default_model_gets_every_picture()
    {
        var model = ModelZoo.Default([1, 28, 28], 10);
        var image = new Tensor(1, 28, 28);
        for (int y = 8; y < 20; y++) for (int x = 6; x < 22; x++) image[0, y, x] = 0.8f;
        // Ask for the least likely class: a fixed one could be the (untrained, near-tied) prediction itself, and then
        // there would be a single Grad-CAM.
        var scores = NetworkTrace.Run(model, image).Scores;
        int extra = Array.IndexOf(scores, scores.Min());
        using var v = NetworkVisualizer.Visualize(model, image, new VisualizationOptions { ExtraClasses = [extra], TopK = 3 });
        Assert.Equal(["act-conv2d", "act-maxpool2d", "act-conv2d_1", "act-maxpool2d_1"], v.ActivationMaps.Select(p => p.Name));
        Assert.Equal("filters-conv2d", v.FirstLayerFilters!.Name);
        Assert.Equal("weights-conv2d_1", Assert.Single(v.WeightStatistics).Name);
        Assert.Equal(2, v.GradCams.Count);
        Assert.Equal(extra, v.GradCamResults[1].ClassIndex);
        Assert.NotNull(v.Pooling);
        Assert.Equal(3, v.TopK.Count);
        Assert.All(v.All, AssertDecodes);

        var dir = Path.Combine(Path.GetTempPath(), "fovea-vis-" + Guid.NewGuid().ToString("N"));
        try
        {
            var paths = v.SaveAll(dir);
            Assert.Equal(v.All.Count(), paths.Count);
            Assert.All(paths, p => Assert.True(new FileInfo(p).Length > 1000));
            Assert.Empty(Directory.GetFiles(dir, "*.tmp-*"));

            // A second, smaller run into the same folder removes the first run's pictures, never a file of the user's.
            File.WriteAllText(Path.Combine(dir, "00-mine.png"), "not ours");
            using var fewer = NetworkVisualizer.Visualize(model, image, new VisualizationOptions { ActivationLayers = ["conv2d"], TopK = 3 });
            var second = fewer.SaveAll(dir);
            Assert.True(second.Count < paths.Count);
            Assert.Equal(second.Select(Path.GetFileName).Append("00-mine.png").Append(Visualization.PictureListName).Order(),
                Directory.GetFiles(dir).Select(Path.GetFileName).Order());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void A_picture_that_cannot_be_written_reports_its_own_error_not_one_wrapped_by_the_writing_threads()
    {
        var model = ModelZoo.Default([1, 28, 28], 10);
        using var v = NetworkVisualizer.Visualize(model, new Tensor(1, 28, 28), new VisualizationOptions { TopK = 3 });
        var dir = Path.Combine(Path.GetTempPath(), "fovea-vis-" + Guid.NewGuid().ToString("N"));
        try
        {
            // A folder where the second picture goes: the rename onto it fails on one of the writing threads.
            string blocked = v.FilesReplacedBySaveAll(dir)[1];
            Directory.CreateDirectory(blocked);
            var e = Assert.ThrowsAny<IOException>(() => v.SaveAll(dir));
            Assert.Contains(Path.GetFileName(blocked), e.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void One_by_one_maps_share_one_colour_scale_and_titles_fit()
    {
        // Global pooling gives [C, 1, 1]: a tile scaled to its own (empty) range would be flat for every channel.
        var pooled = Tensor.FromArray([0f, 1f, 2f], 1, 3, 1, 1);
        using var picture = ActivationGrid.Render("a_rather_long_global_average_pooling_layer_name", "GlobalAvgPool2D", pooled);
        using var bitmap = SKBitmap.Decode(picture.EncodePng());
        // Tiles are 40 px with 4 px gaps below a 48 px header and a 14 px label row, from x = 4 + 44k, y = 62; the value
        // is printed in the middle, so look near a corner.
        var colours = Enumerable.Range(0, 3).Select(k => bitmap.GetPixel(8 + 44 * k, 66)).ToList();
        Assert.Equal(3, colours.Distinct().Count());
        Assert.True(bitmap.Width >= 400, $"the title needs more than {bitmap.Width} px");

        using var input = ActivationGrid.RenderInput(new Tensor(3, 32, 32), minSide: 32);
        using var inputBitmap = SKBitmap.Decode(input.EncodePng());
        Assert.True(inputBitmap.Width >= 250, $"the input picture's title needs more than {inputBitmap.Width} px");
    }

    [Fact]
    public void Pooling_explainer_numbers_are_max_and_mean_of_each_window()
    {
        var map = new float[9, 10];
        var rng = new Random(3);
        for (int y = 0; y < 9; y++) for (int x = 0; x < 10; x++) map[y, x] = rng.NextSingle();
        map[5, 7] = 3f;
        var e = PoolingExplainer.Explain(map, "test");
        Assert.Equal(6, e.Crop.GetLength(0));
        Assert.True(e.CropY % 2 == 0 && e.CropX % 2 == 0);
        Assert.InRange(5, e.CropY, e.CropY + 5);
        Assert.Equal(["max 2×2, stride 1", "max 2×2, stride 2", "average 2×2, stride 1", "average 2×2, stride 2"], e.Pooled.Select(p => p.Label));
        Assert.Equal((8, 9), (e.Pooled[0].Map.GetLength(0), e.Pooled[0].Map.GetLength(1)));
        Assert.Equal((4, 5), (e.Pooled[1].Map.GetLength(0), e.Pooled[1].Map.GetLength(1)));
        foreach (var (p, stride) in e.Pooled.Zip(new[] { 1, 2, 1, 2 }))
        {
            int n = p.Crop.GetLength(0);
            Assert.Equal((6 - 2) / stride + 1, n);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                {
                    var w = new[] { e.Crop[i * stride, j * stride], e.Crop[i * stride, j * stride + 1], e.Crop[i * stride + 1, j * stride], e.Crop[i * stride + 1, j * stride + 1] };
                    float expected = p.Label.StartsWith("max") ? w.Max() : w.Average();
                    Assert.Equal(expected, p.Crop[i, j], 1e-5f);
                }
        }
        using var picture = PoolingExplainer.Render(e);
        AssertDecodes(picture);
    }

    [Fact]
    public void Residual_rgb_model_with_normalisation_gets_every_picture()
    {
        var model = Synthetic.ResNet(64, 3, [8, 8, 16, 16]);
        var image = new Tensor(3, 64, 64);
        var rng = new Random(1);
        foreach (ref float v in image.Span) v = rng.NextSingle();
        using var vis = NetworkVisualizer.Visualize(model, image);
        Assert.Equal(22, vis.ActivationMaps.Count); // 20 convolutions (17 + 3 shortcuts), max pooling, global pooling
        Assert.Contains(vis.ActivationMaps, p => p.Name == "act-avgpool");
        Assert.Equal(19, vis.WeightStatistics.Count); // every convolution but the first
        Assert.Equal("layer4_1_relu2", vis.GradCamResults[0].LayerName);
        Assert.All(vis.All, AssertDecodes);
    }

    [Fact]
    public void ResNet18_sized_graph_visualises_a_224_image_in_under_5_seconds()
    {
        var model = Synthetic.ResNet(224, 4, [64, 128, 256, 512]);
        Assert.InRange(model.ParameterCount, 11_000_000, 11_300_000);
        var image = new Tensor(3, 224, 224);
        var rng = new Random(2);
        foreach (ref float v in image.Span) v = rng.NextSingle();
        var dir = Path.Combine(Path.GetTempPath(), "fovea-r18-" + Guid.NewGuid().ToString("N"));
        try
        {
            var clock = Stopwatch.StartNew();
            using var vis = NetworkVisualizer.Visualize(model, image);
            double drawn = clock.Elapsed.TotalSeconds;
            vis.SaveAll(dir);
            double total = clock.Elapsed.TotalSeconds;
            double limit = Synthetic.VisualizationSecondsLimit;
            Assert.True(total < limit, $"visualising took {total:F2}s ({drawn:F2}s to compute and draw, the rest to encode and write); limit {limit} s");
            Assert.Equal(47, Directory.GetFiles(dir, "*.png").Length); // input, predictions, 22 grids, filters, 19 weight charts, Grad-CAM, occlusion, pooling
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Charts_and_their_json_round_trip()
    {
        var epochs = new List<EpochMetrics>
        {
            new(1, 0.9, 0.70, 0.8, 0.74, 0.01f, 10, 100),
            new(2, 0.5, 0.83, 0.55, 0.81, 0.005f, 10, 100),
            new(3, 0.4, 0.86, 0.5, 0.84, 0.001f, 10, 100),
        };
        string json = System.Text.Json.JsonSerializer.Serialize(epochs, new System.Text.Json.JsonSerializerOptions { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower });
        var back = Charts.ReadHistoryJson(json);
        Assert.Equal(epochs, back);
        Assert.Throws<FormatException>(() => Charts.ReadHistoryJson("{\"not\": 1}"));
        using var loss = Charts.Loss(back);
        using var accuracy = Charts.Accuracy(back);
        AssertDecodes(loss); AssertDecodes(accuracy);

        var m = new ConfusionMatrix(3, ["a", "b", "c"]);
        m.Add(0, 0); m.Add(0, 0); m.Add(1, 2); m.Add(2, 2);
        var m2 = Charts.ConfusionFromJson(Charts.ConfusionToJson(m));
        Assert.Equal(m.ToRows(), m2.ToRows());
        Assert.Equal(m.Accuracy, m2.Accuracy);
        using var picture = Charts.ConfusionMatrix(m2);
        AssertDecodes(picture);
    }

    [Fact]
    public void Outputs_that_are_not_class_scores_are_named_as_outputs_without_probabilities()
    {
        var features = ReportCliTests.FeatureModel();
        Assert.False(NetworkVisualizer.HasClassScores(features));
        var classifier = ModelZoo.Default([1, 28, 28], 4);
        Assert.True(NetworkVisualizer.HasClassScores(classifier)); // a Dense head: class scores even without names
        classifier.ClassNames = ["a", "b", "c", "d"];
        Assert.True(NetworkVisualizer.HasClassScores(classifier));

        var image = new Tensor(1, 28, 28);
        for (int y = 4; y < 24; y++) image[0, y, 14] = 1;
        using var v = NetworkVisualizer.Visualize(features, image, new VisualizationOptions { TopK = 3, ExtraClasses = [7] });
        Assert.False(v.ClassScores);
        Assert.All(v.TopK, p => { Assert.StartsWith("output channel ", p.ClassName); Assert.True(float.IsNaN(p.Probability)); });
        Assert.True(v.TopK[0].Score >= v.TopK[1].Score && v.TopK[1].Score >= v.TopK[2].Score);
        Assert.Equal("outputs", v.Predictions.Name);
        Assert.DoesNotContain("prediction", v.Predictions.Title, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(v.GradCams, p => p.Title.StartsWith("Grad-CAM: output channel 7 at ", StringComparison.Ordinal));
        Assert.All(v.GradCamResults, c => Assert.Equal(GradCamTarget.Score, c.Target)); // log p of a softmax over features means nothing
        string html = new HtmlReport("features").AddVisualization(v).ToHtml();
        Assert.DoesNotContain("%", html[html.IndexOf("<table class=\"topk\"", StringComparison.Ordinal)..html.IndexOf("</table>", html.IndexOf("<table class=\"topk\"", StringComparison.Ordinal), StringComparison.Ordinal)]);
    }

    [Fact]
    public void A_saved_confusion_matrix_is_filled_cell_by_cell_and_a_bad_count_is_named()
    {
        const string names = "\"class_names\": [\"a\", \"b\"]";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var m = Charts.ConfusionFromJson($"{{{names}, \"counts\": [[2147483647, 0], [1, 2]]}}", "big.json");
        Assert.True(clock.Elapsed.TotalSeconds < 1, "each cell must be added in one step, not one image at a time");
        Assert.Equal(2_147_483_650L, m.Total);
        Assert.Equal(2_147_483_647L, m.Counts[0, 0]);
        foreach (var (cell, shown) in new[] { ("2147483648", "2147483648"), ("-1", "-1"), ("1e3", "1e3"), ("0.5", "0.5"), ("null", "null") })
        {
            var e = Assert.Throws<FormatException>(() => Charts.ConfusionFromJson($"{{{names}, \"counts\": [[3, 0], [{cell}, 2]]}}", "m.confusion.json"));
            Assert.Contains($"m.confusion.json: counts[1][0] is {shown};", e.Message);
        }
        var rows = Assert.Throws<FormatException>(() => Charts.ConfusionFromJson($"{{{names}, \"counts\": [[3, 0]]}}", "m.confusion.json"));
        Assert.Contains("1 rows for 2 classes", rows.Message);
        var epoch = Assert.Throws<FormatException>(() => Charts.ReadHistoryJson("[{\"epoch\": 1.5, \"loss\": 1, \"accuracy\": 0.5}]", "m.history.json"));
        Assert.Contains("m.history.json: epoch entry 0: \"epoch\" is 1.5", epoch.Message);
    }

    [Fact]
    public void A_field_named_twice_in_a_saved_history_or_confusion_matrix_is_a_format_error_naming_the_file()
    {
        // Found by fuzzing: the repeated name surfaced as "An item with the same key has already been added" (an
        // ArgumentException, so the CLI's report said nothing of the file).
        var history = Assert.Throws<FormatException>(() => Charts.ReadHistoryJson("[{\"epoch\": 1, \"loss\": 1, \"loss\": 2, \"accuracy\": 0.5}]", "m.history.json"));
        Assert.Contains("m.history.json is not valid JSON", history.Message);
        var confusion = Assert.Throws<FormatException>(() => Charts.ConfusionFromJson("{\"class_names\": [\"a\"], \"counts\": [[1]], \"counts\": [[2]]}", "m.confusion.json"));
        Assert.Contains("m.confusion.json is not valid JSON", confusion.Message);
    }

    [Theory]
    [InlineData(0.0123f, "0.0123")]
    [InlineData(0.00123f, "0.00123")]
    [InlineData(1.234f, "1.23")]
    [InlineData(-12.34f, "-12.3")]
    [InlineData(123.4f, "123")]
    [InlineData(1234f, "1.23e3")]
    [InlineData(0.000123f, "1.23e-4")]
    [InlineData(0f, "0")]
    public void Numbers_in_cells_keep_three_significant_digits(float value, string text) => Assert.Equal(text, Drawing.Number(value));

    [Fact]
    public void Confusion_matrix_fits_its_title_long_names_and_many_classes()
    {
        var few = new Fovea.Training.ConfusionMatrix(3, ["a", "b", new string('x', 120)]);
        few.Add(0, 0); few.Add(2, 1); few.Add(2, 1); few.Add(1, 2);
        using var small = Charts.ConfusionMatrix(few);
        Assert.True(small.Width >= Drawing.TextWidth(small.Title, 15, bold: true) + 20, $"title {small.Title} is cut at {small.Width} px");
        Assert.True(small.Width < 700, $"a long class name widened the picture to {small.Width} px instead of being shortened");
        Assert.Equal([(2, 1, 2L), (1, 2, 1L)], Charts.MostConfused(few, 8));

        var many = new Fovea.Training.ConfusionMatrix(100);
        for (int i = 0; i < 100; i++) many.Add(i, (i * 7) % 100);
        using var large = Charts.ConfusionMatrix(many);
        Assert.InRange(large.Width, 600, 1400);
        Assert.InRange(large.Height, 600, 1600);
    }

    [Fact]
    public void Confusion_matrix_of_thousands_of_classes_is_drawn_within_4000_pixels_of_grid()
    {
        // At 10 pixels a cell, 4,000 classes asked for a 40,000 x 40,000 surface: "Could not create a drawing surface",
        // an internal error at the end of a training run.
        var m = new Fovea.Training.ConfusionMatrix(4000);
        for (int i = 0; i < 4000; i++) m.Add(i, i % 10 == 0 ? (i + 1) % 4000 : i);
        using var picture = Charts.ConfusionMatrix(m);
        Assert.InRange(picture.Width, 4000, 4500);
        Assert.InRange(picture.Height, 4000, 4600);
        // 400 classes still get cells of 10 pixels, as before.
        using var four = Charts.ConfusionMatrix(new Fovea.Training.ConfusionMatrix(400));
        Assert.InRange(four.Width, 4000, 4500);
    }

    [Fact]
    public void A_long_thin_map_keeps_a_readable_short_side()
    {
        using var picture = ActivationGrid.Render("wide", "Conv2D", new Tensor(3, 5, 300));
        // Three tiles of 5×300 must not shrink to slivers 2 px high: 3 × (16 + label + gaps) below the header at least.
        Assert.True(picture.Height >= 48 + 3 * 16, $"the picture is only {picture.Height} px high");
    }

    [Fact]
    public void Class_names_in_other_scripts_are_drawn_with_a_font_that_has_them()
    {
        // DejaVu has no CJK glyphs; without a fallback every character would be the same empty box.
        Assert.False(Drawing.Covers("猫"));
        byte[] Draw(string text)
        {
            using var image = Drawing.Render(40, 30, canvas => Drawing.Text(canvas, text, 4, 24, 20, SKColors.Black));
            using var bitmap = SKBitmap.FromImage(image);
            return bitmap.Bytes;
        }
        Assert.NotEqual(Draw("猫"), Draw("犬"));
        Assert.True(Drawing.TextWidth("猫犬鳥", 20) > 30, "three CJK characters at 20 px are wider than 30 px");
        var confusion = new Fovea.Training.ConfusionMatrix(3, ["猫", "犬", "鳥"]);
        confusion.Add(0, 0); confusion.Add(1, 2);
        using var picture = Charts.ConfusionMatrix(confusion);
        Assert.True(picture.Width > 300);
    }
}
