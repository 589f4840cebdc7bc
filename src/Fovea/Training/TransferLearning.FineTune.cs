using Fovea.Data;
using Fovea.Layers;
using Fovea.Losses;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Tensors;

namespace Fovea.Training;

// The second step of transfer learning: after a top has been trained on frozen features, the last blocks of the base
// are trained together with it at a low learning rate. The network is cut after a named layer: the head (up to the cut)
// stays frozen and runs once per image, its outputs are kept in memory, and only the tail (after the cut, top included)
// trains on them, as FitTop does for the whole base.
public static partial class TransferLearning
{
    /// <summary>
    /// Runs the head of <paramref name="model"/>, its layers up to and including <paramref name="cutAfter"/>
    /// (<see cref="Model.CopyUntil"/>), over every image of <paramref name="images"/> in inference mode, and returns the
    /// outputs as a data set: sample i is the cut layer's output for image i (e.g. [256, 14, 14] after ResNet-18's third
    /// stage: 200 KB per image), with image i's label and the same class names. This is what
    /// <see cref="FineTuneOnHeadOutputs"/> trains on. The images are read a batch at a time as in
    /// <see cref="ExtractFeatures"/>, so with an <see cref="IBatchReadDataset"/> (image files decoded on demand) the memory
    /// needed is that of the outputs, which is what the check against free memory counts.
    /// </summary>
    /// <param name="model">The network to cut; its input shape equals the images' shape.</param>
    /// <param name="cutAfter">Name of the last layer of the head; its output must be a map [C, H, W].</param>
    /// <param name="images">Images of the model's input shape, e.g. files decoded on demand.</param>
    /// <param name="batchSize">Images per forward pass of the head; default 4 (see <see cref="ExtractFeatures"/>).</param>
    /// <param name="progress">Called after each batch with (images done, total), on the calling thread; optional.</param>
    /// <param name="cancellation">Stops the pass after the batch in hand, with an <see cref="OperationCanceledException"/>
    /// (see <see cref="ExtractFeatures"/>).</param>
    /// <exception cref="ArgumentException">No such layer, its output is not [C, H, W], the shapes do not fit, or the outputs
    /// would take more than half of the memory free (the message names the layer, the sizes and how many images fit).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> was cancelled.</exception>
    public static InMemoryDataset ExtractHeadOutputs(Model model, string cutAfter, IDataset images, int batchSize = 4, Action<int, int>? progress = null,
        CancellationToken cancellation = default) =>
        ExtractHeadOutputsWithin(model, cutAfter, images, batchSize, progress, availableBytes: null, cancellation);

    /// <summary>
    /// Checks, before any work, that the outputs of <paramref name="model"/> up to <paramref name="cutAfter"/> for
    /// <paramref name="images"/> images fit in half of the memory free — the check <see cref="ExtractHeadOutputs"/> makes
    /// for one image set — so that a caller with several sets (training, validation, test) can check their total at once.
    /// </summary>
    /// <exception cref="ArgumentException">No such layer, its output is not [C, H, W], or the outputs would not fit (the
    /// message names the layer, the sizes and how many images fit).</exception>
    public static void CheckHeadOutputsFit(Model model, string cutAfter, long images)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(cutAfter);
        CheckHeadOutputsFit(CheckCut(model, cutAfter), images, availableBytes: null);
    }

    /// <summary>As <see cref="ExtractHeadOutputs"/>, planning against <paramref name="availableBytes"/> of free memory (null: what the GC reports).</summary>
    internal static InMemoryDataset ExtractHeadOutputsWithin(Model model, string cutAfter, IDataset images, int batchSize, Action<int, int>? progress, long? availableBytes,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(cutAfter);
        ArgumentNullException.ThrowIfNull(images);
        var cut = CheckCut(model, cutAfter);
        CheckHeadOutputsFit(cut, images.Count, availableBytes);
        var head = model.CopyUntil(cutAfter, $"{model.Name}-until-{cutAfter}");
        return ExtractFeatures(head, images, batchSize, progress, cancellation);
    }

    /// <summary>
    /// Fine-tunes the layers of <paramref name="model"/> after <paramref name="cutAfter"/> (the tail: the last blocks of the
    /// base and the top) on <paramref name="train"/>, with the layers up to the cut (the head) frozen: the head runs once per
    /// image (<see cref="ExtractHeadOutputs"/>), then the tail trains on its cached outputs, and the trained weights are
    /// copied into <paramref name="model"/>'s layers, so it stays one model, image in, class out, that saves and exports
    /// like any other. Validation images (<see cref="FitOptions.ValidationData"/>) go through the head once as well.
    /// See <see cref="FineTuneOnHeadOutputs"/> for what trains.
    /// </summary>
    /// <param name="model">A trained network, e.g. a pretrained base with a top trained on its frozen features
    /// (<see cref="FitTop"/>, or <see cref="Model.Combine"/> of base and top).</param>
    /// <param name="cutAfter">Last layer of the frozen head, e.g. "ReLU347" (the input of ResNet-18's last stage). No
    /// residual or skip connection may cross the cut (see <see cref="Model.CopyAfter"/>).</param>
    /// <param name="train">Training images of the model's input shape.</param>
    /// <param name="optimizer">Optimizer of the tail's weights, at a low rate (e.g. Adam 1e-4, a tenth of the top's):
    /// larger steps quickly undo what the pretrained layers learned.</param>
    /// <param name="options">Epochs, batch size, seed, validation, schedule, callbacks; <see cref="FitOptions.Augmentation"/> must be null.</param>
    /// <param name="loss">Objective; default softmax cross-entropy.</param>
    /// <param name="headBatchSize">Images per forward pass of the head; default 4.</param>
    /// <param name="cancellation">Stops the fine-tuning after the current batch (see <see cref="FineTuneOnHeadOutputs"/>); while
    /// the head runs over the images, after the batch in hand with an <see cref="OperationCanceledException"/>.</param>
    /// <param name="resumeFrom">A checkpoint the fine-tuning wrote (see <see cref="FineTuneOnHeadOutputs"/>) to continue; default none.</param>
    /// <returns>The per-epoch history of the fine-tuning.</returns>
    /// <exception cref="ArgumentException">A bad cut (see <see cref="Model.CopyAfter"/>), outputs that do not fit in memory
    /// (see <see cref="ExtractHeadOutputs"/>), augmentation, or a checkpoint of another run.</exception>
    public static History FineTune(Model model, string cutAfter, IDataset train, Optimizer optimizer, FitOptions options, Loss? loss = null, int headBatchSize = 4,
        CancellationToken cancellation = default, TrainingCheckpoint? resumeFrom = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(cutAfter);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        CheckNoAugmentation(options);
        // Refused before any image goes through the head: bad options, a bad cut, or outputs that cannot all be kept.
        options.Validate();
        var cut = CheckCut(model, cutAfter);
        model.CopyAfter(cutAfter);
        CheckHeadOutputsFit(cut, train.Count + (options.ValidationData?.Count ?? 0), options.MemoryLimitBytes);
        var head = ExtractHeadOutputsWithin(model, cutAfter, train, headBatchSize, null, long.MaxValue, cancellation);
        var validation = options.ValidationData is null ? null : ExtractHeadOutputsWithin(model, cutAfter, options.ValidationData, headBatchSize, null, long.MaxValue, cancellation);
        return FineTuneOnHeadOutputs(model, cutAfter, head, optimizer, options with { ValidationData = validation }, loss, cancellation, resumeFrom);
    }

    /// <summary>
    /// As <see cref="FineTune"/>, on head outputs already computed by <see cref="ExtractHeadOutputs"/> (e.g. kept to also
    /// compute the frozen features from them, so the head runs once per image for both steps of transfer learning):
    /// <paramref name="headOutputs"/> and <see cref="FitOptions.ValidationData"/> hold the outputs of
    /// <paramref name="cutAfter"/>. A copy of the tail (<see cref="Model.CopyAfter"/>) trains with every layer trainable
    /// except BatchNorm, which stays frozen: its running statistics and scale and shift are kept, as the small batches of a
    /// fine-tuning set would give poor statistics and change what the following pretrained layers see. The trained weights
    /// are then copied into <paramref name="model"/>; the head's weights and the frozen state of every layer of
    /// <paramref name="model"/> are left as they were. Callbacks receive a trainer of the tail alone.
    /// With <see cref="FitOptions.CheckpointPath"/> the checkpoints written are the tail's (its weights, the optimizer's
    /// moments, the position in the run); <paramref name="resumeFrom"/> continues one, on the same head outputs, and the
    /// result equals an uninterrupted fine-tuning's bit for bit at the same <see cref="Parallelism.Degree"/>.
    /// </summary>
    /// <param name="model">The network to fine-tune (see <see cref="FineTune"/>).</param>
    /// <param name="cutAfter">Last layer of the frozen head.</param>
    /// <param name="headOutputs">Outputs of <paramref name="cutAfter"/> per training image [C, H, W], with labels.</param>
    /// <param name="optimizer">Optimizer of the tail's weights, at a low rate (e.g. Adam 1e-4).</param>
    /// <param name="options">As for <see cref="Trainer.Fit(IDataset, FitOptions, CancellationToken)"/>; <see cref="FitOptions.Augmentation"/> must be null.</param>
    /// <param name="loss">Objective; default softmax cross-entropy.</param>
    /// <param name="cancellation">Stops the fine-tuning after the current batch with a <see cref="TrainingInterruptedException"/>;
    /// <paramref name="model"/> then keeps the weights it had (the tail's are copied back only when every epoch is done).</param>
    /// <param name="resumeFrom">A checkpoint of this fine-tuning (written through <see cref="FitOptions.CheckpointPath"/>) to
    /// continue, as <see cref="Trainer.Fit(IDataset, FitOptions, TrainingCheckpoint, CancellationToken)"/> does; default none.</param>
    /// <returns>The per-epoch history of the fine-tuning (with <paramref name="resumeFrom"/>, the checkpoint's epochs first).</returns>
    /// <exception cref="ArgumentException">A bad cut, head outputs of another shape than the cut layer's, augmentation, or a
    /// checkpoint of another run (the message names each mismatch).</exception>
    public static History FineTuneOnHeadOutputs(Model model, string cutAfter, IDataset headOutputs, Optimizer optimizer, FitOptions options, Loss? loss = null,
        CancellationToken cancellation = default, TrainingCheckpoint? resumeFrom = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(cutAfter);
        ArgumentNullException.ThrowIfNull(headOutputs);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(options);
        CheckNoAugmentation(options);
        var tail = model.CopyAfter(cutAfter, $"{model.Name}-after-{cutAfter}");
        foreach (var (data, role) in new[] { (headOutputs, "training"), (options.ValidationData, "validation") })
            if (data is not null && !data.SampleShape.AsSpan().SequenceEqual(tail.InputShape))
                throw new ArgumentException($"The {role} samples have shape {Tensor.ShapeToString(data.SampleShape)} but layer '{cutAfter}' of model '{model.Name}' " +
                    $"outputs {Tensor.ShapeToString(tail.InputShape)}; compute them with TransferLearning.ExtractHeadOutputs(model, \"{cutAfter}\", images).");
        foreach (var layer in tail.Layers)
        {
            if (layer is BatchNorm2D) layer.Freeze();
            else layer.Unfreeze();
        }
        var trainer = new Trainer(tail, optimizer, loss);
        var history = resumeFrom is null ? trainer.Fit(headOutputs, options, cancellation) : trainer.Fit(headOutputs, options, resumeFrom, cancellation);
        model.LoadLayerWeights(tail);
        return history;
    }

    private static void CheckNoAugmentation(FitOptions options)
    {
        if (options.Augmentation is not null)
            throw new ArgumentException("Augmentation cannot be used with cached head outputs: it changes the images, and so the outputs, every epoch. " +
                "Set FitOptions.Augmentation to null, or unfreeze the layers and train the whole model with Trainer.Fit.", nameof(options));
    }

    /// <summary>The cut node, refusing "input" and outputs that are not maps [C, H, W] (a cache holds images of that shape).</summary>
    private static Node CheckCut(Model model, string cutAfter)
    {
        if (cutAfter == "input")
            throw new ArgumentException($"Cutting model '{model.Name}' after 'input' leaves no head to freeze; name a layer, or train the whole model with Trainer.Fit.", nameof(cutAfter));
        var cut = model.GetNode(cutAfter);
        if (cut.OutputShape.Length != 3)
            throw new ArgumentException($"Layer '{cutAfter}' of model '{model.Name}' outputs {Tensor.ShapeToString(cut.OutputShape)}; the head's outputs are kept as maps [C, H, W], " +
                "so cut after a convolution, pooling or residual block.", nameof(cutAfter));
        return cut;
    }

    /// <summary>
    /// Refuses, before any work, head outputs of <paramref name="images"/> images that would take more than half of the
    /// memory still free (the rest is for the training step and the images themselves).
    /// </summary>
    private static void CheckHeadOutputsFit(Node cut, long images, long? availableBytes)
    {
        long perImage = sizeof(float) * cut.OutputShape.Aggregate(1L, (a, d) => a * d);
        long needed = perImage * images;
        long free = availableBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes - GC.GetTotalMemory(false);
        long budget = free / 2;
        if (needed <= budget) return;
        throw new ArgumentException(
            $"Fine-tuning after '{cut.Name}' keeps its output {Tensor.ShapeToString(cut.OutputShape)} ({perImage / 1024.0:N0} KB) for each image in memory: " +
            $"{images:N0} images need {Gigabytes(needed)}, more than half of the {Gigabytes(Math.Max(0, free))} free. " +
            $"Cut after a later layer, whose output is smaller, or use at most {Math.Max(0, budget / perImage):N0} images.");
    }

    private static string Gigabytes(long bytes) => $"{bytes / (1024.0 * 1024 * 1024):0.##} GB";
}
