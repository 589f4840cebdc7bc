using System.Diagnostics;
using System.Text.Json.Nodes;
using Fovea.Data;
using Fovea.Losses;
using Fovea.Models;
using Fovea.Serialization;
using Fovea.Training;

namespace Fovea.Cli.Commands;

/// <summary>
/// fovea train: train a network on a built-in data set (Fashion-MNIST, MNIST, CIFAR-10) or on an image folder of one's own photos
/// (<see cref="ImageFolderTraining"/>), save it, and report its accuracy on images it did not train on.
/// </summary>
internal static class TrainCommand
{
    public const string Help = """
        Usage: fovea train [options]

        Trains a CNN, saves it, and reports its accuracy on images it did not train on.
        --data DIR chooses what to train on: a folder with the four IDX files of Fashion-MNIST or MNIST, or with
        CIFAR-10's cifar-10-binary.tar.gz or its extracted batches, or an image folder of your own
        pictures, one subfolder per class (DIR/cat/*.jpg, DIR/dog/*.png; PNG or JPEG, any size, colour or grey, found
        in subfolders too). Without --data: the --dataset, Fashion-MNIST by default (searched, see README).

        Options:
          --model NAME           default | reference | compact | vgg-small (default: default; vgg-small for cifar10;
                                 compact for image folders)
          --dataset NAME         fashion-mnist | mnist | cifar10 (default: cifar10 when --data holds its files, else
                                 fashion-mnist; not for image folders)
          --data DIR             data set folder or image folder (see above)
          --epochs N             passes over the data (default: 24 for default and compact, 3 for reference, 30 for
                                 vgg-small and for image folders from scratch, 100 for a classifier on pretrained features)
          --batch-size N         samples per step (default: 64; 128 for vgg-small; 32 for image folders, any model)
          --lr X                 learning rate (default: 0.001 for reference and on pretrained features, else 0.002);
                                 find: the rate from a learning-rate range test on the training images (where its
                                 loss falls fastest, a cautious choice; chart <model>.lr-finder.png; built-in data sets)
          --optimizer NAME       adam | adamw | sgd (momentum 0.9) (default: adamw; adam for reference and on pretrained
                                 features)
          --schedule NAME        constant | step | cosine | plateau (default: cosine; constant for reference and on
                                 pretrained features)
          --label-smoothing X    cross-entropy label smoothing (default: 0)
          --clip-norm X          scale each step's gradients down to a global L2 norm of at most X (default: off)
          --class-weights W      balanced | none (default: none). balanced weighs each image's loss by
                                 images / (classes x images of its class), counted on the images trained
                                 on, so a class with few images counts as much as a common one
          --augment / --no-augment   random shifts (up to 2 pixels; 4 on cifar10; 1/16 of the image size for image
                                 folders) and horizontal flips (default: on, except for reference; not available
                                 with a pretrained base, whose features are computed once per image, without augmentation)
          --validation-split F   hold out this fraction of the training images (built-in data sets: default 0.1, reference 0;
                                 0.2 of every class for an image folder without --test-data, and its accuracy is the one reported)
          --limit N              train on the first N training images only (built-in data sets only)
          --seed N               seed of weights, shuffling, augmentation and the validation split (default: 0)
                                 (runs repeat bit for bit at the same --threads)
          --threads N            degree of parallelism (default: all cores)
          --out PATH             model file (default: runs/<dataset or folder name>-<model>.fovea); history (CSV/JSON), loss and
                                 accuracy charts and the confusion matrix (PNG/JSON) go next to it
          --report               also write <model>.report.html: summary, charts, confusion matrix, and the
                                 activation maps, Grad-CAM and predictions of the first evaluation image
          --json                 print the result as JSON on stdout
          --resume PATH          continue an interrupted run from its checkpoint, with the settings it was started
                                 with (paths, data, model, epochs, ...); only --threads, --json and --report may be
                                 added (without --threads: the run's own thread count, so it continues bit for bit)

        Image folders only:
          --base NAME|FILE       resnet18 | none | a model file (default: resnet18). resnet18: the pretrained ImageNet
                                 ResNet-18 (from the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18, restored
                                 if missing), frozen; its 512 features are computed once per image and a dense
                                 classifier is trained on them; the saved model holds both. FILE: a .fovea or .onnx
                                 network used the same way (its base stage, or the whole network when it has none;
                                 images at its input size). none: train --model from scratch.
          --base-layer NAME      take the features from this layer of the base instead (e.g. an inner block)
          --base-normalization imagenet|none   normalise images with ImageNet's channel mean and std before a base
                                 from a file (torchvision networks expect it; default: none, or the file's own)
          --image-size N         images are resized to N x N (default: 64 with --base none; else the base's own input
                                 size, which it needs: 224 for resnet18)
          --channels C           3 (RGB) or 1 (grey) (default: 3 with --base none; else the base's own, which it
                                 needs: 3 for resnet18)
          --test-data DIR        a second image folder with the same class names, to report accuracy on
          --fine-tune [LAYER]    after the classifier, train the base's layers after LAYER together with it (default
                                 for resnet18: ReLU347, the start of its last residual stage; required for a base from
                                 a file), BatchNorm kept frozen; the base up to LAYER runs once per image
          --fine-tune-epochs N   epochs of fine-tuning (default: 5)
          --fine-tune-lr X       learning rate of fine-tuning, same optimizer (default: a tenth of --lr, 0.0001)

        Checkpoints: <model>.checkpoint (the model, optimizer and schedule state, the position in the run) is written
        next to the model after every epoch and deleted once the model is saved. Ctrl-C stops training after the
        current batch, writes the checkpoint and prints the command that resumes it (exit code 130; SIGTERM, as sent
        by kill or docker stop, does the same with exit code 143); a second Ctrl-C,
        or one before training starts, ends at once. No file is ever left half-written. A new run does not start
        over the checkpoint of an unfinished one: resume it, or delete it. Fine-tuning (--fine-tune) writes its own,
        <model>.fine-tune.checkpoint, after every epoch; --resume with the run's checkpoint continues it.
        """;

    private static readonly HashSet<string> s_values = ["model", "dataset", "data", "epochs", "batch-size", "lr", "optimizer", "schedule",
        "label-smoothing", "clip-norm", "class-weights", "validation-split", "limit", "seed", "threads", "out", "base", "base-layer", "base-normalization", "image-size", "channels", "test-data",
        "resume"];
    private static readonly HashSet<string> s_flags = ["json", "augment", "no-augment", "report"];

    public static int Run(string[] args)
    {
        var (cl, session) = TrainSession.Open(args, a => CommandLine.Parse("train", a, [.. s_values, .. FineTuning.ValueOptions], s_flags, FineTuning.OptionalValueOptions));
        cl.RequirePositionals(0, "train [options]");
        string? data = cl.Get("data");
        if (data is not null && !Directory.Exists(data))
            throw new DirectoryNotFoundException(File.Exists(data) ? $"--data {data} is a file; expected a folder (a data set's files, or one subfolder of images per class)." : $"Data folder not found: {data} (--data).");
        if (data is not null) CliFiles.ReadableFolder(data, "--data folder");
        if (data is not null && ImageFolderTraining.IsImageFolder(data)) return ImageFolderTraining.Run(cl, data, session);
        foreach (var folderOption in ImageFolderTraining.OptionsOnlyForFolders)
            if (cl.Has(folderOption))
                throw new UsageException($"Option --{folderOption} applies to image folders (--data DIR with one subfolder per class); " +
                    (data is null ? "no --data folder was given." : $"{data} holds the files of a built-in data set."));
        return RunIdx(cl, session);
    }

    private static int RunIdx(CommandLine cl, TrainSession session)
    {
        var datasetInfo = DatasetChoice.Resolve(cl);
        string modelName = cl.Get("model", datasetInfo.DefaultModel)!.ToLowerInvariant();
        if (!ModelZoo.Names.Contains(modelName)) throw new UsageException($"Unknown model '{modelName}' (--model). Expected one of: {string.Join(", ", ModelZoo.Names)}.");
        var settings = TrainSettings.Read(cl, modelName switch
        {
            "reference" => new TrainDefaults(3, 0.001, "adam", "constant", false, 0),
            // Colour photos need more epochs than the MNIST family; batches of 128, as usual for this design on CIFAR-10.
            "vgg-small" => new TrainDefaults(30, 0.002, "adamw", "cosine", true, 0.1, BatchSize: 128),
            // 15 epochs: 91.96% on Fashion-MNIST in 443 s on the slower of the two 2-core machines measured (an Intel
            // Xeon VM; 24 epochs reach 92.61% but took 706 s there, past the 10-minute budget of `./fovea train`).
            _ => new TrainDefaults(15, 0.002, "adamw", "cosine", true, 0.1),
        });
        Parallelism.Degree = settings.Threads;

        string outPath = cl.Get("out") ?? Path.Combine("runs", $"{datasetInfo.Name}-{modelName}.fovea");
        TrainOutputs.Check(outPath);
        session.Prepare(outPath);
        // Checked before loading, so a bad --limit fails at once and prints nothing else; the upper bound needs the data.
        if (cl.Has("limit")) cl.GetInt("limit", 1, 1);
        // Where the data came from is told once the run is known to fit: a refused run prints its one error line only.
        var loadLog = new List<string>();
        var train = DatasetChoice.Load(cl, datasetInfo, DatasetSplit.Train, settings.Json ? null : loadLog.Add);
        var test = DatasetChoice.Load(cl, datasetInfo, DatasetSplit.Test);
        if (cl.Has("limit")) train = train.Take(cl.GetInt("limit", train.Count, 1, train.Count));

        var options = new FitOptions
        {
            Epochs = settings.Epochs, BatchSize = settings.BatchSize, Seed = settings.Seed, ValidationSplit = settings.ValidationSplit,
            Schedule = settings.Schedule, Augmentation = settings.Augment ? datasetInfo.Augmentation : null,
            Callbacks = settings.Json ? [] : [ConsoleProgress.ForStandardError()],
        };
        // Named here as the user wrote it: the library's refusal names its property (ValidationSplit), not the option.
        if (settings.ValidationSplit > 0 && InMemoryDataset.SplitIndices(train.Count, settings.ValidationSplit, settings.Seed).Train.Length == 0)
            throw new UsageException($"--validation-split {settings.ValidationSplit} of {train.Count:N0} training image(s) leaves none to train on; " +
                "hold out a smaller fraction" + (cl.Has("limit") ? " or raise --limit." : "."));
        // The images Fit will train on: the validation images it holds out are not the training data's.
        var fitted = options.SplitIndices(train).Training;
        var model = ModelZoo.Create(modelName, train.SampleShape, train.ClassNames.Count, settings.Seed);
        model.ClassNames = train.ClassNames.ToArray();
        // Stored with the model, so predict normalises a photo exactly as training did; measured on the training images
        // only, so nothing of the validation images reaches the model before it is validated on them.
        if (datasetInfo.NormalizeInput) model.Normalization = ChannelStatistics.Normalization(train, fitted);
        var trainer = new Trainer(model, settings.Optimizer, settings.CreateLoss(train, fitted));
        trainer.CheckStepFits(settings.BatchSize, fitted.Length);
        foreach (var line in loadLog) Console.Error.WriteLine(line);
        // --lr find sweeps the images training will use (the held-out ones stay unseen).
        settings = settings.FindRate(trainer, train is InMemoryDataset memory && fitted.Length < train.Count ? memory.Subset(fitted) : train,
            session.Resume, VisualizeCommand.Stem(outPath) + ".lr-finder.png");
        if (!settings.Json)
            Console.Error.WriteLine($"Training '{modelName}' ({model.ParameterCount:N0} parameters) on {datasetInfo.DisplayName}: {train.Count:N0} images, {settings.Describe()}");
        if (!settings.Json && session.Describe() is { } resuming) Console.Error.WriteLine(resuming);
        var clock = Stopwatch.StartNew();
        var history = session.Fit(trainer, train, options);
        double trainSeconds = clock.Elapsed.TotalSeconds;
        var result = trainer.Evaluate(test, mistakes: 24);

        ModelFile.Save(model, outPath);
        string? reportPath = TrainOutputs.Write(model, outPath, history, result, cl.Has("report") ? test : null, evaluatedImages: test);

        if (settings.Json)
        {
            JsonOutput.Write(new JsonObject
            {
                ["model"] = modelName, ["dataset"] = datasetInfo.Name, ["output"] = Path.GetFullPath(outPath),
                ["epochs"] = history.Epochs.Count, ["train_seconds"] = Math.Round(trainSeconds, 2),
                ["test_loss"] = result.Loss, ["test_accuracy"] = result.Accuracy, ["test_top5_accuracy"] = result.TopKAccuracy,
                ["history"] = JsonNode.Parse(history.ToJson()),
                ["report"] = reportPath, ["resumed_from"] = session.Resume?.Path,
            });
        }
        else
        {
            Console.WriteLine($"Test accuracy {result.Accuracy:P2} (top-{result.K} {result.TopKAccuracy:P2}, loss {result.Loss:F4}) on {result.Count:N0} images after {trainSeconds:F0}s of training.");
            Console.WriteLine($"Saved {outPath} (history, charts, confusion matrix and worst mistakes next to it)");
            if (reportPath is not null) Console.WriteLine($"Report {reportPath}");
        }
        return session.Finish();
    }
}
