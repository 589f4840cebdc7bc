using System.Diagnostics;
using System.Text.Json.Nodes;
using Fovea.Data;
using Fovea.Models;
using Fovea.Serialization;
using Fovea.Tensors;
using Fovea.Training;
using Fovea.Vision;

namespace Fovea.Cli.Commands;

/// <summary>fovea visualize MODEL IMAGE --out DIR: PNG pictures of what the network does with one image (and an HTML report).</summary>
internal static class VisualizeCommand
{
    public const string Help = """
        Usage: fovea visualize MODEL IMAGE --out DIR [options]

        Writes PNG pictures of one image going through a model: the input as the network sees it, the
        activation maps of every convolution and pooling layer, the first layer's filters, weight statistics
        of deeper layers, Grad-CAM and occlusion of the predicted class, a pooling explainer and the top-k
        predictions.
        A model whose outputs are not class scores (e.g. imported features without a classifier, or class
        names that do not match the outputs) shows its largest outputs by raw value, named "output channel N".

        Options:
          --out DIR          folder for the pictures (created; pictures of an earlier run there are replaced)
          --class C[,C...]   also explain these classes (or outputs) with Grad-CAM (names or indices)
          --layer NAME       layer for Grad-CAM (default: the last convolution block)
          --layers A[,B...]  draw activations of these layers instead of every convolution and pooling layer
          --max-channels N   draw at most N channels per layer (default: all)
          --no-occlusion     skip the occlusion map (one inference per patch position, 49 by default)
          --patterns L[,L...]  also draw what each channel of these layers looks for (an input grown by
                             gradient ascent; "auto": the last convolution block and the class scores);
                             seconds on small networks, a minute or more on ResNet-18
          --pattern-channels N  channels per pattern layer, the first N (default: 16)
          --pattern-steps N  gradient-ascent steps per pattern (default: 128)
          --top K            predictions to list (default: 5)
          --invert           invert grey levels first (Fashion-MNIST items are light on black)
          --report           also write DIR/report.html (self-contained; includes the training charts and
                             confusion matrix when MODEL's .history.json / .confusion.json are next to it)
          --threads N        degree of parallelism (default: all cores)
          --json             print the written files as JSON
        """;

    public static int Run(string[] args)
    {
        var cl = CommandLine.Parse("visualize", args, ["out", "class", "layer", "layers", "max-channels", "top", "threads", "patterns", "pattern-channels", "pattern-steps"], ["invert", "report", "json", "no-occlusion"]);
        cl.RequirePositionals(2, "visualize MODEL IMAGE --out DIR [--class C] [--layer NAME] [--report]");
        string outDir = cl.Get("out") ?? throw new UsageException("Option --out DIR is required (the folder for the pictures).");
        int threads = cl.GetInt("threads", Environment.ProcessorCount, 1, 1024);
        Parallelism.Degree = threads;
        string modelPath = cl.Positionals[0], imagePath = cl.Positionals[1];
        CliFiles.OutputFolder(outDir, "--out", "for the pictures");
        var model = ModelSource.Load(modelPath);
        CliFiles.Input(imagePath, "Image file");
        if (model.InputShape.Length != 3 || model.InputShape[0] is not (1 or 3))
            throw new UsageException($"Model {modelPath} takes input {Tensor.ShapeToString(model.InputShape)}; visualize needs images [1 or 3, H, W].");
        var image = ImageLoader.Load(imagePath, model.InputShape[0], model.InputShape[1], model.InputShape[2]);
        if (cl.Has("invert")) foreach (ref float v in image.Span) v = 1f - v;

        int classes = model.OutputShape.Aggregate(1, (a, b) => a * b);
        var options = new VisualizationOptions
        {
            TopK = cl.GetInt("top", 5, 1, classes),
            ExtraClasses = ParseClasses(cl.Get("class"), model, classes),
            GradCamLayer = cl.Get("layer"),
            ActivationLayers = cl.Get("layers")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            Grid = new ActivationGridOptions { MaxChannels = cl.GetInt("max-channels", int.MaxValue, 1) },
            Occlusion = !cl.Has("no-occlusion"),
            PatternLayers = PatternLayers(cl.Get("patterns"), model),
            Patterns = new FilterPatternOptions { MaxChannels = cl.GetInt("pattern-channels", 16, 1), Steps = cl.GetInt("pattern-steps", 128, 0, 100_000) },
            Threads = threads,
        };
        // The report's context beside the model is read before anything is drawn: a corrupt file stops the command with nothing written.
        var (history, confusion) = cl.Has("report") ? ReadSaved(modelPath) : (null, null);
        // Checked only now that model, image and options are known good; the folder is made when the pictures are saved.
        CliFiles.FolderTakesFiles(Path.GetFullPath(outDir), $"--out {outDir}");
        var clock = Stopwatch.StartNew();
        var visualization = NetworkVisualizer.Visualize(model, image, options);
        using var _ = visualization;
        // The image may have been drawn from the folder the pictures go to: its own picture must not replace it.
        var replaced = visualization.FilesReplacedBySaveAll(outDir).Concat(cl.Has("report") ? [Path.Combine(outDir, "report.html")] : []);
        foreach (var file in replaced)
            foreach (var input in new[] { imagePath, modelPath })
                if (CliFiles.SameFile(file, input))
                    throw new UsageException($"--out {outDir}: writing the pictures there would replace the input {input} ({Path.GetFileName(file)} is one of them). Choose another folder.");
        var written = visualization.SaveAll(outDir).ToList();
        if (cl.Has("report"))
        {
            string reportPath = Path.Combine(outDir, "report.html");
            BuildReport(model, modelPath, visualization, Path.GetFileName(imagePath), history, confusion).Save(reportPath);
            written.Add(reportPath);
        }
        double seconds = clock.Elapsed.TotalSeconds;
        if (cl.Has("json"))
        {
            JsonOutput.Write(new JsonObject
            {
                ["model"] = Path.GetFullPath(modelPath), ["image"] = Path.GetFullPath(imagePath), ["seconds"] = Math.Round(seconds, 3),
                ["class_scores"] = visualization.ClassScores,
                // Outputs that are not class scores have no probability: they are listed by raw value.
                ["top"] = new JsonArray(visualization.TopK.Select(p => (JsonNode)(visualization.ClassScores
                    ? new JsonObject { ["class"] = p.ClassName, ["index"] = p.ClassIndex, ["probability"] = p.Probability }
                    : new JsonObject { ["output"] = p.ClassName, ["index"] = p.ClassIndex, ["value"] = p.Score })).ToArray()),
                ["patterns"] = new JsonArray(visualization.PatternResults.SelectMany(r => r.Patterns.Select(p => (JsonNode)new JsonObject
                {
                    ["layer"] = r.LayerName, ["channel"] = p.Channel, ["label"] = p.Label,
                    ["start_activation"] = p.StartActivation, ["activation"] = p.Activation,
                })).ToArray()),
                ["gradcam"] = new JsonArray(visualization.GradCamResults.Select(c => (JsonNode)new JsonObject { ["class"] = c.ClassName, ["layer"] = c.LayerName, ["peak_x"] = c.Peak.X, ["peak_y"] = c.Peak.Y }).ToArray()),
                ["occlusion"] = visualization.OcclusionResult is { } o
                    ? new JsonObject { ["class"] = o.ClassName, ["patch"] = o.Patch, ["stride"] = o.Stride, ["peak_x"] = o.Peak.X, ["peak_y"] = o.Peak.Y, ["largest_fall"] = o.LargestFall }
                    : null,
                ["files"] = JsonOutput.Array(written.Select(Path.GetFullPath)),
            });
            return 0;
        }
        var best = visualization.TopK[0];
        string camAt = visualization.GradCamResults.Count > 0 ? $"Grad-CAM at {visualization.GradCamResults[0].LayerName}" : "no Grad-CAM (the model has no convolution layer)";
        Console.WriteLine(visualization.ClassScores
            ? $"{Path.GetFileName(imagePath)}: {best.ClassName} ({best.Probability:P1}); {camAt}"
            : $"{Path.GetFileName(imagePath)}: the model's outputs are not class scores; largest is {best.ClassName} (value {best.Score:G4}); {camAt}");
        Console.WriteLine($"Wrote {written.Count} files to {outDir} in {seconds:F2}s:");
        foreach (var f in written) Console.WriteLine($"  {Path.GetFileName(f)}");
        return 0;
    }

    /// <summary>--patterns: "auto" (<see cref="FilterPatterns.DefaultLayers"/>) or layer names separated by commas, each checked.</summary>
    private static IReadOnlyList<string>? PatternLayers(string? text, Model model)
    {
        if (text is null) return null;
        if (text.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            var layers = FilterPatterns.DefaultLayers(model);
            if (layers.Count == 0) throw new UsageException($"--patterns auto: model '{model.Name}' has neither a convolution layer nor class scores to draw patterns of; name a layer.");
            return layers;
        }
        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0) throw new UsageException($"--patterns '{text}' names no layer. Expected 'auto' or layer names separated by commas.");
        foreach (var name in names)
        {
            var node = model.Nodes.FirstOrDefault(n => n.Name == name)
                ?? throw new UsageException($"--patterns: model '{model.Name}' has no layer '{name}'. Its layers: {string.Join(", ", model.Nodes.Skip(1).Select(n => n.Name))}.");
            if (node.Index == 0 || node.OutputShape.Length is not (1 or 3))
                throw new UsageException($"--patterns: layer '{name}' gives {Tensor.ShapeToString(node.OutputShape)}; patterns need a layer with [C, H, W] or [C] output.");
        }
        return names;
    }

    private static List<int> ParseClasses(string? text, Model model, int classes)
    {
        var result = new List<int>();
        if (text is null) return result;
        // Class names may hold commas themselves (a folder "cats, large"): at each place the longest run of comma-separated
        // parts that names a class is that class, else one part is a name or an index.
        var parts = text.Split(',');
        for (int i = 0; i < parts.Length;)
        {
            int end = -1, label = -1;
            for (int j = parts.Length; j > i && end < 0; j--)
            {
                string candidate = string.Join(',', parts[i..j]).Trim();
                int byName = model.ClassNames.ToList().FindIndex(n => string.Equals(n.Trim(), candidate, StringComparison.OrdinalIgnoreCase));
                if (byName >= 0) (end, label) = (j, byName);
            }
            if (end > 0) { result.Add(label); i = end; continue; }
            string part = parts[i++].Trim();
            if (part.Length == 0) continue;
            if (int.TryParse(part, out int index) && index >= 0 && index < classes) result.Add(index);
            else throw new UsageException($"Unknown class or output '{part}' (--class). Expected an index 0..{classes - 1}" +
                (model.ClassNames.Count > 0 ? $" or one of: {string.Join(", ", model.ClassNames.Select(n => n.Contains(',') ? $"'{n}'" : n))}." : "."));
        }
        if (result.Count == 0) throw new UsageException($"--class '{text}' names no class. Expected indices or names separated by commas.");
        return result;
    }

    /// <summary>The file stem next to a model: /dir/name.fovea → /dir/name.</summary>
    internal static string Stem(string modelPath) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelPath))!, Path.GetFileNameWithoutExtension(modelPath));

    /// <summary>
    /// The training history and confusion matrix <c>fovea train</c> saved beside a model (STEM.history.json,
    /// STEM.confusion.json), each null when absent. They are optional context for a report, but a file that is there and
    /// cannot be read is a usage error naming it: the user should repair or remove it rather than get a report without it.
    /// </summary>
    internal static (IReadOnlyList<EpochMetrics>? History, ConfusionMatrix? Confusion) ReadSaved(string modelPath, bool history = true, bool confusion = true)
    {
        string stem = Stem(modelPath);
        return (history ? ReadSaved(stem + ".history.json", Charts.ReadHistoryJson) : null,
                confusion ? ReadSaved(stem + ".confusion.json", Charts.ConfusionFromJson) : null);
    }

    private static T? ReadSaved<T>(string path, Func<string, string, T> parse) where T : class
    {
        if (!File.Exists(path)) return null;
        try { return parse(File.ReadAllText(path), path); }
        catch (FormatException e) { throw new UsageException($"{e.Message} It is read for the report; repair or remove it."); }
    }

    /// <summary>
    /// The HTML report: summary, then (when given) the training history and the confusion matrix, then the visualisation
    /// of one image. Reads no files: callers pass what <see cref="ReadSaved(string, bool, bool)"/> found, before writing anything.
    /// </summary>
    internal static HtmlReport BuildReport(Model model, string modelPath, Visualization? visualization, string? imageName,
        IReadOnlyList<EpochMetrics>? history = null, ConfusionMatrix? confusion = null, Picture? mistakes = null)
    {
        var report = new HtmlReport($"Fovea report: {Path.GetFileName(modelPath)}");
        report.AddSummary(visualization?.Summary ?? model.Summary());
        if (history is { Count: > 0 })
        {
            using var loss = Charts.Loss(history);
            using var accuracy = Charts.Accuracy(history);
            report.AddPictures("Training curves", "Loss and accuracy per epoch, training (solid) and validation (dashed) when held out.", [loss, accuracy]);
            report.AddHistoryTable(history);
        }
        if (confusion is not null)
        {
            using var picture = Charts.ConfusionMatrix(confusion);
            report.AddPictures("Confusion matrix", null, [picture]);
        }
        if (mistakes is not null) report.AddPictures("Worst mistakes", mistakes.Caption, [mistakes]);
        if (visualization is not null) report.AddVisualization(visualization, imageName);
        return report;
    }

    /// <summary>Writes STEM.confusion.png and STEM.confusion.json for an evaluation; returns the PNG path.</summary>
    internal static string WriteConfusion(string stem, ConfusionMatrix confusion)
    {
        using var picture = Charts.ConfusionMatrix(confusion);
        picture.SavePng(stem + ".confusion.png");
        AtomicWrite.Text(stem + ".confusion.json", Charts.ConfusionToJson(confusion));
        return stem + ".confusion.png";
    }

    /// <summary>Writes STEM.loss.png and STEM.accuracy.png for a training history.</summary>
    internal static void WriteHistoryCharts(string stem, IReadOnlyList<EpochMetrics> epochs)
    {
        if (epochs.Count == 0) return;
        using var loss = Charts.Loss(epochs);
        using var accuracy = Charts.Accuracy(epochs);
        loss.SavePng(stem + ".loss.png");
        accuracy.SavePng(stem + ".accuracy.png");
    }

    /// <summary>
    /// Writes STEM.report.html (STEM: <paramref name="reportStem"/>, else the model's): summary, charts, confusion matrix and
    /// the visualisation of the first image of <paramref name="data"/>, which the report calls "<paramref name="dataName"/> image 0".
    /// </summary>
    internal static string WriteModelReport(Model model, string modelPath, IDataset data, IReadOnlyList<EpochMetrics>? history, ConfusionMatrix? confusion,
        string dataName = "test", string? reportStem = null, Picture? mistakes = null)
    {
        var image = new Tensor(data.SampleShape);
        data.CopyImage(0, image.Span);
        // The image's true class is explained too, when the model has a convolution layer to explain it at.
        int[] trueClass = GradCam.FindDefaultLayer(model) is null ? [] : [data.GetLabel(0)];
        using var visualization = NetworkVisualizer.Visualize(model, image, new VisualizationOptions { ExtraClasses = trueClass });
        string path = (reportStem ?? Stem(modelPath)) + ".report.html";
        BuildReport(model, modelPath, visualization, $"{dataName} image 0 (true class: {data.ClassNames[data.GetLabel(0)]})", history, confusion, mistakes).Save(path);
        return path;
    }
}
