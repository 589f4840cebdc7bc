using System.Text.Json.Nodes;
using Fovea.Serialization;
using Fovea.Tensors;
using Fovea.Vision;

namespace Fovea.Cli.Commands;

/// <summary>fovea predict MODEL IMAGE...: top-k classes with probabilities for each image.</summary>
internal static class PredictCommand
{
    public const string Help = """
        Usage: fovea predict MODEL IMAGE [IMAGE...] [options]

        Classifies PNG/JPEG images with a Fovea model file or an .onnx model: each is decoded, converted to the model's channels (grey or RGB),
        resized to its input size and scaled to [0, 1]; prints the top-k classes with probabilities (for a model whose
        outputs are not class scores, such as ResNet-18 features, the largest outputs by flat index with their raw values).

        Options:
          --top K       classes to show per image (default: 3)
          --invert      invert grey levels first (Fashion-MNIST items are light on black)
          --json        print the result as JSON
          --threads N   degree of parallelism (default: all cores)
        """;

    public static int Run(string[] args)
    {
        var cl = CommandLine.Parse("predict", args, ["top", "threads"], ["json", "invert"]);
        cl.RequirePositionals(2, "predict MODEL IMAGE [IMAGE...] [--top K] [--json]", orMore: true);
        if (cl.Has("threads")) Parallelism.Degree = cl.GetInt("threads", 1, 1, 1024);
        var model = ModelSource.Load(cl.Positionals[0]);
        if (model.InputShape.Length != 3) throw new UsageException($"Model {cl.Positionals[0]} takes input {Tensor.ShapeToString(model.InputShape)}, not images [C, H, W].");
        int c = model.InputShape[0], h = model.InputShape[1], w = model.InputShape[2];
        int outputCount = model.OutputShape.Aggregate(1, (a, b) => a * b);
        int top = cl.GetInt("top", 3, 1, outputCount);
        var images = cl.Positionals.Skip(1).ToArray();
        foreach (var image in images) CliFiles.Input(image, "Image file");

        var batch = new Tensor(images.Length, c, h, w);
        for (int i = 0; i < images.Length; i++)
        {
            var img = ImageLoader.Load(images[i], c, h, w);
            if (cl.Has("invert")) foreach (ref float v in img.Span) v = 1f - v;
            img.Span.CopyTo(batch.Span.Slice(i * img.Length));
        }
        // A model whose outputs are not class scores (ResNet-18 features, say) gets its largest raw outputs (by flat
        // index, as --json gives them), not probabilities.
        bool classScores = NetworkVisualizer.HasClassScores(model);
        var engine = model.ToInference();
        var scores = classScores ? engine.PredictProbabilities(batch) : engine.Predict(batch);
        var results = new JsonArray();
        for (int i = 0; i < images.Length; i++)
        {
            var row = scores.Span.Slice(i * outputCount, outputCount).ToArray();
            var best = Enumerable.Range(0, outputCount).OrderByDescending(j => row[j]).Take(top).ToArray();
            if (cl.Has("json"))
            {
                results.Add(new JsonObject
                {
                    ["image"] = images[i],
                    ["class_scores"] = classScores,
                    ["top"] = new JsonArray(best.Select(j => (JsonNode)(classScores
                        ? new JsonObject { ["class"] = ClassName(model.ClassNames, j), ["index"] = j, ["probability"] = row[j] }
                        : new JsonObject { ["output"] = j, ["value"] = row[j] })).ToArray()),
                });
                continue;
            }
            Console.WriteLine(images[i]);
            foreach (int j in best)
                Console.WriteLine(classScores ? $"  {ClassName(model.ClassNames, j),-16} {row[j],8:P2}" : $"  output {j,-9} {row[j],10:G5}");
        }
        if (cl.Has("json")) JsonOutput.Write(results);
        return 0;
    }

    private static string ClassName(IReadOnlyList<string> names, int index) => index < names.Count ? names[index] : index.ToString();
}
