using System.Diagnostics;
using System.Text.Json.Nodes;
using Fovea.Data;
using Fovea.Layers;
using Fovea.Losses;
using Fovea.Models;
using Fovea.Onnx;
using Fovea.Serialization;
using Fovea.Training;
using Fovea.Vision;

namespace Fovea.Cli.Commands;

/// <summary>
/// fovea train --data DIR on an image folder (one subfolder per class): hold out a stratified validation part (or read
/// --test-data), then train a network from scratch (--base none; every image decoded and resized once, up front, and
/// kept) or a dense classifier on the cached features of the frozen pretrained ResNet-18 (--base resnet18; images decoded
/// a batch at a time on their way through the base, only the features kept), optionally followed by
/// fine-tuning the base's last layers with it (--fine-tune, see <see cref="FineTuning"/>), and save one model that
/// classifies image files, with the folder's class names.
/// </summary>
internal static class ImageFolderTraining
{
    public static readonly string[] OptionsOnlyForFolders = ["base", "base-layer", "base-normalization", "image-size", "channels", "test-data", "fine-tune", "fine-tune-epochs", "fine-tune-lr"];
    private static readonly string[] s_optionsOnlyForIdx = ["dataset", "limit"];

    /// <summary>What one training run produced; the evaluations are of images it did not train on (after fine-tuning, when asked).</summary>
    private sealed record Outcome(Model Model, History History, EvaluationResult? Validation, EvaluationResult? Test, double TrainSeconds, double FeatureSeconds,
        FineTuning.Outcome? FineTuned = null);

    /// <summary>
    /// True for an existing folder without a built-in data set's files (IDX files, CIFAR-10's batches or archive; see
    /// <see cref="DatasetChoice.HoldsDatasetFiles"/>): that is taken as an image folder, whose layout is checked when it is read.
    /// </summary>
    public static bool IsImageFolder(string dir) => Directory.Exists(dir) && !DatasetChoice.HoldsDatasetFiles(dir);

    public static int Run(CommandLine cl, string dir, TrainSession session)
    {
        var choice = ReadChoice(cl, dir);
        var settings = choice.Settings;
        Parallelism.Degree = settings.Threads;
        RejectFolderOfSplits(dir);
        string outPath = cl.Get("out") ?? Path.Combine("runs", $"{FolderName(dir)}-{choice.ModelName}.fovea");
        TrainOutputs.Check(outPath, choice.Base.FilePath);
        TrainOutputs.CheckOutsideClassFolders(outPath, dir, choice.TestDir);
        session.Prepare(outPath);
        // A layer the base cannot be cut after is refused before the images are decoded.
        var baseModel = choice.FineTune is null ? null : choice.Base.Resolve(settings.Json);
        choice.FineTune?.Check(baseModel!, choice.Base.Option);
        // With a pretrained base each image is decoded when the base reaches its batch, and only its features are kept;
        // a network trained from scratch sees every image each epoch, so those are decoded once, up front.
        var (all, train, validation, test) = choice.Pretrained ? List(dir, choice) : Load(dir, choice);
        if (!settings.Json)
            Console.Error.WriteLine($"{all.Count:N0} images in {all.ClassNames.Count} classes ({string.Join(", ", all.ClassNames)}): {train.Count:N0} for training" +
                (validation is null ? "" : $", {validation.Count:N0} held out for validation ({settings.ValidationSplit:P0} of each class)") +
                (test is null ? "" : $", {test.Count:N0} test images from {choice.TestDir}"));

        var outcome = choice.Pretrained
            ? TrainOnPretrainedFeatures(baseModel ?? choice.Base.Resolve(settings.Json), choice.ModelName, train, validation, test, settings, session, choice.FineTune)
            : TrainFromScratch(choice.ModelName, train, validation, test, settings, session);
        ModelFile.Save(outcome.Model, outPath);
        var reported = (outcome.Test ?? outcome.Validation)!;
        string? reportPath = TrainOutputs.Write(outcome.Model, outPath, outcome.History, reported, cl.Has("report") ? (IDataset?)test ?? validation : null,
            test is null ? "validation" : "test");
        Print(outcome, settings, choice.ModelName, dir, outPath, reportPath, train.Count);
        return session.Finish();
    }

    /// <summary>
    /// What to train, read and checked before any image is decoded. ModelName is "resnet18" with the pretrained base, the
    /// file's name with a base from a file, else the network trained from scratch; images are read at Height × Width.
    /// </summary>
    private sealed record Choice(PretrainedBase Base, string ModelName, int Channels, int Height, int Width, string? TestDir, TrainSettings Settings, FineTuning? FineTune)
    {
        public bool Pretrained => Base.Pretrained;
    }

    private static Choice ReadChoice(CommandLine cl, string dir)
    {
        foreach (var option in s_optionsOnlyForIdx)
            if (cl.Has(option)) throw new UsageException($"Option --{option} applies to the built-in data sets (Fashion-MNIST, MNIST, CIFAR-10); {dir} is an image folder.");
        var pretrainedBase = PretrainedBase.Read(cl);
        bool pretrained = pretrainedBase.Pretrained;
        if (pretrained && cl.Has("model"))
            throw new UsageException($"Option --model chooses a network to train from scratch; with --base {pretrainedBase.Option} a dense classifier is trained on the pretrained features. Add --base none to use --model.");
        string modelName = pretrained ? pretrainedBase.Name : cl.Get("model", "compact")!.ToLowerInvariant();
        if (!pretrained && !ModelZoo.Names.Contains(modelName))
            throw new UsageException($"Unknown model '{modelName}' (--model). Expected one of: {string.Join(", ", ModelZoo.Names)}.");
        int channels = cl.GetInt("channels", pretrained ? pretrainedBase.Model?.InputShape[0] ?? 3 : 3, 1, 3);
        if (channels == 2) throw new UsageException("Option --channels must be 1 (grey) or 3 (RGB); received 2.");
        int height, width;
        if (pretrained)
        {
            // A pretrained base fixes the image size and colours: the options may only repeat them.
            int[] input = pretrainedBase.Model?.InputShape ?? [3, 224, 224];
            (height, width) = (input[1], input[2]);
            int size = cl.GetInt("image-size", height, 8, 2048);
            if (size != height || size != width || channels != input[0])
                throw new UsageException($"--base {pretrainedBase.Option} takes {input[0]} x {height} x {width} images, the size it was trained on; " +
                    $"received --image-size {size} --channels {channels}. Use --base none for other sizes.");
            if (cl.Has("augment"))
                throw new UsageException($"--augment is not available with --base {pretrainedBase.Option}: its features are computed once per image, without augmentation. Use --base none to train with augmentation.");
        }
        else height = width = cl.GetInt("image-size", 64, 8, 2048);
        string? testDir = cl.Get("test-data");
        if (testDir is not null && Directory.Exists(testDir)) CliFiles.ReadableFolder(testDir, "--test-data folder");
        double validationSplit = testDir is null ? 0.2 : 0;
        var settings = TrainSettings.Read(cl, pretrained
            ? new TrainDefaults(100, 0.001, "adam", "constant", Augment: false, validationSplit, BatchSize: 32)
            : new TrainDefaults(30, 0.002, "adamw", "cosine", Augment: true, validationSplit, BatchSize: 32));
        if (settings.FindsRate)
            throw new UsageException("--lr find runs on the built-in data sets (Fashion-MNIST, MNIST, CIFAR-10); for an image folder give a rate, e.g. --lr 0.001.");
        if (testDir is null && settings.ValidationSplit == 0)
            throw new UsageException("Nothing to measure accuracy on: --validation-split 0 and no --test-data. Hold out a fraction (e.g. --validation-split 0.2) or give --test-data DIR.");
        return new Choice(pretrainedBase, modelName, channels, height, width, testDir, settings, FineTuning.Read(cl, pretrainedBase, settings));
    }

    /// <summary>Class folders all named like train/test/val mean the user pointed at the parent of the splits.</summary>
    private static void RejectFolderOfSplits(string dir)
    {
        var classNames = ImageFolderListing.Scan(dir).ClassNames;
        if (!classNames.All(IsSplitName)) return;
        string trainPart = classNames.FirstOrDefault(n => n.StartsWith("train", StringComparison.OrdinalIgnoreCase)) ?? classNames[0];
        throw new UsageException($"The class folders of {dir} are named {string.Join(", ", classNames)}: that looks like a folder of splits, each holding the class folders. " +
            $"Give the training part with --data and another with --test-data, e.g. --data {Path.Combine(dir, trainPart)} --test-data {Path.Combine(dir, classNames.First(n => n != trainPart))}.");
    }

    private static bool IsSplitName(string name) =>
        name.ToLowerInvariant() is "train" or "training" or "test" or "testing" or "val" or "valid" or "validation" or "eval" or "dev";

    /// <summary>The images of a run: the folder, its training and held-out parts (null without), the test folder (null without).</summary>
    private sealed record Images(IDataset All, IDataset Train, IDataset? Validation, IDataset? Test);

    /// <summary>Lists the images without decoding any, split as <see cref="Load"/> splits them (the same files in each part for a seed).</summary>
    private static Images List(string dir, Choice choice)
    {
        var all = ImageFileDataset.Open(dir, choice.Channels, choice.Height, choice.Width);
        var settings = choice.Settings;
        (ImageFileDataset train, ImageFileDataset? validation) = settings.ValidationSplit > 0 ? all.Split(settings.ValidationSplit, settings.Seed) : (all, null);
        CheckValidation(dir, validation);
        var test = choice.TestDir is null ? null : ImageFileDataset.Open(choice.TestDir, choice.Channels, choice.Height, choice.Width, all.ClassNames);
        // Images are decoded only when the base reaches them: a file that is no image should stop the run now, not after
        // minutes of feature extraction (a file damaged past its header is still found only then).
        ImageArguments.CheckHeaders(all.Files);
        if (test is not null) ImageArguments.CheckHeaders(test.Files);
        return new Images(all, train, validation, test);
    }

    /// <summary>Decodes every image of the folder (and of --test-data) once, then splits.</summary>
    private static Images Load(string dir, Choice choice)
    {
        var settings = choice.Settings;
        // The test folder's classes and headers are checked first: decoding the training images can take minutes.
        if (choice.TestDir is not null)
            ImageArguments.CheckHeaders(ImageFolderListing.Scan(choice.TestDir, ImageFolderListing.Scan(dir).ClassNames).Files);
        var all = Decode(dir, choice, null, settings.Json);
        (ImageFolder train, ImageFolder? validation) = settings.ValidationSplit > 0 ? all.Split(settings.ValidationSplit, settings.Seed) : (all, null);
        CheckValidation(dir, validation);
        var test = choice.TestDir is null ? null : Decode(choice.TestDir, choice, all.ClassNames, settings.Json);
        return new Images(all, train, validation, test);
    }

    private static void CheckValidation(string dir, IDataset? validation)
    {
        if (validation is { Count: 0 })
            throw new UsageException($"{dir}: no image can be held out for validation, as every class has a single image. Add images, or give --test-data DIR and --validation-split 0.");
    }

    private static ImageFolder Decode(string dir, Choice choice, IReadOnlyList<string>? classNames, bool quiet)
    {
        var status = new StatusLine($"Decoding images of {dir} at {choice.Channels} x {choice.Height} x {choice.Width}:", !quiet);
        var folder = ImageFolder.Load(dir, choice.Channels, choice.Height, choice.Width, new ImageFolderOptions { ClassNames = classNames, Progress = status.Report });
        status.Finish($"{folder.Count:N0} images");
        return folder;
    }

    private static Outcome TrainFromScratch(string modelName, IDataset train, IDataset? validation, IDataset? test, TrainSettings settings, TrainSession session)
    {
        int size = Math.Min(train.SampleShape[1], train.SampleShape[2]);
        var model = ModelZoo.Create(modelName, train.SampleShape, train.ClassNames.Count, settings.Seed);
        model.ClassNames = train.ClassNames.ToArray();
        // Stored with the model, so predict normalises a photo exactly as training did.
        model.Normalization = ChannelStatistics.Normalization(train);
        if (!settings.Json)
            Console.Error.WriteLine($"Training '{modelName}' from scratch ({model.ParameterCount:N0} parameters): {settings.Describe()}");
        if (!settings.Json && session.Describe() is { } resuming) Console.Error.WriteLine(resuming);
        var trainer = new Trainer(model, settings.Optimizer, settings.CreateLoss(train));
        var clock = Stopwatch.StartNew();
        var history = session.Fit(trainer, train, new FitOptions
        {
            Epochs = settings.Epochs, BatchSize = settings.BatchSize, Seed = settings.Seed, ValidationData = validation, Schedule = settings.Schedule,
            // Mirror, and shift by up to 1/16 of the side: the usual recipe for photos, scaled to the image size.
            Augmentation = settings.Augment ? new Augmentation(0.5, Math.Max(1, size / 16)) : null,
            Callbacks = settings.Json ? [] : [ConsoleProgress.ForStandardError()],
        });
        double trainSeconds = clock.Elapsed.TotalSeconds;
        return new Outcome(model, history, validation is null ? null : trainer.Evaluate(validation), test is null ? null : trainer.Evaluate(test), trainSeconds, 0);
    }

    private static Outcome TrainOnPretrainedFeatures(Model baseModel, string baseName, IDataset train, IDataset? validation, IDataset? test,
        TrainSettings settings, TrainSession session, FineTuning? fineTune)
    {
        var clock = Stopwatch.StartNew();
        // Fine-tuning splits the base at its layer: the part up to it runs once per image, its outputs are kept for
        // fine-tuning, and the frozen features come from the rest of the base run on them.
        var heads = fineTune?.ComputeHeadOutputs(baseModel, baseName, train, validation, test, settings.Json);
        var featureModel = fineTune is null ? baseModel : baseModel.CopyAfter(fineTune.Layer);
        var trainFeatures = Features(featureModel, baseName, heads?.Train ?? train, "training", settings.Json);
        var validationFeatures = validation is null ? null : Features(featureModel, baseName, heads?.Validation ?? validation, "validation", settings.Json);
        var testFeatures = test is null ? null : Features(featureModel, baseName, heads?.Test ?? test, "test", settings.Json);
        double featureSeconds = clock.Elapsed.TotalSeconds;

        var top = TransferLearning.ClassifierTop(baseModel.BaseOutput.OutputShape, train.ClassNames, settings.Seed);
        if (!settings.Json)
            Console.Error.WriteLine($"Training a dense classifier ({top.ParameterCount:N0} parameters) on the {baseName} features: {settings.Describe()}");
        if (!settings.Json && session.Describe() is { } resuming) Console.Error.WriteLine(resuming);
        var trainer = new Trainer(top, settings.Optimizer, settings.CreateLoss(train));
        clock.Restart();
        var history = session.Fit(trainer, trainFeatures, new FitOptions
        {
            Epochs = settings.Epochs, BatchSize = settings.BatchSize, Seed = settings.Seed, ValidationData = validationFeatures, Schedule = settings.Schedule,
            Callbacks = settings.Json ? [] : [new EveryNthEpoch(ConsoleProgress.ForStandardError(), Math.Max(1, settings.Epochs / 10), settings.Epochs)],
        });
        double trainSeconds = clock.Elapsed.TotalSeconds;
        // Evaluating the classifier on cached features gives what the combined model gives on the images, without a second pass of the base.
        var model = Model.Combine(baseModel, top, $"{baseName}-classifier");
        var frozenValidation = validationFeatures is null ? null : trainer.Evaluate(validationFeatures);
        var frozenTest = testFeatures is null ? null : trainer.Evaluate(testFeatures);
        if (fineTune is null) return new Outcome(model, history, frozenValidation, frozenTest, trainSeconds, featureSeconds);
        if (!settings.Json && (frozenTest ?? frozenValidation) is { } frozen)
            Console.Error.WriteLine($"On the frozen features: {(frozenTest is null ? "validation" : "test")} accuracy {frozen.Accuracy:P2} (loss {frozen.Loss:F4})");
        FineTuning.Outcome tuned;
        try { tuned = fineTune.Run(model, heads!, settings, session, frozenValidation, frozenTest); }
        catch (TrainingInterruptedException e)
        {
            // The fine-tuning's checkpoint holds where it stopped and the run's the trained classifier; --resume names the
            // run's and continues the fine-tuning. Its epochs are numbered on from the classifier's, as in the history.
            throw new TrainingInterruptedException(e.Message, settings.Epochs + e.Epoch, e.Batch, session.CheckpointPath, e.CancellationToken);
        }
        // One history: the classifier's epochs, then the fine-tuning's numbered on (101-105 after 100), so the charts show both.
        return new Outcome(model, history.Concat(tuned.History), tuned.Validation, tuned.Test, trainSeconds, featureSeconds, tuned);
    }

    /// <summary>Features of image files (decoded a batch at a time on the way) or of head outputs already computed.</summary>
    private static InMemoryDataset Features(Model baseModel, string baseName, IDataset images, string role, bool quiet)
    {
        // Short labels: the line is redrawn in place, which a line wider than the terminal would break.
        var status = new StatusLine(images is ImageFileDataset
            ? $"Decoding the {role} images into {baseName} features:"
            : $"{baseName} features of the {role} images:", !quiet);
        var features = TransferLearning.ExtractFeatures(baseModel, images, progress: status.Report);
        status.Finish($"{images.Count:N0} images");
        return features;
    }

    private static string FolderName(string dir) =>
        Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir))) is { Length: > 0 } name ? name : "images";

    private static void Print(Outcome outcome, TrainSettings settings, string modelName, string dir, string outPath, string? reportPath, int trainCount)
    {
        if (settings.Json)
        {
            JsonOutput.Write(new JsonObject
            {
                ["model"] = modelName, ["data"] = Path.GetFullPath(dir), ["output"] = Path.GetFullPath(outPath),
                ["class_names"] = JsonOutput.Array(outcome.Model.ClassNames), ["input_shape"] = JsonOutput.Array(outcome.Model.InputShape),
                ["train_images"] = trainCount, ["epochs"] = outcome.History.Epochs.Count,
                ["feature_seconds"] = Math.Round(outcome.FeatureSeconds, 2), ["train_seconds"] = Math.Round(outcome.TrainSeconds, 2),
                ["validation"] = Describe(outcome.Validation), ["test"] = Describe(outcome.Test),
                ["fine_tune"] = FineTuning.Describe(outcome.FineTuned, Describe),
                ["history"] = JsonNode.Parse(outcome.History.ToJson()), ["report"] = reportPath,
            });
            return;
        }
        var ft = outcome.FineTuned;
        string after = ft is null ? $"after {outcome.TrainSeconds:F1}s of training"
            : $"after {outcome.TrainSeconds:F1}s of training the classifier and {ft.Seconds:F1}s of fine-tuning after {ft.Options.Layer}";
        if (outcome.Validation is { } v)
            Console.WriteLine($"Validation accuracy {v.Accuracy:P2} ({Balanced(v)}top-{v.K} {v.TopKAccuracy:P2}, loss {v.Loss:F4}) on {v.Count:N0} held-out images {after}" +
                (ft?.FrozenValidation is { } fv ? $" (frozen features alone: {fv.Accuracy:P2})." : "."));
        if (outcome.Test is { } t)
            Console.WriteLine($"Test accuracy {t.Accuracy:P2} ({Balanced(t)}top-{t.K} {t.TopKAccuracy:P2}, loss {t.Loss:F4}) on {t.Count:N0} test images {after}" +
                (ft?.FrozenTest is { } ftest ? $" (frozen features alone: {ftest.Accuracy:P2})." : "."));
        Console.WriteLine($"Saved {outPath} (classes: {string.Join(", ", outcome.Model.ClassNames)}; history, charts and confusion matrix next to it)");
        if (reportPath is not null) Console.WriteLine($"Report {reportPath}");
    }

    private static JsonNode? Describe(EvaluationResult? r) => r is null ? null : new JsonObject
    {
        ["images"] = r.Count, ["accuracy"] = r.Accuracy, ["balanced_accuracy"] = r.Confusion.BalancedAccuracy,
        ["loss"] = r.Loss, [$"top{r.K}_accuracy"] = r.TopKAccuracy,
    };

    /// <summary>"balanced 81.25 %, " when the classes have unequal numbers of images (then accuracy favours the large ones), else "".</summary>
    private static string Balanced(EvaluationResult r)
    {
        var supports = Enumerable.Range(0, r.Confusion.Classes).Select(r.Confusion.Support).Where(n => n > 0).Distinct().Count();
        return supports > 1 ? $"balanced {r.Confusion.BalancedAccuracy:P2}, " : "";
    }

    /// <summary>Passes every batch to <paramref name="inner"/> but only every n-th epoch line (and the last): a classifier on features runs many short epochs.</summary>
    private sealed class EveryNthEpoch(ITrainingCallback inner, int n, int epochs) : ITrainingCallback
    {
        public void OnTrainBegin(Trainer trainer) => inner.OnTrainBegin(trainer);
        public void OnBatchEnd(Trainer trainer, in BatchProgress progress) => inner.OnBatchEnd(trainer, progress);
        public void OnTrainEnd(Trainer trainer, History history) => inner.OnTrainEnd(trainer, history);

        public void OnEpochEnd(Trainer trainer, EpochMetrics metrics)
        {
            if (metrics.Epoch % n == 0 || metrics.Epoch == 1 || metrics.Epoch == epochs) inner.OnEpochEnd(trainer, metrics);
        }
    }
}
