using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Fovea.Vision.Tests;

/// <summary>fovea train --data on an image folder, then predict and eval, run as the real executable in its own process.</summary>
public sealed class FolderCliTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-folder-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (int Code, string Out, string Err) Fovea(params string[] args) => CliProcess.Run(TimeSpan.FromMinutes(5), output, args);

    private void AssertOneLineError(string[] args, string expected) => CliProcess.AssertUsageError(Fovea(args), expected);

    [Fact]
    public void Train_from_scratch_on_a_folder_then_predict_prints_the_folder_class_names()
    {
        using var train = new SyntheticFolder(imagesPerClass: 20, seed: 41);
        using var test = new SyntheticFolder(imagesPerClass: 6, seed: 42);
        string model = Path.Combine(_dir, "shapes.fovea");
        var run = Fovea("train", "--data", train.Root, "--test-data", test.Root, "--base", "none", "--image-size", "32",
            "--epochs", "3", "--seed", "1", "--out", model, "--json");
        Assert.True(run.Code == 0, run.Err);
        var result = JsonNode.Parse(run.Out)!;
        Assert.Equal(SyntheticFolder.ClassNames, ((JsonArray)result["class_names"]!).Select(n => (string)n!));
        Assert.Equal([3, 32, 32], ((JsonArray)result["input_shape"]!).Select(n => (int)n!));
        Assert.Equal(60, (int)result["train_images"]!);
        Assert.Equal(18, (int)result["test"]!["images"]!);
        Assert.True(File.Exists(model) && File.Exists(Path.Combine(_dir, "shapes.confusion.png")));

        string path = test.Files[0].Path;
        var predict = Fovea("predict", model, path);
        Assert.True(predict.Code == 0, predict.Err);
        var lines = predict.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(path, lines[0]);
        // Three ranked lines, each naming one of the user's classes.
        Assert.Equal(SyntheticFolder.ClassNames.Order(), lines[1..4].Select(l => l.Trim().Split(' ')[0]).Order());

        // eval on the test folder reads the images again and gets what training reported.
        var eval = Fovea("eval", model, "--data", test.Root, "--json");
        Assert.True(eval.Code == 0, eval.Err);
        var evalJson = JsonNode.Parse(eval.Out)!;
        Assert.Equal((double)result["test"]!["accuracy"]!, (double)evalJson["accuracy"]!, 6);
        // Every wrong image is listed (fewer than the 24 asked by default), worst first, by its file.
        var mistakes = ((JsonArray)evalJson["mistakes"]!).Select(n => n!).ToList();
        Assert.Equal((int)Math.Round(18 * (1 - (double)evalJson["accuracy"]!)), mistakes.Count);
        Assert.All(mistakes, m => Assert.StartsWith(Path.GetFullPath(test.Root), (string)m["file"]!));
        Assert.All(mistakes, m => Assert.NotEqual((string)m["true"]!, (string)m["predicted"]!));
        Assert.Equal(mistakes.Select(m => (double)m["true_probability"]!).Order(), mistakes.Select(m => (double)m["true_probability"]!));
        Assert.True(File.Exists((string)evalJson["mistakes_png"]!));
        // ... and writes its confusion matrix under its own name, leaving train's in place.
        string trainConfusion = File.ReadAllText(Path.Combine(_dir, "shapes.confusion.json"));
        var evalOnTrain = Fovea("eval", model, "--data", train.Root, "--json");
        Assert.True(evalOnTrain.Code == 0, evalOnTrain.Err);
        Assert.Equal(Path.Combine(_dir, "shapes.eval.confusion.png"), (string)JsonNode.Parse(evalOnTrain.Out)!["confusion_png"]!);
        Assert.Equal(trainConfusion, File.ReadAllText(Path.Combine(_dir, "shapes.confusion.json")));
        Assert.NotEqual(trainConfusion, File.ReadAllText(Path.Combine(_dir, "shapes.eval.confusion.json")));
    }

    [Fact]
    public void Lr_find_is_refused_for_an_image_folder_before_anything_runs()
    {
        using var folder = new SyntheticFolder(imagesPerClass: 3, seed: 5);
        var r = Fovea("train", "--data", folder.Root, "--base", "none", "--lr", "find", "--out", Path.Combine(_dir, "x.fovea"));
        CliProcess.AssertUsageError(r, "--lr find runs on the built-in data sets");
        Assert.False(File.Exists(Path.Combine(_dir, "x.fovea")));
    }

    [Fact]
    public void Train_on_the_pretrained_base_saves_one_model_that_classifies_image_files()
    {
        using var train = new SyntheticFolder(imagesPerClass: 6, seed: 43, minSide: 60, maxSide: 140);
        string model = Path.Combine(_dir, "resnet.fovea");
        var run = Fovea("train", "--data", train.Root, "--validation-split", "0.34", "--epochs", "60", "--out", model, "--json");
        Assert.True(run.Code == 0, run.Err);
        var result = JsonNode.Parse(run.Out)!;
        Assert.Equal("resnet18", (string)result["model"]!);
        Assert.Equal(6, (int)result["validation"]!["images"]!);      // 2 of each class's 6
        // Equal classes: the balanced accuracy (mean recall) is the accuracy.
        Assert.Equal((double)result["validation"]!["accuracy"]!, (double)result["validation"]!["balanced_accuracy"]!, 9);
        Assert.Equal([3, 224, 224], ((JsonArray)result["input_shape"]!).Select(n => (int)n!));
        output.WriteLine($"features {(double)result["feature_seconds"]!}s, top {(double)result["train_seconds"]!}s, validation accuracy {(double)result["validation"]!["accuracy"]!:P0}");

        var predict = Fovea("predict", model, train.Files[0].Path, "--json");
        Assert.True(predict.Code == 0, predict.Err);
        var top = (JsonArray)JsonNode.Parse(predict.Out)![0]!["top"]!;
        Assert.Contains((string)top[0]!["class"]!, SyntheticFolder.ClassNames);
    }

    [Fact]
    public void Mistakes_in_the_folder_are_one_line_naming_the_folder_or_file()
    {
        string missing = Path.Combine(_dir, "missing");
        AssertOneLineError(["train", "--data", missing, "--base", "none"], missing);

        string oneClass = Path.Combine(_dir, "one-class");
        Directory.CreateDirectory(Path.Combine(oneClass, "cats"));
        using (var bitmap = SyntheticFolder.Draw(0, 30, 30, grey: false, new Random(1))) SyntheticFolder.Save(bitmap, Path.Combine(oneClass, "cats", "a.png"));
        AssertOneLineError(["train", "--data", oneClass, "--base", "none"], "only one class folder ('cats')");

        Directory.CreateDirectory(Path.Combine(oneClass, "dogs"));
        string broken = Path.Combine(oneClass, "dogs", "b.jpg");
        File.WriteAllText(broken, "not a picture");
        AssertOneLineError(["train", "--data", oneClass, "--base", "none"], broken);

        string splits = Path.Combine(_dir, "splits");
        foreach (var part in new[] { "train", "test" })
        {
            Directory.CreateDirectory(Path.Combine(splits, part, "cats"));
            using var bitmap = SyntheticFolder.Draw(0, 30, 30, grey: false, new Random(2));
            SyntheticFolder.Save(bitmap, Path.Combine(splits, part, "cats", "a.png"));
        }
        AssertOneLineError(["train", "--data", splits, "--base", "none"], $"--data {Path.Combine(splits, "train")} --test-data {Path.Combine(splits, "test")}");

        AssertOneLineError(["train", "--data", oneClass, "--image-size", "64"], "224");
        AssertOneLineError(["train", "--data", oneClass, "--base", "vgg"], "'vgg'");
    }

    [Fact]
    public void A_test_folder_with_another_class_or_a_broken_image_is_refused_before_the_training_images_are_decoded()
    {
        using var train = new SyntheticFolder(imagesPerClass: 3, seed: 46);
        using var test = new SyntheticFolder(imagesPerClass: 1, seed: 47);
        // A class the model will not have: found only after every training image had been decoded (minutes for a large folder).
        Directory.CreateDirectory(Path.Combine(test.Root, "bird"));
        File.Copy(test.Files[0].Path, Path.Combine(test.Root, "bird", "b.png"));
        string[] args = ["train", "--data", train.Root, "--test-data", test.Root, "--base", "none", "--image-size", "16", "--epochs", "1",
            "--out", Path.Combine(_dir, "m.fovea")];
        var r = Fovea(args);
        CliProcess.AssertUsageError(r, "class folder 'bird'");
        Assert.DoesNotContain("Decoding images", r.Err);
        Directory.Delete(Path.Combine(test.Root, "bird"), recursive: true);
        string broken = Path.Combine(test.Root, "disk", "z.jpg");
        File.WriteAllText(broken, "not a picture");
        r = Fovea(args);
        CliProcess.AssertUsageError(r, broken);
        Assert.DoesNotContain("Decoding images", r.Err);
    }

    [Fact]
    public void An_out_inside_a_class_folder_is_refused_before_anything_is_written()
    {
        using var train = new SyntheticFolder(imagesPerClass: 3, seed: 44);
        using var test = new SyntheticFolder(imagesPerClass: 2, seed: 45);
        var (image, _) = train.Files[0];
        byte[] before = File.ReadAllBytes(image);
        var listed = Directory.GetFiles(train.Root, "*", SearchOption.AllDirectories).Order().ToArray();
        // The model over one of the images; the model and its charts among a class's images; a test folder's class.
        AssertOneLineError(["train", "--data", train.Root, "--base", "none", "--epochs", "1", "--out", image], "is inside the class folder");
        AssertOneLineError(["train", "--data", train.Root, "--base", "none", "--epochs", "1", "--out", Path.Combine(train.Root, "bars", "sub", "m.fovea")],
            $"inside the class folder {Path.Combine(train.Root, "bars")}");
        AssertOneLineError(["train", "--data", train.Root, "--test-data", test.Root, "--base", "none", "--epochs", "1", "--out", Path.Combine(test.Root, "disk", "m.fovea")],
            $"inside the class folder {Path.Combine(test.Root, "disk")}");
        Assert.Equal(before, File.ReadAllBytes(image));
        Assert.Equal(listed, Directory.GetFiles(train.Root, "*", SearchOption.AllDirectories).Order());
        // Beside the class folders, where no class is read, is allowed.
        var run = Fovea("train", "--data", train.Root, "--base", "none", "--image-size", "16", "--epochs", "1", "--validation-split", "0.34",
            "--out", Path.Combine(train.Root, "m.fovea"), "--json");
        Assert.True(run.Code == 0, run.Err);
    }

    [Fact]
    public void An_out_inside_a_class_folder_is_refused_through_a_symbolic_link_too()
    {
        using var train = new SyntheticFolder(imagesPerClass: 3, seed: 48);
        string elsewhere = Directory.CreateDirectory(Path.Combine(_dir, "elsewhere")).FullName;
        string rootLink = Path.Combine(_dir, "photos-link");
        Directory.CreateSymbolicLink(rootLink, train.Root);
        var listed = Directory.GetFiles(train.Root, "*", SearchOption.AllDirectories).Order().ToArray();
        // --data through a link, --out by the real path, and the other way round: the charts (PNG) went among the
        // class's images, and the next run took them for images of that class.
        AssertOneLineError(["train", "--data", rootLink, "--base", "none", "--epochs", "1", "--out", Path.Combine(train.Root, "disk", "m.fovea")],
            $"inside the class folder {Path.Combine(rootLink, "disk")}");
        AssertOneLineError(["train", "--data", train.Root, "--base", "none", "--epochs", "1", "--out", Path.Combine(rootLink, "bars", "new", "m.fovea")],
            $"inside the class folder {Path.Combine(train.Root, "bars")}");
        // A class folder that is a link to a folder elsewhere, and --out there.
        foreach (var (path, _) in train.Files.Where(f => f.Label == 1)) File.Copy(path, Path.Combine(elsewhere, Path.GetFileName(path)));
        Directory.Delete(Path.Combine(train.Root, "cross"), recursive: true);
        Directory.CreateSymbolicLink(Path.Combine(train.Root, "cross"), elsewhere);
        AssertOneLineError(["train", "--data", train.Root, "--base", "none", "--epochs", "1", "--out", Path.Combine(elsewhere, "m.fovea")],
            $"inside the class folder {Path.Combine(train.Root, "cross")}");
        Assert.Equal(listed.Where(f => !f.Contains($"{Path.DirectorySeparatorChar}cross{Path.DirectorySeparatorChar}")),
            Directory.GetFiles(train.Root, "*", SearchOption.AllDirectories).Where(f => !f.Contains($"{Path.DirectorySeparatorChar}cross{Path.DirectorySeparatorChar}")).Order());
        Assert.Empty(Directory.GetFiles(elsewhere, "m.*"));
    }

    [Fact]
    public void Resuming_after_the_images_changed_says_so_and_resumes_once_they_are_back()
    {
        using var train = new SyntheticFolder(imagesPerClass: 4, seed: 49, minSide: 16, maxSide: 24);
        string model = Path.Combine(_dir, "changed.fovea"), checkpoint = model + ".checkpoint";
        var (code, err) = CliProcess.RunAndInterrupt(["train", "--data", train.Root, "--base", "none", "--image-size", "8", "--epochs", "500",
            "--threads", "1", "--out", model], line => line.StartsWith("epoch 2:", StringComparison.Ordinal));
        Assert.True(code == 130, $"exit {code}: {err}");
        // One more image: the normalisation of the images differs. The message told a command-line user to "resume with
        // the model the checkpoint was made from", which they do not choose.
        string added = Path.Combine(train.Root, "disk", "added.png");
        File.Copy(train.Files[0].Path, added);
        var r = Fovea("train", "--resume", checkpoint, "--json");
        CliProcess.AssertUsageError(r, checkpoint, $"the images in {train.Root} are not those the run began with", $"delete {checkpoint}");
        Assert.DoesNotContain("Resume with the model", r.Err);
        File.Delete(added);
        var resumed = Fovea("train", "--resume", checkpoint, "--json");
        Assert.True(resumed.Code == 0, resumed.Err);
    }

    [Fact]
    public void A_model_file_or_an_inner_layer_of_it_is_a_base_for_a_new_classifier()
    {
        using var train = new SyntheticFolder(imagesPerClass: 20, seed: 51);
        string first = Path.Combine(_dir, "first.fovea");
        Assert.Equal(0, Fovea("train", "--data", train.Root, "--base", "none", "--image-size", "32", "--epochs", "3", "--seed", "1", "--out", first, "--json").Code);
        string innerConv = Serialization.ModelFile.Load(first).Layers.OfType<Layers.Conv2D>().Last().Name;

        // An inner layer of the saved network: features are its activation maps, the images come at its input size.
        string second = Path.Combine(_dir, "second.fovea");
        var run = Fovea("train", "--data", train.Root, "--base", first, "--base-layer", innerConv, "--epochs", "20", "--out", second, "--json");
        Assert.True(run.Code == 0, run.Err);
        var result = JsonNode.Parse(run.Out)!;
        Assert.Equal("first", (string)result["model"]!);
        Assert.Equal([3, 32, 32], ((JsonArray)result["input_shape"]!).Select(n => (int)n!));
        output.WriteLine($"validation accuracy on the inner-layer features: {(double)result["validation"]!["accuracy"]!:P0}");
        var saved = Serialization.ModelFile.Load(second);
        Assert.Equal(SyntheticFolder.ClassNames, saved.ClassNames);
        Assert.Contains(saved.Layers, l => l.Name == innerConv);
        Assert.All(saved.StageLayers(Models.ModelStage.Base), l => Assert.False(l.Trainable));
        var predict = Fovea("predict", second, train.Files[0].Path);
        Assert.True(predict.Code == 0, predict.Err);

        // The same network exported to ONNX: its base stage (kept in the file's metadata) is the feature extractor.
        string onnx = Path.Combine(_dir, "first.onnx");
        Assert.Equal(0, Fovea("export", first, "--out", onnx).Code);
        var fromOnnx = Fovea("train", "--data", train.Root, "--base", onnx, "--epochs", "5", "--out", Path.Combine(_dir, "third.fovea"), "--json");
        Assert.True(fromOnnx.Code == 0, fromOnnx.Err);

        // Features that are not maps (here the first network's class scores) are reshaped to [N, 1, 1] for the classifier.
        string scores = Serialization.ModelFile.Load(first).Layers.OfType<Layers.Dense>().Last().Name;
        var onScores = Fovea("train", "--data", train.Root, "--base", first, "--base-layer", scores, "--epochs", "5", "--out", Path.Combine(_dir, "fourth.fovea"));
        Assert.True(onScores.Code == 0, onScores.Err);

        AssertOneLineError(["train", "--data", train.Root, "--base", first, "--out", first], "is the input");
        AssertOneLineError(["train", "--data", train.Root, "--base", first, "--base-layer", "input"], "--base-layer input is the image itself");
        AssertOneLineError(["train", "--data", train.Root, "--base", first, "--base-layer", "nope"], "--base-layer: Model");
        AssertOneLineError(["train", "--data", train.Root, "--base", first, "--image-size", "64"], "takes 3 x 32 x 32 images");
        AssertOneLineError(["train", "--data", train.Root, "--base", Path.Combine(_dir, "missing.fovea")], "missing.fovea");
        AssertOneLineError(["train", "--data", train.Root, "--base", "vgg"], "Unknown base 'vgg'");
        AssertOneLineError(["train", "--data", train.Root, "--base", "resnet18", "--base-layer", "nope"], "--base-layer: Model 'resnet18' has no layer named 'nope'");
        AssertOneLineError(["train", "--data", train.Root, "--base", "none", "--base-layer", innerConv], "--base-layer needs a pretrained base");
        AssertOneLineError(["train", "--data", train.Root, "--base-normalization", "imagenet"], "--base-normalization applies to a base from a file");
        AssertOneLineError(["train", "--data", train.Root, "--base", first, "--base-normalization", "imagenet"], "has its own input normalisation");
    }
}
