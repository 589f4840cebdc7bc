using Fovea.Data;
using Fovea.Losses;
using Fovea.Models;
using Fovea.Optimizers;

namespace Fovea.Training;

/// <summary>
/// Transfer learning with a frozen base (e.g. a pretrained ResNet-18): the base runs once per image, its outputs (the
/// features) are kept in memory, and only the small top model is trained on them, for as many epochs as wanted at the
/// cost of the top alone. The pieces, for two ways of working:
/// <list type="bullet">
/// <item>separate models: <see cref="ExtractFeatures"/> with the base, train any top model on the features with
/// <see cref="Trainer"/>, then <see cref="Model.Combine"/> base and top into one model that classifies images;</item>
/// <item>one model with a frozen base and a top: <see cref="FitTop"/> does all of that and writes the trained weights
/// into the model's top layers.</item>
/// </list>
/// Training the top on cached features gives the result of training the whole model with the base frozen: frozen
/// BatchNorm uses its running statistics, so a base without dropout computes the same features every epoch. What it
/// cannot do is augmentation, which changes the images, and so the features, every epoch.
/// </summary>
public static partial class TransferLearning
{
    /// <summary>
    /// Runs <paramref name="model"/>'s base stage (up to <see cref="Model.BaseOutput"/>; the whole model when it has no
    /// top) over every sample of <paramref name="data"/> in inference mode, in batches (each batch uses every core set by
    /// <see cref="Parallelism.Degree"/>). Returns the features as a data set: sample i holds the base output of image i
    /// (shape <c>model.BaseOutput.OutputShape</c>, e.g. [512, 1, 1] for ResNet-18), with image i's label and the same
    /// class names. Memory: 4 bytes per feature value, 2 KB per image for ResNet-18, plus three batches of images in
    /// float32: the images are read a batch ahead on a background task (<see cref="DataLoader"/>), so a data set that reads
    /// them on demand (<see cref="IBatchReadDataset"/>, e.g. Fovea.Vision's <c>ImageFileDataset</c>, which decodes image
    /// files) is never held in memory whole: its next batch is decoded while the base runs on the current one. The same
    /// values in the same batches give the same features bit for bit, however the images are stored.
    /// </summary>
    /// <param name="model">A model whose input shape equals the samples' shape.</param>
    /// <param name="data">Images to run through the base, read in order, <paramref name="batchSize"/> at a time.</param>
    /// <param name="batchSize">Images per forward pass; default 4. The activations of a whole batch are held during its pass
    /// (for ResNet-18 at 224 × 224 about 80 MB per image: peak memory of fovea train 0.6 GB at 4, 1.6 GB at 16, 2.8 GB at 32),
    /// while larger batches were not faster on a 2-core machine.</param>
    /// <param name="progress">Called after each batch with (images done, total), on the calling thread; optional.</param>
    /// <param name="cancellation">Stops the pass after the batch in hand (none when already cancelled), with an
    /// <see cref="OperationCanceledException"/>; the background task reading the images has ended when it is thrown.</param>
    /// <exception cref="ArgumentException">The images do not fit the model, or its base outputs no maps [C, H, W] (e.g. it ends
    /// in a Flatten or in a GlobalAvgPool2D without keepDims), refused before any image is read.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> was cancelled.</exception>
    public static InMemoryDataset ExtractFeatures(Model model, IDataset data, int batchSize = 4, Action<int, int>? progress = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"Batch size must be at least 1. Received: {batchSize}.");
        if (!data.SampleShape.AsSpan().SequenceEqual(model.InputShape))
            throw new ArgumentException($"The images have shape {Tensors.Tensor.ShapeToString(data.SampleShape)} but model '{model.Name}' expects {Tensors.Tensor.ShapeToString(model.InputShape)}.");
        if (data.Count == 0) throw new ArgumentException("There are no images to extract features from.", nameof(data));
        var boundary = CheckFeatureShape(model);
        int featureSize = boundary.OutputShape.Aggregate(1, (a, b) => a * b);
        long total = (long)data.Count * featureSize;
        if (total > Array.MaxLength)
            throw new ArgumentException($"{data.Count:N0} images × {featureSize:N0} features ({total:N0} values) do not fit in one array; extract in parts.");
        // Before the loader starts reading: a cancelled call decodes nothing.
        cancellation.ThrowIfCancellationRequested();
        var features = new float[total];
        var labels = new int[data.Count];
        int done = 0;
        // BatchNorm folded, ReLU and residual adds fused, filters packed once: the frozen base as a fast inference model.
        var baseModel = model.ToInference(boundary);
        // The loader copies the next batch of images on its background task while the base runs on this one.
        using var loader = new DataLoader(data, batchSize, shuffle: false);
        foreach (var batch in loader.ForEpoch(0))
        {
            var output = baseModel.Predict(batch.Images);
            output.Span.CopyTo(features.AsSpan(done * featureSize, batch.Count * featureSize));
            batch.Labels.CopyTo(labels, done);
            done += batch.Count;
            progress?.Invoke(done, data.Count);
            // Checked here rather than at the top of the loop: the next MoveNext would first wait for the next batch to
            // be read (image files decoded). Leaving the loop disposes the loader, which waits for its background task.
            cancellation.ThrowIfCancellationRequested();
        }
        return new InMemoryDataset(features, labels, boundary.OutputShape, data.ClassNames);
    }

    /// <summary>
    /// The node whose outputs <see cref="ExtractFeatures"/> keeps (<see cref="Model.BaseOutput"/>), checked before any image
    /// goes through the base: a data set holds maps [C, H, W], so a base that ends in vectors is refused, naming its end.
    /// </summary>
    internal static Node CheckFeatureShape(Model model)
    {
        var boundary = model.BaseOutput;
        if (boundary.OutputShape is not [> 0, > 0, > 0])
            throw new ArgumentException($"The base of model '{model.Name}' outputs {Tensors.Tensor.ShapeToString(boundary.OutputShape)} per sample (at '{boundary.Name}'); " +
                "features are kept as maps [C, H, W], so end the base with a convolution or pooling layer, e.g. GlobalAvgPool2D(keepDims: true), and put Flatten in the top.", nameof(model));
        return boundary;
    }

    /// <summary>
    /// The classifier that <c>fovea train</c> and <c>ImageClassifier.Train</c> put on frozen features: Flatten, Dropout 0.2
    /// (against the overfitting a few hundred images invite), and a Dense layer with one output per class; 512 × K + K
    /// weights on ResNet-18's [512, 1, 1] features.
    /// </summary>
    /// <param name="featureShape">Shape of one sample of features, e.g. <c>baseModel.BaseOutput.OutputShape</c>.</param>
    /// <param name="classNames">The classes, in label order; at least 2.</param>
    /// <param name="seed">Seed of the Dense layer's initial weights and of dropout.</param>
    /// <exception cref="ArgumentException">Fewer than 2 classes.</exception>
    public static Sequential ClassifierTop(int[] featureShape, IReadOnlyList<string> classNames, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(featureShape);
        ArgumentNullException.ThrowIfNull(classNames);
        if (classNames.Count < 2)
            throw new ArgumentException($"A classifier needs at least 2 classes. Received: {classNames.Count}.", nameof(classNames));
        var top = new Sequential(featureShape, "classifier", seed).Top(new Layers.Flatten(), new Layers.Dropout(0.2f), new Layers.Dense(classNames.Count));
        top.ClassNames = classNames.ToArray();
        return top;
    }

    /// <summary>
    /// Trains the top stage of <paramref name="model"/> on features of <paramref name="train"/> computed once by its frozen
    /// base, then copies the trained weights into the model's top layers. Validation data (<see cref="FitOptions.ValidationData"/>,
    /// images) also goes through the base once; <see cref="FitOptions.ValidationSplit"/> splits the features as it would the images.
    /// Callbacks receive a trainer of the top model alone (a checkpoint would save only the top).
    /// </summary>
    /// <param name="model">A model with a frozen base (<c>model.Freeze(ModelStage.Base)</c>) and a top stage.</param>
    /// <param name="train">Training images of the model's input shape.</param>
    /// <param name="optimizer">Optimizer of the top's weights.</param>
    /// <param name="options">Epochs, batch size, seed, validation, schedule, callbacks; <see cref="FitOptions.Augmentation"/> must be null.</param>
    /// <param name="loss">Objective; default softmax cross-entropy.</param>
    /// <param name="featureBatchSize">Images per forward pass of the base; default 4 (see <see cref="ExtractFeatures"/>).</param>
    /// <returns>The per-epoch history of the top's training.</returns>
    /// <exception cref="InvalidOperationException">The base has trainable weights, or the model has no top.</exception>
    /// <exception cref="ArgumentException">Augmentation was requested.</exception>
    public static History FitTop(Model model, IDataset train, Optimizer optimizer, FitOptions options, Loss? loss = null, int featureBatchSize = 4)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        // Bad options are refused now, not by the Fit after the whole feature pass.
        options.Validate();
        if (options.Augmentation is not null)
            throw new ArgumentException("Augmentation cannot be used with cached features: it changes the images, and so the features, every epoch. " +
                "Set FitOptions.Augmentation to null, or train the whole model with Trainer.Fit.", nameof(options));
        if (model.StageLayers(ModelStage.Base).Any(l => l.Trainable && l.ParameterCount > 0))
            throw new InvalidOperationException($"The base of model '{model.Name}' has trainable weights; freeze it first (model.Freeze(ModelStage.Base)): " +
                "its features are computed once, so a trainable base would never learn.");
        var top = model.CopyTop();
        var features = ExtractFeatures(model, train, featureBatchSize);
        var validation = options.ValidationData is null ? null : ExtractFeatures(model, options.ValidationData, featureBatchSize);
        var history = new Trainer(top, optimizer, loss).Fit(features, options with { ValidationData = validation });
        model.LoadTopWeights(top);
        return history;
    }
}
