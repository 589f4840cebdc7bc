using System.Diagnostics;
using System.Text.Json.Nodes;
using Fovea.Data;
using Fovea.Losses;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Serialization;
using Fovea.Training;

namespace Fovea.Cli.Commands;

/// <summary>fovea train: train a network from the zoo on an MNIST-family data set, save it, evaluate on the test split.</summary>
internal static class TrainCommand
{
    public const string Help = """
        Usage: fovea train [options]

        Trains a CNN, saves it, and reports its test accuracy.

        Options:
          --model NAME           default | reference (default: default)
          --dataset NAME         fashion-mnist | mnist (default: fashion-mnist)
          --data DIR             folder with the four IDX files (default: searched, see README)
          --epochs N             passes over the data (default: 24 for default, 3 for reference)
          --batch-size N         samples per step (default: 64)
          --lr X                 learning rate (default: 0.002 for default, 0.001 for reference)
          --optimizer NAME       adam | adamw | sgd (default: adamw for default, adam for reference)
          --schedule NAME        constant | step | cosine | plateau (default: cosine for default, constant for reference)
          --label-smoothing X    cross-entropy label smoothing (default: 0)
          --augment / --no-augment   random shifts and flips (default: on for default, off for reference)
          --validation-split F   hold out a fraction of the training set (default: 0)
          --limit N              train on the first N training images only
          --seed N               seed of weights, shuffling, augmentation (default: 0)
          --threads N            degree of parallelism (default: all cores)
          --out PATH             model file (default: runs/<dataset>-<model>.fovea); history (CSV/JSON), loss and
                                 accuracy charts and the confusion matrix (PNG/JSON) go next to it
          --report               also write <model>.report.html: summary, charts, confusion matrix, and the
                                 activation maps, Grad-CAM and predictions of the first test image
          --json                 print the result as JSON on stdout
        """;

    private static readonly HashSet<string> s_values = ["model", "dataset", "data", "epochs", "batch-size", "lr", "optimizer", "schedule",
        "label-smoothing", "validation-split", "limit", "seed", "threads", "out"];
    private static readonly HashSet<string> s_flags = ["json", "augment", "no-augment", "report"];

    public static int Run(string[] args)
    {
        var cl = CommandLine.Parse("train", args, s_values, s_flags);
        cl.RequirePositionals(0, "train [options]");
        string modelName = cl.Get("model", "default")!.ToLowerInvariant();
        if (!ModelZoo.Names.Contains(modelName)) throw new UsageException($"Unknown model '{modelName}' (--model). Expected one of: {string.Join(", ", ModelZoo.Names)}.");
        bool isDefault = modelName == "default";
        int epochs = cl.GetInt("epochs", isDefault ? 24 : 3, 1, 100_000);
        int batchSize = cl.GetInt("batch-size", 64, 1, 65_536);
        float lr = (float)cl.GetDouble("lr", isDefault ? 0.002 : 0.001, 0, 10);
        int seed = cl.GetInt("seed", 0);
        int threads = cl.GetInt("threads", Environment.ProcessorCount, 1, 1024);
        double validationSplit = cl.GetDouble("validation-split", 0, 0, 0.99);
        float smoothing = (float)cl.GetDouble("label-smoothing", 0, 0, 0.99);
        bool augment = cl.Has("augment") || (isDefault && !cl.Has("no-augment"));
        var optimizer = Optimizer.Create(cl.Get("optimizer", isDefault ? "adamw" : "adam")!, lr);
        var schedule = LearningRateSchedule.Parse(cl.Get("schedule", isDefault ? "cosine" : "constant")!);
        bool json = cl.Has("json");
        Parallelism.Degree = threads;

        var datasetInfo = DatasetChoice.Resolve(cl);
        string outPath = cl.Get("out") ?? Path.Combine("runs", $"{datasetInfo.Name}-{modelName}.fovea");
        var log = json ? null : (Action<string>)(m => Console.Error.WriteLine(m));
        var train = DatasetChoice.Load(cl, DatasetSplit.Train, log);
        var test = DatasetChoice.Load(cl, DatasetSplit.Test);
        if (cl.Has("limit")) train = train.Take(cl.GetInt("limit", train.Count, 1, train.Count));

        var model = ModelZoo.Create(modelName, train.SampleShape, train.ClassNames.Count, seed);
        model.ClassNames = train.ClassNames.ToArray();
        var trainer = new Trainer(model, optimizer, new SoftmaxCrossEntropyLoss(smoothing));
        var callbacks = new List<ITrainingCallback>();
        if (!json)
        {
            callbacks.Add(ConsoleProgress.ForStandardError());
            Console.Error.WriteLine($"Training '{modelName}' ({model.ParameterCount:N0} parameters) on {datasetInfo.DisplayName}: {train.Count:N0} images, " +
                $"{epochs} epochs, batch {batchSize}, {optimizer.Name} lr {lr}, {cl.Get("schedule", isDefault ? "cosine" : "constant")} schedule, " +
                $"augmentation {(augment ? "on" : "off")}, {threads} thread(s), seed {seed}");
        }
        var options = new FitOptions
        {
            Epochs = epochs, BatchSize = batchSize, Seed = seed, ValidationSplit = validationSplit, Schedule = schedule,
            Augmentation = augment ? Augmentation.ShiftAndFlip : null, Callbacks = callbacks,
        };
        var clock = Stopwatch.StartNew();
        var history = trainer.Fit(train, options);
        double trainSeconds = clock.Elapsed.TotalSeconds;
        var result = trainer.Evaluate(test);

        ModelFile.Save(model, outPath);
        string stem = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(outPath))!, Path.GetFileNameWithoutExtension(outPath));
        AtomicFile.WriteAllText(stem + ".history.csv", history.ToCsv());
        AtomicFile.WriteAllText(stem + ".history.json", history.ToJson());
        VisualizeCommand.WriteHistoryCharts(stem, history.Epochs);
        VisualizeCommand.WriteConfusion(stem, result.Confusion);
        string? reportPath = cl.Has("report") ? VisualizeCommand.WriteModelReport(model, outPath, test, history.Epochs, result.Confusion) : null;

        if (json)
        {
            JsonOutput.Write(new JsonObject
            {
                ["model"] = modelName, ["dataset"] = datasetInfo.Name, ["output"] = Path.GetFullPath(outPath),
                ["epochs"] = history.Epochs.Count, ["train_seconds"] = Math.Round(trainSeconds, 2),
                ["test_loss"] = result.Loss, ["test_accuracy"] = result.Accuracy, ["test_top5_accuracy"] = result.TopKAccuracy,
                ["history"] = JsonNode.Parse(history.ToJson()),
                ["report"] = reportPath,
            });
        }
        else
        {
            Console.WriteLine($"Test accuracy {result.Accuracy:P2} (top-{result.K} {result.TopKAccuracy:P2}, loss {result.Loss:F4}) on {result.Count:N0} images after {trainSeconds:F0}s of training.");
            Console.WriteLine($"Saved {outPath} (history, charts and confusion matrix next to it)");
            if (reportPath is not null) Console.WriteLine($"Report {reportPath}");
        }
        return 0;
    }
}
