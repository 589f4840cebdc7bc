using System.Text.Json.Nodes;
using Fovea.Data;
using Fovea.Serialization;
using Fovea.Tensors;
using Fovea.Tests.Data;
using Fovea.Vision;

namespace Fovea.Tests.Cli;

/// <summary>fovea train/eval --dataset cifar10 through the real executable, on small synthetic batches in the CIFAR-10 format.</summary>
public class CliCifar10Tests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-cli-cifar-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A child environment whose cache is an empty folder and with no FOVEA_DATA, so only the folders a test names hold data.</summary>
    private Dictionary<string, string?> EmptyCache() => new() { ["XDG_CACHE_HOME"] = Path.Combine(_dir, "cache"), ["FOVEA_DATA"] = null };

    [Fact]
    public void OfflineWithNothingFoundIsOneLineSayingHowToGetTheArchive()
    {
        string cache = Path.Combine(_dir, "cache", "fovea", "datasets", "cifar10");
        var train = CliProcess.Run(EmptyCache(), null, "train", "--dataset", "cifar10", "--out", Path.Combine(_dir, "runs", "m.fovea"));
        CliProcess.AssertUsageError(train, "CIFAR-10 (train split) was not found. To get it, download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz " +
            $"(MD5 c32a1d4ab5d03f1284b67883e8d87530) and put it, as it is, into {cache}", "--data <folder>", "download skipped because FOVEA_OFFLINE is set");
        Assert.False(Directory.Exists(Path.Combine(_dir, "runs")));

        var model = Path.Combine(_dir, "m.fovea");
        var small = global::Fovea.Models.ModelZoo.VggSmall([3, 32, 32], 10);
        small.ClassNames = Cifar10.ClassNames.ToArray();
        ModelFile.Save(small, model);
        // eval finds the data set by the model's class names: CIFAR-10, not Fashion-MNIST.
        CliProcess.AssertUsageError(CliProcess.Run(EmptyCache(), null, "eval", model), "CIFAR-10 (test split) was not found", cache);
    }

    [Fact]
    public void TrainEvalPredictAndVisualizeOnCifarBatches()
    {
        string data = Path.Combine(_dir, "data");
        CifarTestFiles.WriteFolder(Path.Combine(data, CifarTestFiles.Folder));
        // Without --out, in a working folder of its own: the file is named after the data set and the network.
        var train = CliProcess.Run(EmptyCache(), _dir, "train", "--dataset", "cifar10", "--data", data, "--epochs", "1", "--limit", "60",
            "--batch-size", "16", "--threads", "1");
        Assert.True(train.Code == 0, train.Err);
        Assert.Contains($"CIFAR-10 Train: using {Path.Combine(data, CifarTestFiles.Folder)} (path given).", train.Err);
        Assert.Contains("Training 'vgg-small' (814,570 parameters) on CIFAR-10: 60 images, 1 epochs, batch 16, adamw lr 0.002, cosine schedule, augmentation on", train.Err);
        Assert.Contains("on 20 images", train.Out); // the test batch
        string model = Path.Combine(_dir, "runs", "cifar10-vgg-small.fovea");
        Assert.True(File.Exists(model), train.Out);

        // RGB 32 x 32 with CIFAR-10's class names, and as its input normalisation the channel statistics of the images it
        // trained on: the 54 left when the default 10% (seed 0) is held out for validation, as InMemoryDataset.Split does.
        var saved = ModelFile.Load(model);
        Assert.Equal([3, 32, 32], saved.InputShape);
        Assert.Equal(Cifar10.ClassNames, saved.ClassNames);
        var options = new DatasetLoadOptions { Offline = true, EnvironmentFolder = "", SystemFolder = "", CacheFolder = Path.Combine(_dir, "none") };
        var loaded = Cifar10.Load(DatasetSplit.Train, data, options).Take(60);
        var (trainedOn, heldOut) = loaded.Split(0.1, seed: 0);
        Assert.Equal(6, heldOut.Count);
        var expected = ChannelStatistics.Normalization(trainedOn);
        Assert.Equal(expected.Mean, saved.Normalization!.Mean);
        Assert.Equal(expected.Std, saved.Normalization.Std);
        Assert.NotEqual(ChannelStatistics.Normalization(loaded).Mean, saved.Normalization.Mean);

        // eval needs no --dataset: the folder holds CIFAR-10's files; --dataset cifar-10 is the same data set.
        var eval = CliProcess.Run(EmptyCache(), null, "eval", model, "--data", data, "--json", "--threads", "1");
        Assert.True(eval.Code == 0, eval.Err);
        var evaluated = JsonNode.Parse(eval.Out)!;
        Assert.Equal(20, (int)evaluated["images"]!);
        Assert.Equal(Cifar10.ClassNames, ((JsonArray)evaluated["class_names"]!).Select(n => (string)n!));
        var named = JsonNode.Parse(CliProcess.Run(EmptyCache(), null, "eval", model, "--dataset", "cifar-10", "--data", data, "--json", "--threads", "1").Out)!;
        Assert.Equal((double)evaluated["accuracy"]!, (double)named["accuracy"]!);

        string image = Path.Combine(_dir, "photo.png");
        var rgb = new Tensor(3, 48, 40);
        for (int i = 0; i < rgb.Length; i++) rgb.Span[i] = (i % 11) / 11f;
        ImageLoader.SavePng(rgb, image);
        var predict = CliProcess.Run("predict", model, image, "--top", "3", "--json");
        Assert.True(predict.Code == 0, predict.Err);
        var top = (JsonArray)JsonNode.Parse(predict.Out)![0]!["top"]!;
        Assert.Equal(3, top.Count);
        Assert.All(top, t => Assert.Contains((string)t!["class"]!, Cifar10.ClassNames));

        string pictures = Path.Combine(_dir, "pictures");
        var visualize = CliProcess.Run("visualize", model, image, "--out", pictures, "--threads", "1");
        Assert.True(visualize.Code == 0, visualize.Err);
        Assert.True(File.Exists(Path.Combine(pictures, "00-input.png")));
        Assert.Contains(Directory.GetFiles(pictures), f => Path.GetFileName(f).Contains("gradcam"));
    }

    [Fact]
    public void AnArchiveThatIsNotTheOfficialOneIsRefusedNamingIt()
    {
        // Found without --dataset (the folder holds CIFAR-10's archive), then refused by its checksum.
        string archive = Path.Combine(_dir, CifarTestFiles.Archive);
        CifarTestFiles.WriteArchive(archive);
        var r = CliProcess.Run(EmptyCache(), null, "train", "--data", _dir, "--epochs", "1", "--out", Path.Combine(_dir, "m.fovea"));
        CliProcess.AssertUsageError(r, $"CIFAR-10 archive '{archive}' has MD5 {CifarTestFiles.Md5(archive)}, expected c32a1d4ab5d03f1284b67883e8d87530");
    }

    [Fact]
    public void ATruncatedBatchIsOneLineNamingTheFile()
    {
        string data = Path.Combine(_dir, "data");
        CifarTestFiles.WriteFolder(data);
        string batch = Path.Combine(data, "test_batch.bin");
        File.WriteAllBytes(batch, File.ReadAllBytes(batch)[..1000]);
        CliProcess.AssertUsageError(CliProcess.Run(EmptyCache(), null, "train", "--dataset", "cifar10", "--data", data, "--epochs", "1", "--out", Path.Combine(_dir, "m.fovea")),
            $"CIFAR-10 batch '{batch}' has 1,000 bytes, not a whole number of 3,073-byte records");
    }

    [Fact]
    public void AnUnknownDatasetNamesTheChoices() =>
        CliProcess.AssertUsageError(CliProcess.Run("train", "--dataset", "cifar100"), "Unknown dataset 'cifar100'. Expected fashion-mnist, mnist or cifar10.");

    [Fact]
    public void SummaryOfVggSmallIsOnCifarImagesByDefault()
    {
        var r = CliProcess.Run("summary", "--model", "vgg-small", "--json");
        Assert.True(r.Code == 0, r.Err);
        var json = JsonNode.Parse(r.Out)!;
        Assert.Equal([3, 32, 32], ((JsonArray)json["input_shape"]!).Select(n => (int)n!));
        Assert.Equal(814_570, (long)json["total_parameters"]!);
        Assert.Equal(78_724_608, (long)json["total_flops"]!);
    }
}
