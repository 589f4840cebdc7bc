using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;
using Fovea.Tensors;
using SkiaSharp;

namespace Fovea.Vision.Tests;

/// <summary>
/// ImageClassifier: files, bytes and bitmaps give what the model computes on the image as ImageLoader prepares it;
/// batched, concurrent and single calls agree; models that are no image classifiers and unreadable images are refused
/// with messages naming them.
/// </summary>
public sealed class ImageClassifierTests : IDisposable
{
    private readonly SyntheticFolder _folder = new(imagesPerClass: 3, seed: 11);
    private readonly Model _model;

    public ImageClassifierTests()
    {
        _model = Synthetic.TinyCnn(3, 24, SyntheticFolder.ClassNames.Length);
        _model.ClassNames = SyntheticFolder.ClassNames;
        _model.Normalization = new InputNormalization([0.5f, 0.4f, 0.3f], [0.2f, 0.25f, 0.3f]);
        // Weights that separate the classes a little, so the ranking is not a tie of near-equal probabilities.
        foreach (var p in _model.Parameters) { var rng = new Random(p.Value.Length); foreach (ref float v in p.Value.Span) v = (float)(rng.NextDouble() - 0.5); }
    }

    public void Dispose() => _folder.Dispose();

    private float[] Expected(string path)
    {
        var image = ImageLoader.Load(path, 3, 24, 24);
        var scores = _model.Predict(image.View(1, 3, 24, 24)).ToArray();
        double max = scores.Max(), sum = scores.Sum(s => Math.Exp(s - max));
        return scores.Select(s => (float)(Math.Exp(s - max) / sum)).ToArray();
    }

    [Fact]
    public void A_file_gets_the_models_probabilities_best_first_with_class_names()
    {
        var classifier = new ImageClassifier(_model);
        Assert.Equal(SyntheticFolder.ClassNames, classifier.ClassNames);
        Assert.Equal((3, 24, 24), (classifier.Channels, classifier.Height, classifier.Width));
        foreach (var (path, _) in _folder.Files)
        {
            var expected = Expected(path);
            var result = classifier.Classify(path, top: 3);
            Assert.Equal(3, result.Count);
            Assert.Equal(Enumerable.Range(0, 3).OrderByDescending(k => expected[k]), result.Select(r => r.ClassIndex));
            foreach (var r in result)
            {
                Assert.Equal(SyntheticFolder.ClassNames[r.ClassIndex], r.ClassName);
                Assert.Equal(expected[r.ClassIndex], r.Probability, 5);
            }
            Assert.Single(classifier.Classify(path, top: 1));
            Assert.Equal(3, classifier.Classify(path, top: 50).Count); // more than there are classes: all of them
        }
    }

    [Fact]
    public void Bytes_bitmaps_and_files_give_the_same_result()
    {
        var classifier = new ImageClassifier(_model);
        foreach (var (path, _) in _folder.Files.Take(4))
        {
            var fromFile = classifier.Classify(path);
            var fromBytes = classifier.Classify(File.ReadAllBytes(path), Path.GetFileName(path));
            Assert.Equal(fromFile, fromBytes);
            using var bitmap = SKBitmap.Decode(path);
            var fromBitmap = classifier.Classify(bitmap);
            Assert.Equal(fromFile.Select(r => r.ClassIndex), fromBitmap.Select(r => r.ClassIndex));
        }
    }

    [Fact]
    public void Many_files_in_batches_and_from_many_threads_equal_one_at_a_time()
    {
        var classifier = new ImageClassifier(_model);
        var paths = _folder.Files.Select(f => f.Path).ToArray(); // 9 files: batches of 4, 4 and 1
        var single = paths.Select(p => classifier.Classify(p, top: 3)).ToArray();
        var batched = classifier.ClassifyMany(paths, top: 3, batchSize: 4);
        Assert.Equal(paths.Length, batched.Count);
        for (int i = 0; i < paths.Length; i++)
        {
            Assert.Equal(single[i].Select(r => r.ClassIndex), batched[i].Select(r => r.ClassIndex));
            for (int k = 0; k < 3; k++) Assert.Equal(single[i][k].Probability, batched[i][k].Probability, 5);
        }
        var concurrent = new IReadOnlyList<ClassProbability>[paths.Length * 4];
        Parallel.For(0, concurrent.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => concurrent[i] = classifier.Classify(paths[i % paths.Length], top: 3));
        for (int i = 0; i < concurrent.Length; i++) Assert.Equal(single[i % paths.Length], concurrent[i]);
    }

    [Fact]
    public void Loading_a_saved_model_file_classifies_as_the_model_does()
    {
        string file = Path.Combine(_folder.Root, "m.fovea");
        ModelFile.Save(_model, file);
        var path = _folder.Files[0].Path;
        Assert.Equal(new ImageClassifier(_model).Classify(path), ImageClassifier.Load(file).Classify(path));
    }

    [Fact]
    public void A_model_without_class_scores_or_image_input_is_refused_naming_its_shapes()
    {
        var features = new Sequential([3, 24, 24], "features").Base(new Conv2D(8, 3), new ReLU()).Top(new GlobalAvgPool2D());
        var e = Assert.Throws<ArgumentException>(() => new ImageClassifier(features));
        Assert.Contains("'features' outputs (8)", e.Message);
        Assert.Contains("not class scores", e.Message);
        var vectors = new Sequential([10], "vectors").Top(new Dense(3));
        e = Assert.Throws<ArgumentException>(() => new ImageClassifier(vectors));
        Assert.Contains("'vectors' takes input (10)", e.Message);
    }

    [Fact]
    public void A_classifier_with_too_few_class_names_is_refused_naming_both_counts()
    {
        var model = Synthetic.TinyCnn(3, 24, 4);
        model.ClassNames = ["cat", "dog"];
        var e = Assert.Throws<ArgumentException>(() => new ImageClassifier(model));
        Assert.Contains("outputs (4), 4 score(s), but has 2 class name(s) (cat, dog)", e.Message);
        Assert.DoesNotContain("feature extractor", e.Message);
    }

    [Fact]
    public void Unreadable_images_and_bad_arguments_are_named()
    {
        var classifier = new ImageClassifier(_model);
        var e = Assert.Throws<ImageLoadException>(() => classifier.Classify([1, 2, 3, 4], "upload 7"));
        Assert.Contains("upload 7", e.Message);
        Assert.Contains("upload 8", Assert.Throws<ImageLoadException>(() => classifier.Classify([], "upload 8")).Message);
        string broken = Path.Combine(_folder.Root, "broken.png");
        File.WriteAllText(broken, "not a png");
        var paths = _folder.Files.Select(f => f.Path).Take(5).Append(broken).Append(_folder.Files[5].Path).ToArray();
        Assert.Contains(broken, Assert.Throws<ImageLoadException>(() => classifier.ClassifyMany(paths, batchSize: 3)).Message);
        Assert.Contains("Received: 0", Assert.Throws<ArgumentOutOfRangeException>(() => classifier.Classify(paths[0], top: 0)).Message);
        var batch = Assert.Throws<ArgumentOutOfRangeException>(() => classifier.ClassifyMany(paths, batchSize: 0));
        Assert.Contains("Received: 0", batch.Message);
        Assert.Equal("batchSize", batch.ParamName);   // was "requested", a parameter of an internal call
    }

    [Fact]
    public void A_disposed_or_empty_bitmap_is_refused_naming_what_is_wrong()
    {
        // Skia does not check: the disposed bitmap crashed the test host (SIGSEGV), the empty one failed with
        // "Value cannot be null (Parameter 'image')".
        var classifier = new ImageClassifier(_model);
        var disposed = new SKBitmap(new SKImageInfo(8, 8));
        disposed.Dispose();
        Assert.Contains("disposed", Assert.Throws<ObjectDisposedException>(() => classifier.Classify(disposed)).Message);
        Assert.Throws<ObjectDisposedException>(() => classifier.Explain(disposed));
        using var empty = new SKBitmap();
        var e = Assert.Throws<ArgumentException>(() => classifier.Classify(empty));
        Assert.Equal("bitmap", e.ParamName);
        Assert.Contains("no pixels (0x0", e.Message);
        Assert.Contains("no pixels", Assert.Throws<ArgumentException>(() => classifier.Explain(empty)).Message);
        Assert.Contains("no pixels", Assert.Throws<ArgumentException>(() => ImageLoader.FromBitmap(empty, 1, 4, 4)).Message);
    }

    [Fact]
    public void Explain_gives_the_grad_cam_of_the_predicted_or_chosen_class_on_the_prepared_image()
    {
        var classifier = new ImageClassifier(_model);
        string path = _folder.Files[0].Path;
        var image = ImageLoader.Load(path, 3, 24, 24);
        using var best = classifier.Explain(path);
        Assert.Equal(classifier.Classify(path, top: 1)[0].ClassIndex, best.Class.ClassIndex);
        Assert.Equal(SyntheticFolder.ClassNames[best.Class.ClassIndex], best.Class.ClassName);
        var expected = GradCam.Compute(_model, image);
        Assert.Equal(expected.LayerName, best.GradCam.LayerName);
        Assert.Equal(expected.Upsampled, best.GradCam.Upsampled);
        Assert.Equal(expected.Probability, best.Class.Probability);
        Assert.Equal((24, 24), (best.GradCam.Upsampled.GetLength(0), best.GradCam.Upsampled.GetLength(1)));
        Assert.True(best.Picture.Width > 3 * 24 && best.Picture.EncodePng().Length > 0);

        int other = (best.Class.ClassIndex + 1) % SyntheticFolder.ClassNames.Length;
        using var chosen = classifier.Explain(File.ReadAllBytes(path), "upload", classIndex: other);
        Assert.Equal(other, chosen.Class.ClassIndex);
        Assert.Equal(GradCam.Compute(_model, image, other).Upsampled, chosen.GradCam.Upsampled);
    }

    [Fact]
    public void Explanations_from_many_threads_equal_one_at_a_time()
    {
        var classifier = new ImageClassifier(_model);
        var paths = _folder.Files.Select(f => f.Path).Take(6).ToArray();
        var serial = paths.Select(p => { using var e = classifier.Explain(p); return e.GradCam.Map; }).ToArray();
        var parallel = new float[paths.Length][,];
        Parallel.For(0, paths.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            using var e = classifier.Explain(paths[i % paths.Length]);
            if (i < paths.Length) parallel[i] = e.GradCam.Map;
            else Assert.Equal(serial[i % paths.Length], e.GradCam.Map);
        });
        Assert.Equal(serial, parallel);
    }

    [Fact]
    public void Explain_names_a_bad_class_or_layer()
    {
        var classifier = new ImageClassifier(_model);
        string path = _folder.Files[0].Path;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => classifier.Explain(path, classIndex: 7));
        Assert.Contains("Received: 7", e.Message);
        Assert.Contains(SyntheticFolder.ClassNames[0], e.Message);
        Assert.Contains("no-such-layer", Assert.ThrowsAny<ArgumentException>(() => classifier.Explain(path, layerName: "no-such-layer")).Message);
        Assert.Contains("upload 9", Assert.Throws<ImageLoadException>(() => classifier.Explain([1, 2, 3], "upload 9")).Message);
    }
}
