using Fovea.Models;
using Fovea.Serialization;
using Fovea.Tensors;
using SkiaSharp;

namespace Fovea.Vision;

/// <summary>
/// A trained classifier ready to label pictures in an app: image files, encoded bytes (an upload) or bitmaps go in,
/// class names with probabilities come out, best first. Images are prepared exactly as <c>fovea train</c> and
/// <c>fovea predict</c> prepare them (<see cref="ImageLoader"/>: upright by EXIF orientation, converted to the model's
/// channels, resized to its input size, scaled to [0, 1]; the model applies its own input normalisation), and run
/// through the model's <see cref="InferenceModel"/> (BatchNorm folded, fused convolutions). Safe to share: every method
/// may be called from many threads at once (e.g. the requests of a web server).
/// </summary>
/// <example>
/// <code>
/// var classifier = ImageClassifier.Load("photos.fovea");          // once, at start-up
/// var best = classifier.Classify("holiday.jpg")[0];
/// Console.WriteLine($"{best.ClassName} {best.Probability:P1}");
/// </code>
/// </example>
public sealed partial class ImageClassifier
{
    /// <summary>Images decoded and run through the model together by <see cref="ClassifyMany"/>.</summary>
    public const int DefaultBatchSize = ImageBatches.DefaultBatchSize;

    private readonly InferenceModel _engine;
    private readonly string[] _classNames;
    // Explanations run the model itself (with gradients), not the thread-safe inference snapshot: one at a time.
    private readonly object _explainGate = new();

    /// <summary>Wraps <paramref name="model"/>, which takes images [C, H, W] (C = 1 or 3) and outputs class scores.</summary>
    /// <exception cref="ArgumentException">The model does not take images, or its outputs are not class scores (see
    /// <see cref="NetworkVisualizer.HasClassScores"/>): a feature extractor such as ResNet-18 without a classifier.</exception>
    public ImageClassifier(Model model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.InputShape is not [1 or 3, > 0, > 0])
            throw new ArgumentException($"Model '{model.Name}' takes input {Tensor.ShapeToString(model.InputShape)}; an image classifier takes images [C, H, W] with C = 1 (grey) or 3 (RGB).", nameof(model));
        // Scores shaped as classes but named wrongly: say so, rather than call the model a feature extractor.
        var scoreShape = NetworkVisualizer.ScoreShape(model);
        if (scoreShape is [_] or [_, 1, 1] && scoreShape[0] is var k && model.ClassNames.Count > 0 && model.ClassNames.Count != k)
            throw new ArgumentException($"Model '{model.Name}' outputs {Tensor.ShapeToString(model.OutputShape)}, {k} score(s), but has {model.ClassNames.Count} class name(s) " +
                $"({string.Join(", ", model.ClassNames.Take(5))}{(model.ClassNames.Count > 5 ? ", ..." : "")}); set one name per score, or none.", nameof(model));
        if (!NetworkVisualizer.HasClassScores(model))
            throw new ArgumentException($"Model '{model.Name}' outputs {Tensor.ShapeToString(model.OutputShape)}, which are not class scores " +
                $"(a vector [K] or [K, 1, 1] from a Dense or Softmax layer, or with K class names); a feature extractor needs a classifier on top (see TransferLearning).", nameof(model));
        Model = model;
        _engine = model.ToInference();
        int classes = NetworkVisualizer.ScoreShape(model)[0];
        _classNames = model.ClassNames.Count == classes
            ? [.. model.ClassNames]
            : Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>Loads a Fovea model file (an ONNX model: <c>new ImageClassifier(OnnxImporter.Import(path))</c>).</summary>
    /// <exception cref="ArgumentException">The model is not an image classifier (see the constructor).</exception>
    public static ImageClassifier Load(string modelPath) => new(ModelFile.Load(modelPath));

    /// <summary>The model behind the classifier.</summary>
    public Model Model { get; }

    /// <summary>The class names, in output order: the model's, or "0", "1", ... when it names none.</summary>
    public IReadOnlyList<string> ClassNames => _classNames;

    /// <summary>Image channels the model takes: 1 (grey) or 3 (RGB).</summary>
    public int Channels => Model.InputShape[0];

    /// <summary>Image height the model takes; every image is resized to it.</summary>
    public int Height => Model.InputShape[1];

    /// <summary>Image width the model takes; every image is resized to it.</summary>
    public int Width => Model.InputShape[2];

    /// <summary>The <paramref name="top"/> most probable classes of an image file (PNG, JPEG, ...), best first.</summary>
    /// <param name="imagePath">The image file; any size, colour or grey.</param>
    /// <param name="top">How many classes to return (at most the number of classes; default 5).</param>
    /// <exception cref="ImageLoadException">The file is missing, not an image, or damaged; the message names it.</exception>
    public IReadOnlyList<ClassProbability> Classify(string imagePath, int top = 5)
    {
        CheckTop(top);
        return Rank(Probabilities(ImageLoader.Load(imagePath, Channels, Height, Width)), 0, top);
    }

    /// <summary>The <paramref name="top"/> most probable classes of an encoded image held in memory, best first.</summary>
    /// <param name="encodedImage">The bytes of a PNG or JPEG file (an upload, a resource).</param>
    /// <param name="name">What an error message calls the image.</param>
    /// <param name="top">How many classes to return (default 5).</param>
    /// <exception cref="ImageLoadException">The bytes are not a readable image; the message names <paramref name="name"/>.</exception>
    public IReadOnlyList<ClassProbability> Classify(byte[] encodedImage, string name = "image", int top = 5)
    {
        CheckTop(top);
        return Rank(Probabilities(ImageLoader.LoadEncoded(encodedImage, name, Channels, Height, Width)), 0, top);
    }

    /// <summary>The <paramref name="top"/> most probable classes of a decoded bitmap (drawn upright as it is), best first.</summary>
    public IReadOnlyList<ClassProbability> Classify(SKBitmap image, int top = 5)
    {
        CheckTop(top);
        return Rank(Probabilities(ImageLoader.FromBitmap(image, Channels, Height, Width)), 0, top);
    }

    /// <summary>
    /// Classifies many image files: decoded on all cores and run through the model <paramref name="batchSize"/> at a time,
    /// so memory stays bounded however many there are. Results are in the order of <paramref name="imagePaths"/> and
    /// equal <see cref="Classify(string, int)"/>'s for each file (up to float rounding of the batched product).
    /// </summary>
    /// <param name="imagePaths">The image files.</param>
    /// <param name="top">How many classes per image (default 5).</param>
    /// <param name="batchSize">Images per batch at most (default <see cref="DefaultBatchSize"/>; fewer for large inputs when that
    /// many would not fit in half of the memory).</param>
    /// <exception cref="ImageLoadException">A file cannot be read; the message names the first such file.</exception>
    public IReadOnlyList<IReadOnlyList<ClassProbability>> ClassifyMany(IReadOnlyList<string> imagePaths, int top = 5, int batchSize = DefaultBatchSize)
    {
        ArgumentNullException.ThrowIfNull(imagePaths);
        CheckTop(top);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"Batch size must be at least 1. Received: {batchSize}.");
        var results = new IReadOnlyList<ClassProbability>[imagePaths.Count];
        foreach (var batch in ImageBatches.Read(imagePaths, Channels, Height, Width, Fovea.Training.Trainer.InferenceBatchSize(Model, batchSize)))
        {
            var probabilities = Probabilities(batch.Images);
            for (int i = 0; i < batch.Files.Count; i++) results[batch.Start + i] = Rank(probabilities, i, top);
        }
        return results;
    }

    /// <summary>
    /// Why the model ranks a class high for an image file: Grad-CAM (<see cref="GradCam"/>) of
    /// <paramref name="classIndex"/> (default: the most probable class) at <paramref name="layerName"/> (default: the last
    /// convolutional block, <see cref="GradCam.DefaultLayer"/>), with the picture to show a user: the image as the model
    /// sees it, the heat map, and the two overlaid, the strongest place circled.
    /// </summary>
    /// <remarks>
    /// Runs the model with gradients on the calling thread, a few times the cost of <see cref="Classify(string, int)"/>;
    /// calls on one classifier take turns (classifying goes on meanwhile). Dispose the result's picture when done.
    /// It runs the model itself, while classifying runs the snapshot taken when the classifier was made: after changing
    /// the model's weights, make a new classifier so the two agree.
    /// </remarks>
    /// <exception cref="ImageLoadException">The file is missing, not an image, or damaged; the message names it.</exception>
    /// <exception cref="ArgumentException">No such class or layer, or a model without convolutions; the message names it.</exception>
    public ImageExplanation Explain(string imagePath, int? classIndex = null, string? layerName = null) =>
        Explain(ImageLoader.Load(imagePath, Channels, Height, Width), classIndex, layerName);

    /// <summary>As <see cref="Explain(string, int?, string?)"/>, for an encoded image held in memory (an upload).</summary>
    public ImageExplanation Explain(byte[] encodedImage, string name = "image", int? classIndex = null, string? layerName = null) =>
        Explain(ImageLoader.LoadEncoded(encodedImage, name, Channels, Height, Width), classIndex, layerName);

    /// <summary>As <see cref="Explain(string, int?, string?)"/>, for a decoded bitmap.</summary>
    public ImageExplanation Explain(SKBitmap image, int? classIndex = null, string? layerName = null) =>
        Explain(ImageLoader.FromBitmap(image, Channels, Height, Width), classIndex, layerName);

    private ImageExplanation Explain(Tensor image, int? classIndex, string? layerName)
    {
        if (classIndex is { } k && (uint)k >= (uint)_classNames.Length)
            throw new ArgumentOutOfRangeException(nameof(classIndex), k, $"Class index must be in [0, {_classNames.Length}) (classes: {string.Join(", ", _classNames)}). Received: {k}.");
        GradCamResult cam;
        lock (_explainGate) cam = GradCam.Compute(Model, image, classIndex, layerName);
        return new ImageExplanation(new ClassProbability(cam.ClassIndex, _classNames[cam.ClassIndex], cam.Probability), cam, GradCam.Render(cam, image));
    }

    /// <summary>Probabilities [N, classes] of images [C, H, W] or [N, C, H, W].</summary>
    private float[] Probabilities(Tensor images)
    {
        var batch = images.Rank == 3 ? images.View(1, Channels, Height, Width) : images;
        return _engine.PredictProbabilities(batch).ToArray();
    }

    private IReadOnlyList<ClassProbability> Rank(float[] probabilities, int image, int top)
    {
        int classes = _classNames.Length;
        var row = probabilities.AsSpan(image * classes, classes).ToArray();
        return Enumerable.Range(0, classes).OrderByDescending(k => row[k]).ThenBy(k => k).Take(Math.Min(top, classes))
            .Select(k => new ClassProbability(k, _classNames[k], row[k])).ToArray();
    }

    private static void CheckTop(int top)
    {
        if (top < 1) throw new ArgumentOutOfRangeException(nameof(top), top, $"The number of classes to return must be at least 1. Received: {top}.");
    }
}

/// <summary>What <see cref="ImageClassifier.Explain(string, int?, string?)"/> found: the class explained, its Grad-CAM, and the picture.</summary>
/// <param name="Class">The class explained, with the model's probability for it.</param>
/// <param name="GradCam">The heat map at the layer's resolution and at the input's, scaled to [0, 1], and its peak.</param>
/// <param name="Picture">Input, heat map and overlay side by side (<see cref="Picture.EncodePng"/>, <see cref="Picture.SavePng"/>).</param>
public sealed record ImageExplanation(ClassProbability Class, GradCamResult GradCam, Picture Picture) : IDisposable
{
    /// <summary>Releases the picture's pixels.</summary>
    public void Dispose() => Picture.Dispose();
}
