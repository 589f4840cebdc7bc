using System.Text.Json.Nodes;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;

namespace Fovea.Vision.Tests;

/// <summary>ImageClassifier.Train: one call from a folder of images and a pretrained network to a saved classifier.</summary>
[Collection(DegreeCollection.Name)]
public sealed class ImageClassifierTrainTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-classifier-train-").FullName;
    private readonly int _savedDegree = Parallelism.Degree;

    public void Dispose()
    {
        Parallelism.Degree = _savedDegree;
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A stand-in for a pretrained network at 16 x 16, its weights seeded: features [8, 4, 4].</summary>
    private string SaveBase()
    {
        var m = new Sequential([3, 16, 16], "tiny-base", seed: 5)
            .Base(new Conv2D(8, 3, stride: 2, padding: 1), new ReLU(), new MaxPool2D(2));
        string path = Path.Combine(_dir, "base.fovea");
        ModelFile.Save(m, path);
        return path;
    }

    [Fact]
    public void Train_makes_the_model_fovea_train_saves_for_the_same_folder_base_and_settings()
    {
        using var folder = new SyntheticFolder(imagesPerClass: 10, seed: 81, minSide: 20, maxSide: 40);
        string basePath = SaveBase();
        Parallelism.Degree = 1;
        int reported = 0;
        var result = ImageClassifier.Train(folder.Root, ModelFile.Load(basePath), new ImageClassifierTrainingOptions
        {
            Epochs = 6, Seed = 3, FeatureProgress = (done, total) => { Assert.Equal(30, total); reported = done; },
        });
        Assert.Equal(30, reported);
        Assert.Equal(SyntheticFolder.ClassNames, result.Classifier.ClassNames);
        Assert.Equal(6, result.History.Epochs.Count);
        Assert.Equal(6, result.Validation!.Count);                                 // 20% of each class of 10
        Assert.All(result.Classifier.Model.StageLayers(ModelStage.Base), l => Assert.False(l.Trainable));

        string saved = Path.Combine(_dir, "api.fovea");
        result.Classifier.Save(saved);
        var cli = CliProcess.Run(TimeSpan.FromMinutes(5), output, "train", "--data", folder.Root, "--base", basePath, "--epochs", "6", "--seed", "3",
            "--threads", "1", "--out", Path.Combine(_dir, "cli.fovea"), "--json");
        Assert.True(cli.Code == 0, cli.Err);
        Assert.Equal((double)JsonNode.Parse(cli.Out)!["validation"]!["accuracy"]!, result.Validation.Accuracy, 12);
        var a = ModelFile.Load(saved).Parameters.Select(p => p.Value.ToArray()).ToArray();
        var b = ModelFile.Load(Path.Combine(_dir, "cli.fovea")).Parameters.Select(p => p.Value.ToArray()).ToArray();
        Assert.Equal(b.Length, a.Length);
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i], a[i]);

        // The saved classifier classifies the folder's images as the trained one does.
        var reloaded = ImageClassifier.Load(saved);
        foreach (var (path, _) in folder.Files.Take(5))
            Assert.Equal(result.Classifier.Classify(path)[0].ClassName, reloaded.Classify(path)[0].ClassName);
        // Saved with float16 weights (this tiny network has no tensor large enough to shrink; the format is what is
        // checked): the same answers.
        string half = Path.Combine(_dir, "api-half.fovea");
        result.Classifier.Save(half, WeightStorage.Float16);
        Assert.Equal("float16", SafeTensors.Read(File.ReadAllBytes(half), half).Metadata["weight_storage"]);
        var halfClassifier = ImageClassifier.Load(half);
        foreach (var (path, _) in folder.Files.Take(5))
            Assert.Equal(result.Classifier.Classify(path)[0].ClassName, halfClassifier.Classify(path)[0].ClassName);
    }

    [Fact]
    public void Train_with_fine_tuning_makes_the_model_fovea_train_fine_tune_saves()
    {
        using var folder = new SyntheticFolder(imagesPerClass: 10, seed: 84, minSide: 20, maxSide: 40);
        var net = new Sequential([3, 16, 16], "tiny-base", seed: 6)
            .Base(new Conv2D(8, 3, stride: 2, padding: 1, name: "stem"), new ReLU(name: "stem_relu"),
                  new Conv2D(8, 3, padding: 1, name: "block"), new ReLU(name: "block_relu"), new MaxPool2D(2, name: "pool"));
        string basePath = Path.Combine(_dir, "base.fovea");
        ModelFile.Save(net, basePath);
        Parallelism.Degree = 1;
        var result = ImageClassifier.Train(folder.Root, ModelFile.Load(basePath), new ImageClassifierTrainingOptions
        {
            Epochs = 4, FineTuneAfter = "stem_relu", FineTuneEpochs = 3,
        });
        Assert.Equal(4 + 3, result.History.Epochs.Count);
        var cli = CliProcess.Run(TimeSpan.FromMinutes(5), output, "train", "--data", folder.Root, "--base", basePath, "--epochs", "4",
            "--fine-tune", "stem_relu", "--fine-tune-epochs", "3", "--threads", "1", "--out", Path.Combine(_dir, "cli.fovea"), "--json");
        Assert.True(cli.Code == 0, cli.Err);
        Assert.Equal((double)JsonNode.Parse(cli.Out)!["validation"]!["accuracy"]!, result.Validation!.Accuracy, 12);
        var a = result.Classifier.Model.Parameters.Select(p => p.Value.ToArray()).ToArray();
        var b = ModelFile.Load(Path.Combine(_dir, "cli.fovea")).Parameters.Select(p => p.Value.ToArray()).ToArray();
        Assert.Equal(b.Length, a.Length);
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i], a[i]);
        // The layer after the cut trained; the one before it kept the extractor's weights.
        Assert.Equal(net.GetLayer("stem").Parameters.Select(p => p.Value.ToArray()), result.Classifier.Model.GetLayer("stem").Parameters.Select(p => p.Value.ToArray()));
        Assert.NotEqual(net.GetLayer("block").Parameters.Select(p => p.Value.ToArray()), result.Classifier.Model.GetLayer("block").Parameters.Select(p => p.Value.ToArray()));

        var bad = Assert.Throws<ArgumentException>(() => ImageClassifier.Train(folder.Root, net, new ImageClassifierTrainingOptions { FineTuneAfter = "nope" }));
        Assert.Contains("has no layer named 'nope'", bad.Message);
        var epochs = Assert.Throws<ArgumentOutOfRangeException>(() => ImageClassifier.Train(folder.Root, net, new ImageClassifierTrainingOptions { FineTuneEpochs = 0 }));
        Assert.Contains("Received: 0", epochs.Message);
    }

    [Fact]
    public void Train_refuses_a_folder_of_one_class_or_one_image_each_bad_settings_and_a_network_that_takes_no_images()
    {
        using var folder = new SyntheticFolder(imagesPerClass: 2, seed: 82, minSide: 20, maxSide: 30);
        var baseModel = ModelFile.Load(SaveBase());
        string oneClass = Path.Combine(folder.Root, SyntheticFolder.ClassNames[0]);
        var e = Assert.Throws<ImageFolderException>(() => ImageClassifier.Train(oneClass, baseModel));
        Assert.Contains($"{oneClass} has only one class folder ('more')", e.Message);
        using var onePerClass = new SyntheticFolder(imagesPerClass: 1, seed: 83);
        var single = Assert.Throws<ArgumentException>(() => ImageClassifier.Train(onePerClass.Root, baseModel));
        Assert.Contains("no image can be held out for validation, as every class has a single image", single.Message);
        var epochs = Assert.Throws<ArgumentOutOfRangeException>(() => ImageClassifier.Train(folder.Root, baseModel, new ImageClassifierTrainingOptions { Epochs = 0 }));
        Assert.Contains("Received: 0", epochs.Message);
        var fraction = Assert.Throws<ArgumentOutOfRangeException>(() => ImageClassifier.Train(folder.Root, baseModel, new ImageClassifierTrainingOptions { ValidationFraction = 1 }));
        Assert.Contains("Received: 1", fraction.Message);
        var rate = Assert.Throws<ArgumentOutOfRangeException>(() => ImageClassifier.Train(folder.Root, baseModel, new ImageClassifierTrainingOptions { LearningRate = float.NaN }));
        Assert.Contains("Received: NaN", rate.Message);
        var vectors = new Sequential([12], "vectors").Top(new Dense(3));
        var shape = Assert.Throws<ArgumentException>(() => ImageClassifier.Train(folder.Root, vectors));
        Assert.Contains("takes input (12)", shape.Message);
    }

    [Fact]
    public void Train_refuses_null_callbacks_before_decoding_any_image()
    {
        using var folder = new SyntheticFolder(imagesPerClass: 2, seed: 84, minSide: 20, maxSide: 30);
        var baseModel = ModelFile.Load(SaveBase());
        int decoded = 0;
        var none = Assert.Throws<ArgumentNullException>(() => ImageClassifier.Train(folder.Root, baseModel,
            new ImageClassifierTrainingOptions { Callbacks = null!, FeatureProgress = (n, _) => decoded = n }));
        Assert.Contains("Received: null", none.Message);
        var oneNull = Assert.Throws<ArgumentException>(() => ImageClassifier.Train(folder.Root, baseModel,
            new ImageClassifierTrainingOptions { Callbacks = [null!], FeatureProgress = (n, _) => decoded = n }));
        Assert.Contains("Callback 0 of 1 is null", oneNull.Message);
        Assert.Equal(0, decoded);
    }

    [Fact]
    public void Train_refuses_a_base_that_ends_in_vectors_before_decoding_any_image()
    {
        using var folder = new SyntheticFolder(imagesPerClass: 2, seed: 85, minSide: 20, maxSide: 30);
        var pooled = new Sequential([3, 16, 16], "pooled").Base(new Conv2D(4, 3), new GlobalAvgPool2D());
        int decoded = 0;
        var e = Assert.Throws<ArgumentException>(() => ImageClassifier.Train(folder.Root, pooled,
            new ImageClassifierTrainingOptions { FeatureProgress = (n, _) => decoded = n }));
        Assert.Contains("outputs (4) per sample (at 'globalavgpool2d')", e.Message);
        Assert.Equal(0, decoded);
    }
}
