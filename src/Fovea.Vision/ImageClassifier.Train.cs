using Fovea.Data;
using Fovea.Losses;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Tensors;
using Fovea.Training;

namespace Fovea.Vision;

/// <summary>
/// Settings of <see cref="ImageClassifier.Train"/>; the defaults are those of <c>fovea train --data DIR</c> with a
/// pretrained base.
/// </summary>
public sealed record ImageClassifierTrainingOptions
{
    /// <summary>Epochs of the classifier on the features. Default 100: an epoch on cached features takes milliseconds.</summary>
    public int Epochs { get; init; } = 100;

    /// <summary>Feature vectors per optimizer step. Default 32.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Adam's learning rate. Default 0.001.</summary>
    public float LearningRate { get; init; } = 1e-3f;

    /// <summary>Share of every class held out to measure accuracy, in [0, 1); 0 holds none out. Default 0.2.</summary>
    public double ValidationFraction { get; init; } = 0.2;

    /// <summary>Seed of the split, the classifier's initial weights, dropout and the order of the batches. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// Weigh each image's loss by images / (classes · images of its class), counted on the images trained on, so a class
    /// with few images counts as much as a common one (<c>fovea train --class-weights balanced</c>). Default false.
    /// </summary>
    public bool BalanceClasses { get; init; }

    /// <summary>Called as the images go through the feature extractor, with (images done, total), on the calling thread.</summary>
    public Action<int, int>? FeatureProgress { get; init; }

    /// <summary>Callbacks of the classifier's training and of fine-tuning (e.g. <see cref="ConsoleProgress"/>). Default none.</summary>
    public IReadOnlyList<ITrainingCallback> Callbacks { get; init; } = [];

    /// <summary>
    /// When set, the second step of transfer learning: after the classifier, the feature extractor's layers after this one
    /// train with it (<see cref="TransferLearning.FineTuneOnHeadOutputs"/>, BatchNorm frozen), e.g. "ReLU347" for
    /// ResNet-18's last stage (<c>PretrainedModels.ResNet18LastStageInput</c>). Default null: the extractor stays frozen.
    /// </summary>
    public string? FineTuneAfter { get; init; }

    /// <summary>Epochs of fine-tuning. Default 5.</summary>
    public int FineTuneEpochs { get; init; } = 5;

    /// <summary>Adam's learning rate while fine-tuning. Default null: a tenth of <see cref="LearningRate"/>.</summary>
    public float? FineTuneLearningRate { get; init; }

    internal void Validate()
    {
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, $"Epochs must be at least 1. Received: {Epochs}.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, $"Batch size must be at least 1. Received: {BatchSize}.");
        if (!(LearningRate > 0) || float.IsInfinity(LearningRate))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, $"The learning rate must be a positive number. Received: {LearningRate}.");
        if (!(ValidationFraction >= 0 && ValidationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, $"The validation fraction must be in [0, 1). Received: {ValidationFraction}.");
        if (FineTuneEpochs < 1) throw new ArgumentOutOfRangeException(nameof(FineTuneEpochs), FineTuneEpochs, $"Fine-tuning epochs must be at least 1. Received: {FineTuneEpochs}.");
        if (FineTuneLearningRate is { } rate && (!(rate > 0) || float.IsInfinity(rate)))
            throw new ArgumentOutOfRangeException(nameof(FineTuneLearningRate), rate, $"The fine-tuning learning rate must be a positive number. Received: {rate}.");
        // Checked here, before the feature pass, rather than by the Fit that follows it.
        if (Callbacks is null) throw new ArgumentNullException(nameof(Callbacks), "Callbacks must be a list (empty for none). Received: null.");
        for (int i = 0; i < Callbacks.Count; i++)
            if (Callbacks[i] is null) throw new ArgumentException($"Callback {i} of {Callbacks.Count} is null.", nameof(Callbacks));
    }

    /// <summary>A tenth of the classifier's rate, as the user wrote it (the tenth of the float 0.001f would print as 0.000100000005).</summary>
    internal float FineTuneRate => FineTuneLearningRate ??
        (float)(double.Parse(LearningRate.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture) / 10);
}

/// <summary>What <see cref="ImageClassifier.Train"/> made: the classifier, its training history, and its accuracy on the images held out.</summary>
/// <param name="Classifier">Feature extractor and trained classifier in one model, with the folder's class names.</param>
/// <param name="History">Loss and accuracy per epoch (and on the held-out images, when there are some).</param>
/// <param name="Validation">Evaluation on the held-out images; null when <see cref="ImageClassifierTrainingOptions.ValidationFraction"/> is 0.</param>
public sealed record ImageClassifierTraining(ImageClassifier Classifier, History History, EvaluationResult? Validation);

public sealed partial class ImageClassifier
{
    /// <summary>
    /// Trains a classifier of the images in <paramref name="folder"/> (one subfolder per class, named after it: PNG or
    /// JPEG files of any size, as <see cref="ImageFileDataset"/> reads them) on the features of a pretrained network, in
    /// one call: the images are decoded a batch at a time and go through <paramref name="featureExtractor"/>'s base once
    /// (only their features are kept), a dense classifier (<see cref="TransferLearning.ClassifierTop"/>) trains on the
    /// features with Adam, and the two become one model, image in, class out, its base frozen; with
    /// <see cref="ImageClassifierTrainingOptions.FineTuneAfter"/> the extractor's last layers then train with the
    /// classifier. This is what <c>fovea train --data DIR [--fine-tune LAYER]</c> does; the same folder, base and settings
    /// give the same model.
    /// </summary>
    /// <example>
    /// <code>
    /// var result = ImageClassifier.Train("photos", PretrainedModels.Load("resnet18"));   // Fovea.Onnx
    /// Console.WriteLine($"held-out accuracy {result.Validation!.Accuracy:P1}");
    /// result.Classifier.Save("photos.fovea");
    /// </code>
    /// </example>
    /// <param name="folder">The class folders; a seeded <see cref="ImageClassifierTrainingOptions.ValidationFraction"/> of every class is held out.</param>
    /// <param name="featureExtractor">A network taking images [C, H, W] (C = 1 or 3), e.g. ResNet-18; its base stage gives
    /// the features (the whole network when it has no top). It is not changed.</param>
    /// <param name="options">Epochs, batch size, learning rate, split and seed; default <see cref="ImageClassifierTrainingOptions"/>'s.</param>
    /// <param name="cancellation">Stops the call promptly: during the feature pass after the batch of images in hand, with an
    /// <see cref="OperationCanceledException"/> (no image is decoded when it is cancelled already); during training after
    /// the current batch, with a <see cref="TrainingInterruptedException"/> (an <see cref="OperationCanceledException"/> too).
    /// No background work is left running either way.</param>
    /// <exception cref="ImageFolderException">The folder is not laid out as class folders of images (e.g. fewer than 2 classes).</exception>
    /// <exception cref="ArgumentException">No image can be held out (every class has one), the network takes no images or its
    /// base ends in vectors rather than maps [C, H, W] (see <see cref="TransferLearning.ExtractFeatures"/>), or
    /// <see cref="ImageClassifierTrainingOptions.FineTuneAfter"/> names no layer, one a residual connection crosses, or
    /// one whose outputs for every image would not fit in memory.</exception>
    /// <exception cref="ImageLoadException">An image cannot be decoded; the message names it.</exception>
    public static ImageClassifierTraining Train(string folder, Model featureExtractor, ImageClassifierTrainingOptions? options = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(featureExtractor);
        options ??= new ImageClassifierTrainingOptions();
        options.Validate();
        if (featureExtractor.InputShape is not [1 or 3, > 0, > 0])
            throw new ArgumentException($"Model '{featureExtractor.Name}' takes input {Tensor.ShapeToString(featureExtractor.InputShape)}; a feature extractor of images takes [C, H, W] with C = 1 or 3.", nameof(featureExtractor));
        // Features (and so the classifier's input) are maps [C, H, W]: refused before any image is decoded otherwise.
        TransferLearning.CheckFeatureShape(featureExtractor);
        int[] shape = featureExtractor.InputShape;
        var images = ImageFileDataset.Open(folder, shape[0], shape[1], shape[2]);
        var (train, validation) = options.ValidationFraction > 0 ? images.Split(options.ValidationFraction, options.Seed) : (images, null);
        if (validation is { Count: 0 })
            throw new ArgumentException($"{folder}: no image can be held out for validation, as every class has a single image. Add images, or set ValidationFraction to 0.", nameof(folder));

        // One count over both parts, as the user sees one folder.
        Action<int, int>? Report(int offset) => options.FeatureProgress is { } progress ? (n, _) => progress(offset + n, images.Count) : null;
        string? cut = options.FineTuneAfter;
        // Fine-tuning runs the extractor up to the cut once per image and keeps those outputs; the features come from them.
        InMemoryDataset? trainHeads = null, validationHeads = null;
        var featureModel = featureExtractor;
        if (cut is not null)
        {
            TransferLearning.CheckHeadOutputsFit(featureExtractor, cut, images.Count);
            featureModel = featureExtractor.CopyAfter(cut);   // refuses a cut that a residual connection crosses, before any image is decoded
            trainHeads = TransferLearning.ExtractHeadOutputs(featureExtractor, cut, train, progress: Report(0), cancellation: cancellation);
            validationHeads = validation is null ? null
                : TransferLearning.ExtractHeadOutputs(featureExtractor, cut, validation, progress: Report(train.Count), cancellation: cancellation);
        }
        // The feature pass decodes every image and runs it through the base, minutes for a large folder: it stops after
        // the batch in hand when cancelled, not only the training after it.
        var trainFeatures = TransferLearning.ExtractFeatures(featureModel, trainHeads ?? (IDataset)train, progress: cut is null ? Report(0) : null,
            cancellation: cancellation);
        var validationFeatures = validation is null ? null
            : TransferLearning.ExtractFeatures(featureModel, validationHeads ?? (IDataset)validation, progress: cut is null ? Report(train.Count) : null,
                cancellation: cancellation);

        var top = TransferLearning.ClassifierTop(featureExtractor.BaseOutput.OutputShape, images.ClassNames, options.Seed);
        var loss = new SoftmaxCrossEntropyLoss(classWeights: options.BalanceClasses ? SoftmaxCrossEntropyLoss.BalancedClassWeights(train) : null);
        var trainer = new Trainer(top, new Adam(options.LearningRate), loss);
        var history = trainer.Fit(trainFeatures, new FitOptions
        {
            Epochs = options.Epochs, BatchSize = options.BatchSize, Seed = options.Seed, ValidationData = validationFeatures,
            Callbacks = [.. options.Callbacks],
        }, cancellation);
        var evaluation = validationFeatures is null ? null : trainer.Evaluate(validationFeatures);
        var model = Model.Combine(featureExtractor, top, $"{featureExtractor.Name}-classifier");
        if (cut is not null)
        {
            var tail = new TailCapture();
            var tuning = TransferLearning.FineTuneOnHeadOutputs(model, cut, trainHeads!, new Adam(options.FineTuneRate), new FitOptions
            {
                Epochs = options.FineTuneEpochs, BatchSize = options.BatchSize, Seed = options.Seed, ValidationData = validationHeads,
                Callbacks = [tail, .. options.Callbacks],
            }, loss, cancellation: cancellation);
            history = history.Concat(tuning);
            evaluation = validationHeads is null ? null : tail.Trainer!.Evaluate(validationHeads);
        }
        model.Freeze(ModelStage.Base);
        return new ImageClassifierTraining(new ImageClassifier(model), history, evaluation);
    }

    /// <summary>Keeps the trainer of the fine-tuned tail, to evaluate it on the held-out head outputs.</summary>
    private sealed class TailCapture : ITrainingCallback
    {
        public Trainer? Trainer { get; private set; }
        public void OnTrainBegin(Trainer trainer) => Trainer = trainer;
    }

    /// <summary>Saves the model (feature extractor and classifier, class names, input normalisation) to a Fovea model file, atomically.</summary>
    /// <param name="path">The file to write, e.g. "photos.fovea"; <see cref="Load"/> reads it back.</param>
    public void Save(string path) => Serialization.ModelFile.Save(Model, path);

    /// <summary>
    /// As <see cref="Save(string)"/>, with the large weights stored as <paramref name="storage"/>: Int8 makes the file about
    /// a quarter of the size (ResNet-18 with a classifier: about 16 MB instead of 61), Float16 half. Measure the accuracy
    /// of the saved file on held-out images before shipping it.
    /// </summary>
    public void Save(string path, Serialization.WeightStorage storage) => Serialization.ModelFile.Save(Model, path, storage);
}
