using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Fovea.Tensors;
using Fovea.Vision;

namespace Fovea.Cli.Commands;

/// <summary>fovea predict MODEL IMAGE|FOLDER...: top-k classes with probabilities for each image, batch by batch.</summary>
internal static class PredictCommand
{
    public const string Help = """
        Usage: fovea predict MODEL IMAGE|FOLDER [IMAGE|FOLDER...] [options]

        Classifies PNG/JPEG images with a Fovea model file or an .onnx model: each is decoded, converted to the model's channels (grey or RGB),
        resized to its input size and scaled to [0, 1]; prints the top-k classes with probabilities (for a model whose
        outputs are not class scores, such as ResNet-18 features, the largest outputs by flat index with their raw values).

        A FOLDER stands for every .png, .jpg and .jpeg file in it and its subfolders (any letter case; hidden and other
        files skipped), in ordinal order of their paths; results name each image by its path. Images are decoded (on all
        threads) and predicted --batch-size at a time, so memory stays that of a batch for any number of images, and each
        batch's results are printed as it completes. Every file's header is read before predicting starts, so a file that
        is not an image stops the command at once; one damaged further in is named when its batch is decoded.

        Options:
          --top K          classes to show per image (default: 3, or all when the model has fewer)
          --batch-size N   images decoded and predicted together, at most (default: 32; fewer for
                           large inputs when that many would not fit in half of the memory)
          --csv FILE       also write FILE (when all images are done): a header row, then per image
                           image,class,probability,class_1,probability_1,...,class_K,probability_K
                           (output,value,... for raw outputs); paths and class names with commas or quotes
                           are quoted, and those beginning with =, +, -, @ (or their full-width forms), a tab
                           or a carriage return, also after spaces, get a leading ' so spreadsheet programs
                           show them instead of running them as formulas
          --invert         invert grey levels first (Fashion-MNIST items are light on black)
          --json           print every result as one JSON array, at the end
          --threads N      degree of parallelism (default: all cores)
        """;

    private const string Usage = "predict MODEL IMAGE|FOLDER [IMAGE|FOLDER...] [--top K] [--batch-size N] [--csv FILE] [--json]";

    // Far beyond what helps throughput; a batch is held as floats, 4096 images at 224 x 224 x 3 are already 2.5 GB.
    private const int MaxBatchSize = 4096;

    /// <summary>One image's top-k outputs: flat indices, best first, and their probabilities (or raw values).</summary>
    internal sealed record Prediction(string Image, int[] Best, float[] Values);

    public static int Run(string[] args)
    {
        var cl = CommandLine.Parse("predict", args, ["top", "threads", "batch-size", "csv"], ["json", "invert"]);
        cl.RequirePositionals(2, Usage, orMore: true);
        if (cl.Has("threads")) Parallelism.Degree = cl.GetInt("threads", 1, 1, 1024);
        int batchSize = cl.GetInt("batch-size", ImageBatches.DefaultBatchSize, 1, MaxBatchSize);
        string modelPath = cl.Positionals[0];
        var model = ModelSource.Load(modelPath);
        if (model.InputShape.Length != 3) throw new UsageException($"Model {modelPath} takes input {Tensor.ShapeToString(model.InputShape)}, not images [C, H, W].");
        int c = model.InputShape[0], h = model.InputShape[1], w = model.InputShape[2];
        int outputCount = model.OutputShape.Aggregate(1, (a, b) => a * b);
        // The default never asks for more than there are: the CSV header has one pair of columns per top-k entry.
        int top = cl.GetInt("top", Math.Min(3, outputCount), 1, outputCount);
        // Large inputs take fewer images at a time: 32 of 1024 x 1024 held 17.8 GB, and 32 of 2048 x 2048 would not fit.
        batchSize = Training.Trainer.InferenceBatchSize(model, batchSize);
        bool json = cl.Has("json");
        var images = ImageArguments.Expand(cl.Positionals.Skip(1));
        string? csv = cl.Get("csv") is { } csvPath ? CliFiles.Output(csvPath, "--csv", [modelPath, .. images]) : null;
        ImageArguments.CheckHeaders(images);

        // A model whose outputs are not class scores (ResNet-18 features, say) gets its largest raw outputs (by flat
        // index, as --json gives them), not probabilities.
        bool classScores = NetworkVisualizer.HasClassScores(model);
        var engine = model.ToInference();
        // Only --json and --csv need the results once all are done: a few numbers per image, not the images.
        var kept = json || csv is not null ? new List<Prediction>(images.Count) : null;
        foreach (var batch in ImageBatches.Read(images, c, h, w, batchSize))
        {
            if (cl.Has("invert")) foreach (ref float v in batch.Images.Span) v = 1f - v;
            var scores = classScores ? engine.PredictProbabilities(batch.Images) : engine.Predict(batch.Images);
            var text = new StringBuilder();
            for (int i = 0; i < batch.Files.Count; i++)
            {
                var row = scores.Span.Slice(i * outputCount, outputCount).ToArray();
                var best = Enumerable.Range(0, outputCount).OrderByDescending(j => row[j]).Take(top).ToArray();
                var prediction = new Prediction(batch.Files[i], best, best.Select(j => row[j]).ToArray());
                kept?.Add(prediction);
                if (!json) AppendText(text, prediction, classScores, model.ClassNames);
            }
            Console.Out.Write(text); // a batch at a time, so a long run shows its progress
        }
        if (csv is not null)
        {
            AtomicWrite.Text(csv, ToCsv(kept!, top, classScores, model.ClassNames));
            if (!json) Console.WriteLine($"Wrote {csv} ({kept!.Count:N0} image{(kept.Count == 1 ? "" : "s")})");
        }
        if (json) JsonOutput.Write(ToJson(kept!, classScores, model.ClassNames));
        return 0;
    }

    private static void AppendText(StringBuilder text, Prediction p, bool classScores, IReadOnlyList<string> names)
    {
        text.Append(p.Image).Append('\n');
        for (int k = 0; k < p.Best.Length; k++)
            text.Append(classScores ? $"  {ClassName(names, p.Best[k]),-16} {p.Values[k],8:P2}" : $"  output {p.Best[k],-9} {p.Values[k],10:G5}").Append('\n');
    }

    private static JsonArray ToJson(List<Prediction> predictions, bool classScores, IReadOnlyList<string> names) =>
        new(predictions.Select(p => (JsonNode)new JsonObject
        {
            ["image"] = p.Image,
            ["class_scores"] = classScores,
            ["top"] = new JsonArray(p.Best.Select((j, k) => (JsonNode)(classScores
                ? new JsonObject { ["class"] = ClassName(names, j), ["index"] = j, ["probability"] = p.Values[k] }
                : new JsonObject { ["output"] = j, ["value"] = p.Values[k] })).ToArray()),
        }).ToArray());

    /// <summary>
    /// Header, then one row per image: path, the best class and its probability, then all top-k pairs. Paths and class
    /// names are text cells (<see cref="Csv.Text"/>: quoted, formulas neutralised), indices and values numbers.
    /// </summary>
    internal static string ToCsv(List<Prediction> predictions, int top, bool classScores, IReadOnlyList<string> names)
    {
        var (label, value) = classScores ? ("class", "probability") : ("output", "value");
        var csv = new StringBuilder($"image,{label},{value}");
        for (int k = 1; k <= top; k++) csv.Append($",{label}_{k},{value}_{k}");
        csv.Append('\n');
        foreach (var p in predictions)
        {
            csv.Append(Csv.Text(p.Image));
            AppendPair(p, 0); // the best again in columns of its own, so a script needs no top-k parsing
            for (int k = 0; k < p.Best.Length; k++) AppendPair(p, k);
            csv.Append('\n');
        }
        return csv.ToString();

        void AppendPair(Prediction p, int k)
        {
            int j = p.Best[k];
            csv.Append(',').Append(classScores ? Csv.Text(ClassName(names, j)) : Csv.Number(j));
            csv.Append(',').Append(Csv.Number(p.Values[k]));
        }
    }

    private static string ClassName(IReadOnlyList<string> names, int index) => index < names.Count ? names[index] : index.ToString(CultureInfo.InvariantCulture);
}
