using Fovea.TestSupport;
using System.Text.Json.Nodes;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;

namespace Fovea.Vision.Tests;

/// <summary>fovea predict over folders and many files, in batches, run as the real executable in its own process.</summary>
public sealed class PredictCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-predict-cli-").FullName;
    private readonly string _model, _photos;
    private readonly List<string> _images = new();

    public PredictCliTests()
    {
        // Class names a CSV has to quote.
        var model = new Sequential([3, 12, 12], "tiny").Base(new Conv2D(4, 3, padding: 1), new ReLU(), new MaxPool2D(2))
            .Top(new Flatten(), new Dense(16), new ReLU(), new Dense(3));   // 16 outputs: a batch of 4 or more takes the packed GEMM
        model.ClassNames = ["round", "square, filled", "say \"x\""];
        _model = Path.Combine(_dir, "tiny.fovea");
        ModelFile.Save(model, _model);
        // Seven images, nested, of different sizes, with a name a CSV has to quote; a text file and a hidden image beside them.
        _photos = Path.Combine(_dir, "photos");
        string[] names = ["b.png", "a.jpg", "sub/c.JPEG", "sub/deeper/d.png", "Z.png", "sub/e.jpg", "with,comma \"q\".png"];
        for (int i = 0; i < names.Length; i++) _images.Add(WriteImage(Path.Combine(_photos, names[i]), i));
        _images.Sort(StringComparer.Ordinal);
        File.WriteAllText(Path.Combine(_photos, "notes.txt"), "not an image");
        WriteImage(Path.Combine(_photos, ".hidden.png"), 9);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string WriteImage(string path, int seed)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bitmap = SyntheticFolder.Draw(seed % 3, 20 + 7 * seed, 16 + 5 * seed, grey: seed == 4, new Random(seed));
        SyntheticFolder.Save(bitmap, path);
        return path;
    }

    private static (int Code, string Out, string Err) Fovea(params string[] args) => CliProcess.Run(args);

    private static JsonArray Json((int Code, string Out, string Err) r)
    {
        Assert.True(r.Code == 0, r.Err);
        return (JsonArray)JsonNode.Parse(r.Out)!;
    }

    [Fact]
    public void A_folder_in_batches_predicts_what_each_image_alone_does()
    {
        var alone = Json(Fovea(["predict", _model, .. _images, "--batch-size", "1", "--json"]));
        Assert.Equal(_images, alone.Select(r => (string)r!["image"]!));
        // Batches of 3 over 7 images (the last holds one), and all 7 in one batch (the default, 32).
        foreach (var batchSize in new[] { "3", "32" })
        {
            var batched = Json(Fovea("predict", _model, _photos, "--batch-size", batchSize, "--json"));
            Assert.Equal(_images, batched.Select(r => (string)r!["image"]!));
            for (int i = 0; i < _images.Count; i++)
            {
                var (expected, actual) = ((JsonArray)alone[i]!["top"]!, (JsonArray)batched[i]!["top"]!);
                Assert.True((bool)batched[i]!["class_scores"]!);
                Assert.Equal(expected.Select(e => (int)e!["index"]!), actual.Select(e => (int)e!["index"]!));
                Assert.Equal(expected.Select(e => (string)e!["class"]!), actual.Select(e => (string)e!["class"]!));
                // Not always to the bit: a dense layer's products are summed in another order for 4 or more images
                // than for 1 to 3 (Gemm's dot-product path), which moves the 7th digit.
                for (int k = 0; k < expected.Count; k++)
                    Assert.Equal((float)expected[k]!["probability"]!, (float)actual[k]!["probability"]!, 1e-6f);
            }
        }

        // ... and what the library gives for one image at a time.
        var engine = ModelFile.Load(_model).ToInference();
        foreach (var result in alone)
        {
            var image = ImageLoader.Load((string)result!["image"]!, 3, 12, 12);
            var expected = engine.PredictProbabilities(image.View(1, 3, 12, 12)).Span;
            var top = (JsonArray)result["top"]!;
            Assert.Equal(3, top.Count);
            foreach (var entry in top)
                Assert.Equal(expected[(int)entry!["index"]!], (float)entry["probability"]!, 1e-6f);
        }
    }

    [Fact]
    public void Text_names_every_image_by_its_path_and_a_csv_holds_one_quoted_row_per_image()
    {
        string csv = Path.Combine(_dir, "out", "results.csv");
        var text = Fovea("predict", _model, _photos, _images[0], "--batch-size", "2", "--csv", csv);
        Assert.True(text.Code == 0, text.Err);
        var lines = text.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // Per image its path and three ranked lines; the file given after the folder comes again, last; then the CSV line.
        Assert.Equal([.. _images, _images[0]], lines.Where((_, i) => i % 4 == 0 && i < 32).ToArray());
        Assert.Equal($"Wrote {csv} (8 images)", lines[^1]);
        Assert.Equal(33, lines.Length);

        // The same batches, so the CSV must hold exactly the values --json prints.
        var json = Json(Fovea("predict", _model, _photos, _images[0], "--batch-size", "2", "--json"));
        string written = File.ReadAllText(csv);
        var rows = written.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("image,class,probability,class_1,probability_1,class_2,probability_2,class_3,probability_3", rows[0]);
        Assert.Equal(9, rows.Length);
        // Every row names all three classes: commas and quotes in paths and class names are quoted, quotes doubled.
        Assert.Contains("\"" + Path.Combine(_photos, "with,comma \"\"q\"\".png") + "\",", written);
        Assert.Equal(8, rows.Count(r => r.Contains(",\"square, filled\",", StringComparison.Ordinal)));
        Assert.Equal(8, rows.Count(r => r.Contains(",\"say \"\"x\"\"\",", StringComparison.Ordinal)));
        for (int i = 0; i < 8; i++)
        {
            var fields = CsvRows.Parse(rows[i + 1]);
            var expected = json[i]!;
            var top = (JsonArray)expected["top"]!;
            Assert.Equal(9, fields.Count);
            Assert.Equal((string)expected["image"]!, fields[0]);
            Assert.Equal((string)top[0]!["class"]!, fields[1]);
            Assert.Equal((float)top[0]!["probability"]!, Parse(fields[2]));
            for (int k = 0; k < 3; k++)
            {
                Assert.Equal((string)top[k]!["class"]!, fields[3 + 2 * k]);
                Assert.Equal((float)top[k]!["probability"]!, Parse(fields[4 + 2 * k]));
            }
        }
        Assert.DoesNotContain(Directory.GetFiles(Path.Combine(_dir, "out")), f => f.Contains(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public void A_csv_neutralises_paths_and_class_names_a_spreadsheet_would_run_as_formulas()
    {
        // Class names and (relative) image paths that begin like formulas, beside ordinary ones.
        var model = ModelFile.Load(_model);
        model.ClassNames = ["=HYPERLINK(\"http://example.com\",\"click\")", "-1", "round"];
        string dangerous = Path.Combine(_dir, "dangerous.fovea");
        ModelFile.Save(model, dangerous);
        string work = Directory.CreateDirectory(Path.Combine(_dir, "work")).FullName;
        string[] images = ["=1+2.png", "@SUM(A1).png", "-1.png", "+x/a.png", "plain.png"];
        for (int i = 0; i < images.Length; i++) WriteImage(Path.Combine(work, images[i]), i);
        string csv = Path.Combine(_dir, "formulas.csv");

        var r = CliProcess.Run(null, work, ["predict", dangerous, .. images[..3], "+x", images[4], "--csv", csv]);
        Assert.True(r.Code == 0, r.Err);
        var rows = File.ReadAllText(csv).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, rows.Length);
        var cells = rows.Skip(1).Select(CsvRows.Parse).ToList();
        Assert.All(cells, row => Assert.Equal(9, row.Count));
        // The first column names the image as given, neutralised when it would run; an ordinary path is unchanged.
        Assert.Equal(["'=1+2.png", "'@SUM(A1).png", "'-1.png", "'" + Path.Combine("+x", "a.png"), "plain.png"], cells.Select(row => row[0]));
        foreach (var row in cells)
        {
            // Every row names all three classes; each class cell is one cell, neutralised; probabilities stay numbers.
            var classes = new[] { row[3], row[5], row[7] };
            Assert.Equal(["'-1", "'=HYPERLINK(\"http://example.com\",\"click\")", "round"], classes.Order(StringComparer.Ordinal));
            Assert.Equal(row[3], row[1]);
            foreach (int k in new[] { 2, 4, 6, 8 }) Assert.InRange(Parse(row[k]), 0f, 1f);
        }
        Assert.DoesNotContain(rows, row => row.StartsWith('=') || row.Contains(",=", StringComparison.Ordinal) || row.Contains(",-1,", StringComparison.Ordinal));
    }

    [Fact]
    public void Results_are_printed_batch_by_batch_and_a_damaged_file_is_named_with_nothing_written()
    {
        // Truncated after its header: found only when its batch (the third of 3, 3, 1) is decoded.
        var bytes = File.ReadAllBytes(_images[6]);
        File.WriteAllBytes(_images[6], bytes[..(bytes.Length / 2)]);
        string csv = Path.Combine(_dir, "results.csv");
        var r = Fovea("predict", _model, _photos, "--batch-size", "3", "--top", "1", "--csv", csv);
        CliProcess.AssertUsageError(r, _images[6], "damaged or truncated");
        // The two batches before it were printed as they completed.
        Assert.Equal(_images[..6], r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where((_, i) => i % 2 == 0));
        Assert.False(File.Exists(csv));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp*"));

        var json = Fovea("predict", _model, _photos, "--batch-size", "3", "--json");
        CliProcess.AssertUsageError(json, _images[6]);
        Assert.Equal("", json.Out);
    }

    [Fact]
    public void A_file_that_is_no_image_stops_the_command_before_anything_is_predicted()
    {
        // Last in the folder's order, batches of one: found by reading headers, before the first batch.
        string text = Path.Combine(_photos, "zz.png");
        File.WriteAllText(text, "not an image");
        var r = Fovea("predict", _model, _photos, "--batch-size", "1");
        CliProcess.AssertUsageError(r, text, "not a readable image");
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void Mistakes_are_one_line_naming_the_folder_file_or_value()
    {
        string empty = Directory.CreateDirectory(Path.Combine(_dir, "empty", "sub")).Parent!.FullName;
        File.WriteAllText(Path.Combine(empty, "sub", "list.txt"), "no images here");
        CliProcess.AssertUsageError(Fovea("predict", _model, _photos, empty), $"Folder {empty} has no images", "(it holds 1 other file)");
        string missing = Path.Combine(_dir, "nowhere");
        CliProcess.AssertUsageError(Fovea("predict", _model, missing), $"Image file or folder not found: {missing}");
        CliProcess.AssertUsageError(Fovea("predict", _model, _photos, "--batch-size", "0"), "--batch-size must be between 1 and 4096; received 0");
        CliProcess.AssertUsageError(Fovea("predict", _model, _photos, "--batch-size", "many"), "--batch-size expects a whole number; received 'many'");

        // A --csv that cannot be written is refused before predicting: nothing printed, nothing replaced.
        foreach (var (csv, expected) in new[]
        {
            (_photos, "is a folder"), (Path.Combine(_model, "r.csv"), "is a file, not a folder"), (_images[2], "is the input"), (_model, "is the input"),
        })
        {
            var r = Fovea("predict", _model, _photos, "--csv", csv);
            CliProcess.AssertUsageError(r, $"--csv {csv}", expected);
            Assert.Equal("", r.Out);
        }
        Assert.Equal(7, ImageFolderListing.FindImages(_photos).Count);
        Assert.Equal(0, Fovea("predict", _model, _images[2]).Code);
    }

    [Fact]
    public void A_csv_of_a_model_with_fewer_classes_than_the_default_top_has_a_header_as_wide_as_its_rows()
    {
        // Two classes, and --top left at its default of 3: the header named a third pair no row had.
        var model = new Sequential([3, 12, 12], "pair").Base(new Conv2D(4, 3, padding: 1), new ReLU(), new MaxPool2D(2))
            .Top(new Flatten(), new Dense(2));
        model.ClassNames = ["yes", "no"];
        string pair = Path.Combine(_dir, "pair.fovea"), csv = Path.Combine(_dir, "pair.csv");
        ModelFile.Save(model, pair);
        var r = Fovea("predict", pair, _photos, "--csv", csv);
        Assert.True(r.Code == 0, r.Err);
        var rows = File.ReadAllText(csv).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(CsvRows.Parse).ToList();
        Assert.Equal(["image", "class", "probability", "class_1", "probability_1", "class_2", "probability_2"], rows[0]);
        Assert.All(rows.Skip(1), row => Assert.Equal(rows[0].Count, row.Count));
        Assert.Equal(2, ((JsonArray)Json(Fovea("predict", pair, _images[0], "--json"))[0]!["top"]!).Count);
    }

    private static float Parse(string s) => float.Parse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture);
}
