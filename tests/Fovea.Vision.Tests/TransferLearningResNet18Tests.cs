using System.Diagnostics;
using Fovea.Data;
using Fovea.Layers;
using Fovea.Losses;
using Fovea.Models;
using Fovea.Onnx;
using Fovea.Optimizers;
using Fovea.Serialization;
using Fovea.Tensors;
using Fovea.Training;

namespace Fovea.Vision.Tests;

/// <summary>
/// The pretrained ResNet-18 as a frozen base for generated image folders (24 training, 15 test images, read from PNG and
/// JPEG files of various sizes and resized to 224 × 224): features are extracted once, a dense top is trained on them,
/// and base and top are combined. Loaded, extracted and trained once for all tests of the class.
/// </summary>
public sealed class ResNet18FolderFixture : IDisposable
{
    private readonly SyntheticFolder _trainFolder = new(imagesPerClass: 8, seed: 31, minSide: 60, maxSide: 160);
    private readonly SyntheticFolder _testFolder = new(imagesPerClass: 5, seed: 32, minSide: 60, maxSide: 160);

    public ResNet18FolderFixture()
    {
        var clock = Stopwatch.StartNew();
        Base = PretrainedModels.Load("resnet18");
        Base.Freeze(ModelStage.Base);
        double load = clock.Elapsed.TotalSeconds;
        Train = ImageFolder.Load(_trainFolder.Root, 3, 224, 224);
        Test = ImageFolder.Load(_testFolder.Root, 3, 224, 224, new ImageFolderOptions { ClassNames = Train.ClassNames });
        double decode = clock.Elapsed.TotalSeconds - load;
        TrainFeatures = TransferLearning.ExtractFeatures(Base, Train);
        TestFeatures = TransferLearning.ExtractFeatures(Base, Test);
        double features = clock.Elapsed.TotalSeconds - load - decode;

        Top = new Sequential(Base.BaseOutput.OutputShape, "classifier", seed: 1).Top(new Flatten(), new Dense(Train.ClassNames.Count));
        Top.ClassNames = Train.ClassNames;
        var trainer = new Trainer(Top, new Adam(0.001f), new SoftmaxCrossEntropyLoss());
        var topClock = Stopwatch.StartNew();
        trainer.Fit(TrainFeatures, new FitOptions { Epochs = 100, BatchSize = 8, Seed = 2 });
        double topSeconds = topClock.Elapsed.TotalSeconds;
        TestAccuracy = trainer.Evaluate(TestFeatures).Accuracy;
        Combined = Model.Combine(Base, Top, "resnet18-shapes");
        Timings = $"load {load:F1}s, decode {Train.Count + Test.Count} images {decode:F1}s, features of {Train.Count + Test.Count} images {features:F1}s " +
                  $"({1000 * features / (Train.Count + Test.Count):F0} ms per image), top: 100 epochs on {Train.Count} feature vectors {topSeconds:F2}s";
    }

    public Model Base { get; }
    public Model Top { get; }
    public Model Combined { get; }
    public ImageFolder Train { get; }
    public ImageFolder Test { get; }
    public InMemoryDataset TrainFeatures { get; }
    public InMemoryDataset TestFeatures { get; }
    public double TestAccuracy { get; }
    public string Timings { get; }

    public void Dispose()
    {
        _trainFolder.Dispose();
        _testFolder.Dispose();
    }
}

public class TransferLearningResNet18Tests(ResNet18FolderFixture fixture, ITestOutputHelper output) : IClassFixture<ResNet18FolderFixture>
{
    private static Tensor Images(IDataset data, int start, int count)
    {
        int size = data.SampleShape.Aggregate(1, (a, b) => a * b);
        var batch = new Tensor([count, .. data.SampleShape]);
        for (int i = 0; i < count; i++) data.CopyImage(start + i, batch.Span.Slice(i * size, size));
        return batch;
    }

    private static double MaxDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }

    [Fact]
    public void Cached_features_equal_the_base_run_on_each_image_alone()
    {
        output.WriteLine(fixture.Timings);
        Assert.Equal([512, 1, 1], fixture.TrainFeatures.SampleShape);
        Assert.Equal(fixture.Train.Data.Labels.ToArray(), fixture.TrainFeatures.Labels.ToArray());
        // The cached features come from the inference model (BatchNorm folded, Winograd), the direct ones from the
        // layers as trained: equal up to float rounding, relative to the feature's size (they reach about 10).
        double worst = 0;
        for (int i = 0; i < fixture.Train.Count; i++)
        {
            var direct = fixture.Base.Predict(Images(fixture.Train, i, 1)).Span;
            var cached = fixture.TrainFeatures.GetImage(i);
            for (int j = 0; j < direct.Length; j++) worst = Math.Max(worst, Math.Abs(direct[j] - cached[j]) / (1 + Math.Abs(direct[j])));
        }
        output.WriteLine($"largest difference between cached and direct features, relative to 1 + |feature|: {worst:E2}");
        Assert.True(worst <= 1e-5, $"cached features differ from the base's output by up to {worst:E2} (relative to 1 + |feature|)");
        Assert.Contains(fixture.TrainFeatures.Images.ToArray(), v => v > 0.1f); // real features, not zeros
    }

    [Fact]
    public void Features_of_the_files_decoded_batch_by_batch_equal_those_of_the_decoded_folder_bit_for_bit()
    {
        // What fovea train does with a pretrained base: the files decoded a batch at a time as ResNet-18 reaches them.
        var files = ImageFileDataset.Open(fixture.Train.Root, 3, 224, 224);
        var clock = Stopwatch.StartNew();
        var streamed = TransferLearning.ExtractFeatures(fixture.Base, files);
        output.WriteLine($"decoded and extracted {files.Count} images batch by batch in {clock.Elapsed.TotalSeconds:F1}s ({fixture.Timings})");
        Assert.Equal(fixture.Train.Files, files.Files);
        Assert.Equal(fixture.TrainFeatures.Labels.ToArray(), streamed.Labels.ToArray());
        Assert.Equal(fixture.TrainFeatures.Images.ToArray(), streamed.Images.ToArray());
    }

    [Fact]
    public void The_combined_model_gives_on_raw_images_what_the_top_gives_on_the_base_output()
    {
        var images = Images(fixture.Test, 0, fixture.Test.Count);
        var expected = fixture.Top.Predict(fixture.Base.Predict(images));
        var combined = fixture.Combined.Predict(images);
        Assert.Equal([fixture.Test.Count, 3], combined.Shape);
        Assert.True(MaxDifference(expected.Span, combined.Span) <= 1e-5, "combined model and top(base(x)) differ");
        Assert.Equal(fixture.Train.ClassNames, fixture.Combined.ClassNames);

        // Saved and loaded, it classifies an image file as fovea predict reads it.
        string path = Path.Combine(Path.GetTempPath(), $"fovea-resnet18-folder-{Guid.NewGuid():N}.fovea");
        try
        {
            ModelFile.Save(fixture.Combined, path);
            var loaded = ModelFile.Load(path);
            Assert.Equal(fixture.Train.ClassNames, loaded.ClassNames);
            var file = ImageLoader.Load(fixture.Test.Files[0], 3, 224, 224);
            var fromFile = loaded.Predict(file.View(1, 3, 224, 224));
            Assert.True(MaxDifference(expected.Span[..3], fromFile.Span) <= 1e-5, "the saved model differs on the image file");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_dense_top_on_the_pretrained_features_classifies_unseen_images()
    {
        output.WriteLine($"{fixture.Timings}; accuracy on {fixture.Test.Count} unseen images {fixture.TestAccuracy:P1}");
        // Chance is 33%; 24 training images. Measured: 15/15.
        Assert.True(fixture.TestAccuracy >= 0.8, $"accuracy on unseen images {fixture.TestAccuracy:P1}, expected at least 80%");
    }
}
