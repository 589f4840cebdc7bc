using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Fovea.Data;
using Fovea.Losses;
using Fovea.Models;
using Fovea.Onnx;
using Fovea.Optimizers;
using Fovea.Training;
using Fovea.Vision;

namespace Fovea.Cli.Commands;

/// <summary>
/// --fine-tune [LAYER] of <c>fovea train</c> on an image folder: after the dense classifier has trained on the frozen
/// features, the base's layers after LAYER train together with it for a few epochs at a low learning rate, BatchNorm kept
/// frozen (<see cref="TransferLearning.FineTuneOnHeadOutputs"/>). The base up to LAYER runs once per image: its outputs are
/// kept for fine-tuning, and the rest of the base runs on them to give the frozen features of the first step.
/// </summary>
internal sealed record FineTuning(string Layer, int Epochs, float LearningRate)
{
    /// <summary>Options of <c>fovea train</c> that take a value: --fine-tune-epochs N, --fine-tune-lr X.</summary>
    public static readonly string[] ValueOptions = ["fine-tune-epochs", "fine-tune-lr"];
    /// <summary>--fine-tune, whose LAYER may be left out.</summary>
    public static readonly string[] OptionalValueOptions = ["fine-tune"];

    /// <summary>Epochs of fine-tuning unless --fine-tune-epochs says otherwise: a few, as the tail starts from trained weights.</summary>
    public const int DefaultEpochs = 5;

    /// <summary>The outputs of <see cref="Layer"/> for each image set, with their labels.</summary>
    public sealed record HeadOutputs(InMemoryDataset Train, InMemoryDataset? Validation, InMemoryDataset? Test);

    /// <summary>What fine-tuning did: its epochs, its evaluations, and the classifier's on the frozen features before it.</summary>
    public sealed record Outcome(FineTuning Options, History History, EvaluationResult? Validation, EvaluationResult? Test, long TrainableParameters,
        double Seconds, EvaluationResult? FrozenValidation, EvaluationResult? FrozenTest);

    /// <summary>The fine-tuning options, or null without --fine-tune; read and checked before any image is decoded.</summary>
    public static FineTuning? Read(CommandLine cl, PretrainedBase pretrainedBase, TrainSettings settings)
    {
        if (!cl.Has("fine-tune"))
        {
            foreach (var option in ValueOptions)
                if (cl.Has(option)) throw new UsageException($"Option --{option} applies to fine-tuning; add --fine-tune [LAYER].");
            return null;
        }
        if (!pretrainedBase.Pretrained)
            throw new UsageException("--fine-tune trains the last layers of a pretrained base, but --base none trains a network from scratch, all of it. " +
                "Remove --fine-tune, or give --base resnet18 or a model file.");
        string? layer = cl.Get("fine-tune");
        if (layer is null && !pretrainedBase.IsResNet18)
            throw new UsageException($"--fine-tune needs the layer after which to train with --base {pretrainedBase.Option} (only resnet18 has a default): " +
                $"--fine-tune LAYER, e.g. the output of a block near the end ('fovea summary {pretrainedBase.Option}' lists the layers).");
        // A tenth of the rate as the user wrote it (the float 0.001f is 0.0010000000475, whose tenth would print as 0.000100000005).
        double topRate = double.Parse(settings.LearningRate.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        double requested = cl.GetDouble("fine-tune-lr", topRate / 10);
        float lr = (float)requested;
        if (!(requested > 0 && requested <= 10) || lr == 0)
            throw new UsageException($"Option --fine-tune-lr must be greater than 0 and at most 10; received {cl.Get("fine-tune-lr")}.");
        return new FineTuning(layer ?? PretrainedModels.ResNet18LastStageInput, cl.GetInt("fine-tune-epochs", DefaultEpochs, 1, 100_000), lr);
    }

    /// <summary>Refuses a <see cref="Layer"/> the base cannot be cut after, before any image is decoded.</summary>
    public void Check(Model baseModel, string baseOption)
    {
        if (Layer == "input") throw new UsageException("--fine-tune input would train the whole base; name a layer inside it, after which to train.");
        Node cut;
        try
        {
            cut = baseModel.GetNode(Layer);
            baseModel.CopyAfter(Layer);
        }
        catch (ArgumentException e) { throw new UsageException($"--fine-tune {Layer}: {Cli.UserMessage(e)}"); }
        if (cut.OutputShape.Length != 3)
            throw new UsageException($"--fine-tune {Layer}: the layer outputs {Tensors.Tensor.ShapeToString(cut.OutputShape)} but its outputs are kept as maps [C, H, W]; " +
                $"name a convolution, pooling or block output of --base {baseOption}.");
    }

    /// <summary>
    /// Runs the base up to <see cref="Layer"/> over each image set once, decoding the images a batch at a time on the way
    /// (only the outputs are kept), with a progress line per set.
    /// </summary>
    public HeadOutputs ComputeHeadOutputs(Model baseModel, string baseName, IDataset train, IDataset? validation, IDataset? test, bool quiet)
    {
        InMemoryDataset Run(IDataset images, string role)
        {
            var status = new StatusLine($"Decoding the {role} images through {baseName} up to {Layer}:", !quiet);
            var outputs = TransferLearning.ExtractHeadOutputs(baseModel, Layer, images, progress: status.Report);
            status.Finish($"{images.Count:N0} images");
            return outputs;
        }
        // All sets at once: a refusal after minutes spent on the training images would waste them.
        TransferLearning.CheckHeadOutputsFit(baseModel, Layer, (long)train.Count + (validation?.Count ?? 0) + (test?.Count ?? 0));
        return new HeadOutputs(Run(train, "training"), validation is null ? null : Run(validation, "validation"), test is null ? null : Run(test, "test"));
    }

    /// <summary>
    /// Fine-tunes <paramref name="model"/> (base and trained classifier, one model) on the head outputs, in place, with the
    /// optimizer of the first step at <see cref="LearningRate"/>, and evaluates it on the held-out head outputs. It writes
    /// the session's fine-tuning checkpoint after every epoch, and continues it when the session resumes a run that has one.
    /// </summary>
    public Outcome Run(Model model, HeadOutputs heads, TrainSettings settings, TrainSession session, EvaluationResult? frozenValidation, EvaluationResult? frozenTest)
    {
        var tail = new TailTrainer(this, settings);
        var clock = Stopwatch.StartNew();
        var (options, resume) = session.ForFineTuning(new FitOptions
        {
            Epochs = Epochs, BatchSize = settings.BatchSize, Seed = settings.Seed, ValidationData = heads.Validation,
            Callbacks = settings.Json ? [tail] : [tail, ConsoleProgress.ForStandardError()],
        });
        if (resume is not null && !settings.Json)
            Console.Error.WriteLine($"Resuming the fine-tuning from {session.FineTuneCheckpointPath}: {TrainSession.Progress(resume)}");
        var history = TransferLearning.FineTuneOnHeadOutputs(model, Layer, heads.Train, settings.CreateOptimizer(LearningRate), options,
            settings.CreateLoss(heads.Train), Interruption.Token, resume);
        double seconds = clock.Elapsed.TotalSeconds;
        // The trained tail on the cached outputs gives what the fine-tuned model gives on the images, without the head again.
        var trainer = tail.Trainer!;
        return new Outcome(this, history, heads.Validation is null ? null : trainer.Evaluate(heads.Validation), heads.Test is null ? null : trainer.Evaluate(heads.Test),
            trainer.Model.TrainableParameters.Sum(p => (long)p.Value.Length), seconds, frozenValidation, frozenTest);
    }

    /// <summary>The "fine_tune" object of --json.</summary>
    public static JsonNode? Describe(Outcome? outcome, Func<EvaluationResult?, JsonNode?> evaluation) => outcome is null ? null : new JsonObject
    {
        ["layer"] = outcome.Options.Layer, ["epochs"] = outcome.History.Epochs.Count, ["learning_rate"] = outcome.Options.LearningRate,
        ["trainable_parameters"] = outcome.TrainableParameters, ["seconds"] = Math.Round(outcome.Seconds, 2),
        ["frozen_validation"] = evaluation(outcome.FrozenValidation), ["frozen_test"] = evaluation(outcome.FrozenTest),
    };

    /// <summary>Keeps the trainer of the tail, to evaluate it afterwards, and announces the fine-tuning before the first progress bar.</summary>
    private sealed class TailTrainer(FineTuning options, TrainSettings settings) : ITrainingCallback
    {
        public Trainer? Trainer { get; private set; }

        public void OnTrainBegin(Trainer trainer)
        {
            Trainer = trainer;
            if (settings.Json) return;
            long trainable = trainer.Model.TrainableParameters.Sum(p => (long)p.Value.Length);
            Console.Error.WriteLine($"Fine-tuning the layers after {options.Layer} with the classifier ({trainable:N0} parameters, BatchNorm frozen): " +
                $"{options.Epochs} epoch{(options.Epochs == 1 ? "" : "s")}, batch {settings.BatchSize}, {trainer.Optimizer.Name} lr {options.LearningRate}, {settings.Threads} thread(s), seed {settings.Seed}");
        }
    }
}
