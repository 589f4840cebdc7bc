using System.Text;
using System.Text.Json.Nodes;
using Fovea.Data;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Serialization;
using Fovea.Training;
using Fovea.Vision;

namespace Fovea.Cli.Commands;

/// <summary>fovea eval MODEL: loss, accuracy, top-5 and confusion matrix on a data set's test split.</summary>
internal static class EvalCommand
{
    public const string Help = """
        Usage: fovea eval MODEL [options]

        Evaluates a saved model on the test split: loss, accuracy, top-5 accuracy, confusion matrix.

        Options:
          --dataset NAME     fashion-mnist | mnist | cifar10 (default: cifar10 when --data holds its files,
                             else the one whose classes the model has, else fashion-mnist)
          --data DIR         folder with the data set's files (IDX files; CIFAR-10's cifar-10-binary.tar.gz or
                             its extracted batches), or an image folder (one subfolder per class, named as the
                             model's classes): every image in it is evaluated
          --batch-size N     images per forward pass, at most (default: 256; fewer for large images when
                             that many would not fit in half of the memory)
          --threads N        degree of parallelism (default: all cores)
          --mistakes N       draw (and list) the N worst mistakes: the wrong images the model was surest about,
                             where mislabelled images show first (default: 24; 0: none)
          --json             print the result as JSON
          --report           also write <model>.eval.report.html (summary, training charts if present,
                             confusion matrix, and the visualisation of the first test image)
          --out DIR          folder for these files (default: the model's folder; not inside a class
                             folder of --data, where they would be read as images)

        Writes the confusion matrix next to the model (or in --out DIR): <model>.eval.confusion.png and
        .eval.confusion.json (the files train wrote, <model>.confusion.*, stay as they were), and the worst
        mistakes as <model>.eval.mistakes.png; for m.onnx: m.onnx.eval.confusion.png, ...
        """;

    public static int Run(string[] args)
    {
        var cl = CommandLine.Parse("eval", args, ["dataset", "data", "batch-size", "threads", "out", "mistakes"], ["json", "report"]);
        cl.RequirePositionals(1, "eval MODEL [--dataset NAME] [--data DIR] [--json]");
        Parallelism.Degree = cl.GetInt("threads", Environment.ProcessorCount, 1, 1024);
        int batchSize = cl.GetInt("batch-size", 256, 1, 65_536);
        int mistakes = cl.GetInt("mistakes", 24, 0, 1000);
        var model = ModelSource.Load(cl.Positionals[0]);
        // The confusion matrix goes beside the model: find out now, not after the evaluation, if it cannot.
        // Its own names: evaluating on other data must not replace what train wrote beside the model.
        // An .onnx file keeps its extension in the names: evaluating m.onnx, the export of m.fovea beside it, must
        // not replace m.fovea's evaluation.
        string stem = (ModelSource.IsOnnx(cl.Positionals[0]) ? Path.GetFullPath(cl.Positionals[0]) : VisualizeCommand.Stem(cl.Positionals[0])) + ".eval";
        if (cl.Get("out") is { } outDir)
        {
            CliFiles.OutputFolder(outDir, "--out", "for the confusion matrix");
            stem = Path.Combine(Path.GetFullPath(outDir), Path.GetFileName(stem));
            CliFiles.FolderTakesFiles(Path.GetFullPath(outDir), $"--out {outDir}");
        }
        else
        {
            // A model shipped in a read-only folder can still be evaluated: the message names the way out.
            CliFiles.FolderTakesFiles(Path.GetDirectoryName(stem)!, $"confusion matrix beside {cl.Positionals[0]} (choose another folder with --out DIR)");
        }
        CliFiles.Siblings(stem, "eval", ".confusion.png", ".confusion.json", ".mistakes.png", ".report.html");
        // The report also charts the training history saved beside the model: a corrupt one stops eval before it writes anything.
        var history = cl.Has("report") ? VisualizeCommand.ReadSaved(cl.Positionals[0], confusion: false).History : null;
        if (cl.Get("data") is { } dataDir && Directory.Exists(dataDir)) CliFiles.ReadableFolder(dataDir, "--data folder");
        IDataset test = cl.Get("data") is { } dir && Directory.Exists(dir) && ImageFolderTraining.IsImageFolder(dir)
            ? LoadImageFolder(model, cl.Positionals[0], dir, stem, cl)
            : LoadBuiltIn(model, cl.Positionals[0], cl);
        var result = new Trainer(model, new Sgd(0f)).Evaluate(test, batchSize, mistakes: mistakes);
        string confusionPath = VisualizeCommand.WriteConfusion(stem, result.Confusion);
        using var gallery = mistakes > 0 ? MistakeGallery.Render(test, result.Mistakes) : null;
        string? mistakesPath = gallery is null ? null : stem + ".mistakes.png";
        gallery?.SavePng(mistakesPath!);
        string? reportPath = cl.Has("report") ? VisualizeCommand.WriteModelReport(model, cl.Positionals[0], test, history, result.Confusion, reportStem: stem, mistakes: gallery) : null;
        var files = (test as ImageFileDataset)?.Files;
        if (cl.Has("json"))
        {
            JsonOutput.Write(new JsonObject
            {
                ["model"] = Path.GetFullPath(cl.Positionals[0]), ["images"] = result.Count, ["loss"] = result.Loss,
                ["accuracy"] = result.Accuracy, [$"top{result.K}_accuracy"] = result.TopKAccuracy,
                ["balanced_accuracy"] = result.Confusion.BalancedAccuracy, ["macro_f1"] = result.Confusion.MacroF1,
                ["per_class"] = new JsonArray(Enumerable.Range(0, result.Confusion.Classes).Select(c => (JsonNode)new JsonObject
                {
                    ["class"] = result.Confusion.ClassNames[c], ["support"] = result.Confusion.Support(c),
                    ["precision"] = result.Confusion.Precision(c), ["recall"] = result.Confusion.Recall(c), ["f1"] = result.Confusion.F1(c),
                }).ToArray()),
                ["class_names"] = JsonOutput.Array(result.Confusion.ClassNames),
                ["confusion_matrix"] = new JsonArray(result.Confusion.ToRows().Select(r => (JsonNode)JsonOutput.Array(r)).ToArray()),
                ["mistakes"] = new JsonArray(result.Mistakes.Select(m => (JsonNode)new JsonObject
                {
                    ["index"] = m.Index, ["file"] = files is null ? null : Path.GetFullPath(files[m.Index]),
                    ["true"] = result.Confusion.ClassNames[m.Label], ["predicted"] = result.Confusion.ClassNames[m.Predicted],
                    ["true_probability"] = m.TrueProbability, ["predicted_probability"] = m.PredictedProbability,
                }).ToArray()),
                ["confusion_png"] = confusionPath, ["mistakes_png"] = mistakesPath, ["report"] = reportPath,
            });
            return 0;
        }
        Console.WriteLine($"{result.Count:N0} test images: accuracy {result.Accuracy:P2}, top-{result.K} {result.TopKAccuracy:P2}, loss {result.Loss:F4}");
        Console.WriteLine($"Balanced accuracy (mean recall of the classes) {result.Confusion.BalancedAccuracy:P2}, macro F1 {result.Confusion.MacroF1:F3}");
        Console.WriteLine();
        Console.WriteLine(FormatConfusion(result.Confusion));
        if (result.Mistakes.Count > 0)
        {
            Console.WriteLine($"Worst mistakes (the model's probability of the true class, then of the class it said):");
            foreach (var m in result.Mistakes.Take(5))
                Console.WriteLine($"  {(files is null ? $"#{m.Index}" : files[m.Index])}: {result.Confusion.ClassNames[m.Label]} {m.TrueProbability:P1}, said {result.Confusion.ClassNames[m.Predicted]} {m.PredictedProbability:P1}");
            Console.WriteLine();
        }
        Console.WriteLine($"Wrote {confusionPath}");
        if (mistakesPath is not null) Console.WriteLine($"Wrote {mistakesPath}");
        if (reportPath is not null) Console.WriteLine($"Report {reportPath}");
        return 0;
    }

    /// <summary>
    /// The test split of the built-in data set --dataset names (or the model's classes suggest), checked against the model:
    /// a model of other images or classes (one trained on an image folder, eval given no --data) is told which data set was
    /// tried and how to name the right data, instead of the library's shape or class-list message for programmers.
    /// </summary>
    private static IDataset LoadBuiltIn(Model model, string modelPath, CommandLine cl)
    {
        var info = DatasetChoice.Resolve(cl, model.ClassNames);
        var test = DatasetChoice.Load(cl, info, DatasetSplit.Test);
        string? mismatch = !test.SampleShape.AsSpan().SequenceEqual(model.InputShape)
            ? $"takes input {Tensors.Tensor.ShapeToString(model.InputShape)}, but {info.DisplayName}'s images are {Tensors.Tensor.ShapeToString(test.SampleShape)}"
            : model.ClassNames.Count > 0 && !model.ClassNames.SequenceEqual(test.ClassNames)
                ? $"has the classes {ShortList(model.ClassNames)}, not {info.DisplayName}'s ({ShortList(test.ClassNames)})"
                : null;
        if (mismatch is null) return test;
        throw new UsageException($"Model {modelPath} {mismatch}. Evaluate it on images of its classes with --data DIR (an image folder, " +
            $"one subfolder per class), or name the data set it was trained on with --dataset{(cl.Has("dataset") ? "" : $" (without it, {info.DisplayName} was tried)")}.");
    }

    private static string ShortList(IReadOnlyList<string> names) =>
        names.Count <= 4 ? string.Join(", ", names) : $"{string.Join(", ", names.Take(4))}, ... ({names.Count} in all)";

    /// <summary>
    /// Every image of an image folder, resized to the model's input and labelled by the model's class names; decoded a
    /// batch at a time during the evaluation (any number of images), every file's header checked first.
    /// </summary>
    private static ImageFileDataset LoadImageFolder(Model model, string modelPath, string dir, string stem, CommandLine cl)
    {
        if (cl.Has("dataset")) throw new UsageException($"Option --dataset applies to the built-in data sets (Fashion-MNIST, MNIST, CIFAR-10); {dir} is an image folder.");
        // As train refuses an --out there: the confusion matrix (a PNG) written into a class folder would be read as one
        // of its images by the next eval or train of the folder.
        if (TrainOutputs.ClassFolderHolding(Path.GetDirectoryName(stem)!, dir) is { } classFolder)
            throw new UsageException($"The confusion matrix would be written to {Path.GetDirectoryName(stem)}, inside the class folder {Path.Combine(dir, classFolder)}, " +
                $"where the next run would read it as an image of class '{classFolder}'. Choose a folder outside {dir} with --out DIR.");
        if (model.InputShape is not [1 or 3, var height, var width])
            throw new UsageException($"Model {modelPath} takes input {Tensors.Tensor.ShapeToString(model.InputShape)}, not images [1 or 3, H, W].");
        if (model.ClassNames.Count == 0)
            throw new UsageException($"Model {modelPath} has no class names, so the class folders of {dir} cannot be matched to its outputs.");
        var images = ImageFileDataset.Open(dir, model.InputShape[0], height, width, model.ClassNames);
        ImageArguments.CheckHeaders(images.Files);
        return images;
    }

    internal static string FormatConfusion(ConfusionMatrix m)
    {
        var sb = new StringBuilder("Confusion matrix (rows: true class, columns: predicted)\n");
        int nameWidth = Math.Min(14, m.ClassNames.Max(n => n.Length));
        sb.Append(new string(' ', nameWidth + 1));
        for (int j = 0; j < m.Classes; j++) sb.Append($"{j,6}");
        sb.AppendLine("  recall  precision      F1");
        for (int i = 0; i < m.Classes; i++)
        {
            string name = m.ClassNames[i].Length > nameWidth ? m.ClassNames[i][..nameWidth] : m.ClassNames[i];
            sb.Append(name.PadRight(nameWidth + 1));
            for (int j = 0; j < m.Classes; j++) sb.Append($"{m.Counts[i, j],6}");
            sb.AppendLine($"  {m.Recall(i),6:P1}  {m.Precision(i),9:P1}  {m.F1(i),6:F3}");
        }
        return sb.ToString();
    }
}
