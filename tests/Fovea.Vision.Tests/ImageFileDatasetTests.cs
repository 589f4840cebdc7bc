using Fovea.Data;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Training;

namespace Fovea.Vision.Tests;

/// <summary>
/// Image files decoded on demand give what the fully decoded folder gives: the same files, labels and values, the same
/// split for a seed, and the same features and head outputs bit for bit when a base runs over them batch by batch.
/// </summary>
[Collection(DegreeCollection.Name)]
public sealed class ImageFileDatasetTests : IDisposable
{
    private readonly int _savedDegree = Parallelism.Degree;

    public ImageFileDatasetTests() => Parallelism.Degree = 2;

    public void Dispose() => Parallelism.Degree = _savedDegree;

    /// <summary>A small base with what matters for bit-identity: BatchNorm to fold, a fused ReLU, pooling, a residual add.</summary>
    private static Model SmallBase()
    {
        var m = new Model([3, 20, 20], "small-base", seed: 5);
        var stem = m.Add(new Conv2D(6, 3, stride: 2, padding: 1, name: "stem"));
        stem = m.Add(new BatchNorm2D(name: "stem_bn"), stem);
        stem = m.Add(new ReLU(name: "stem_relu"), stem);
        var block = m.Add(new Conv2D(6, 3, padding: 1, name: "block_conv"), stem);
        block = m.Add(new Add(name: "block_add"), block, stem);
        block = m.Add(new ReLU(name: "block_relu"), block);
        m.Add(new MaxPool2D(2, name: "pool"), block);
        foreach (var p in m.GetLayer("stem_bn").Parameters.Where(p => p.IsBuffer))
            for (int i = 0; i < p.Value.Length; i++) p.Value.Span[i] = p.LocalName == "running_var" ? 1.3f + 0.1f * i : 0.05f * i;
        m.Freeze(ModelStage.Base);
        return m;
    }

    [Fact]
    public void Files_labels_and_values_are_those_of_the_decoded_folder()
    {
        using var folder = new SyntheticFolder(imagesPerClass: 7, seed: 81, minSide: 20, maxSide: 60);
        foreach (var (channels, height, width) in new[] { (3, 20, 30), (1, 16, 16) })
        {
            var decoded = ImageFolder.Load(folder.Root, channels, height, width);
            var files = ImageFileDataset.Open(folder.Root, channels, height, width);
            Assert.Equal(decoded.Files, files.Files);
            Assert.Equal(decoded.Data.Labels.ToArray(), files.Labels);
            Assert.Equal(decoded.ClassNames, files.ClassNames);
            Assert.Equal([channels, height, width], files.SampleShape);
            Assert.Equal(folder.Root, files.Root);

            // A batch in any order, with a repeat, decoded in parallel; and one image alone.
            int[] indices = [20, 3, 11, 3, 0, 17];
            int size = channels * height * width;
            var batch = new float[indices.Length * size];
            files.CopyImages(indices, batch);
            var image = new float[size];
            for (int k = 0; k < indices.Length; k++)
            {
                decoded.CopyImage(indices[k], image);
                Assert.Equal(image, batch[(k * size)..((k + 1) * size)]);
            }
            files.CopyImage(5, image);
            Assert.Equal(decoded.Data.GetImage(5).ToArray(), image);
        }
    }

    [Fact]
    public void A_seed_puts_the_same_files_in_training_and_validation_as_the_decoded_folder_split()
    {
        using var folder = new SyntheticFolder(imagesPerClass: 11, seed: 82, minSide: 20, maxSide: 40);
        var decoded = ImageFolder.Load(folder.Root, 1, 8, 8);
        var files = ImageFileDataset.Open(folder.Root, 1, 8, 8);
        foreach (var (fraction, seed) in new[] { (0.2, 0), (0.2, 1), (0.34, 7), (0.5, 123) })
        {
            var (train, validation) = decoded.Split(fraction, seed);
            var (fileTrain, fileValidation) = files.Split(fraction, seed);
            Assert.Equal(train.Files, fileTrain.Files);
            Assert.Equal(validation.Files, fileValidation.Files);
            Assert.Equal(validation.Data.Labels.ToArray(), fileValidation.Labels);
        }
        Assert.NotEqual(files.Split(0.2, 0).Validation.Files, files.Split(0.2, 1).Validation.Files);

        // A test folder read with known class names labels its images by those names.
        using var test = new SyntheticFolder(imagesPerClass: 2, seed: 83, minSide: 20, maxSide: 40);
        string[] known = ["cross", "disk", "bars", "unused"];
        var testFiles = ImageFileDataset.Open(test.Root, 1, 8, 8, known);
        Assert.Equal(known, testFiles.ClassNames);
        Assert.Equal(ImageFolder.Load(test.Root, 1, 8, 8, new ImageFolderOptions { ClassNames = known }).Data.Labels.ToArray(), testFiles.Labels);
    }

    [Fact]
    public void Features_and_head_outputs_computed_batch_by_batch_equal_those_of_the_decoded_folder_bit_for_bit()
    {
        // 23 images: five batches of 4 and a short one; 20 x 20 from pictures of 20-60 pixels (enlarged and reduced).
        using var folder = new SyntheticFolder(imagesPerClass: 8, seed: 84, minSide: 20, maxSide: 60);
        File.Delete(folder.Files[^1].Path);
        var model = SmallBase();
        var (train, validation) = ImageFolder.Load(folder.Root, 3, 20, 20).Split(0.25, seed: 3);
        var (fileTrain, fileValidation) = ImageFileDataset.Open(folder.Root, 3, 20, 20).Split(0.25, seed: 3);
        Assert.Equal(17, fileTrain.Count);

        var reports = new List<(int, int)>();
        var expected = TransferLearning.ExtractFeatures(model, train);
        var streamed = TransferLearning.ExtractFeatures(model, fileTrain, progress: (done, total) => reports.Add((done, total)));
        Assert.Equal([6, 5, 5], streamed.SampleShape);
        Assert.Equal(expected.Images.ToArray(), streamed.Images.ToArray());
        Assert.Equal(expected.Labels.ToArray(), streamed.Labels.ToArray());
        Assert.Equal([(4, 17), (8, 17), (12, 17), (16, 17), (17, 17)], reports);
        Assert.Contains(streamed.Images.ToArray(), v => v > 0.1f);   // real features, not zeros
        Assert.Equal(TransferLearning.ExtractFeatures(model, validation, batchSize: 3).Images.ToArray(),
            TransferLearning.ExtractFeatures(model, fileValidation, batchSize: 3).Images.ToArray());

        var heads = TransferLearning.ExtractHeadOutputs(model, "stem_relu", train);
        var streamedHeads = TransferLearning.ExtractHeadOutputs(model, "stem_relu", fileTrain);
        Assert.Equal([6, 10, 10], streamedHeads.SampleShape);
        Assert.Equal(heads.Images.ToArray(), streamedHeads.Images.ToArray());
    }

    [Fact]
    public void An_undecodable_file_stops_the_extraction_naming_the_first_such_file()
    {
        using var folder = new SyntheticFolder(imagesPerClass: 6, seed: 85, minSide: 20, maxSide: 40);
        // Two broken files in different batches (files are listed in path order: bars/img000.png, bars/img001.jpg, ... first).
        string first = folder.Files[1].Path, later = folder.Files[12].Path;
        Assert.EndsWith(Path.Combine("bars", "img001.jpg"), first);
        Assert.EndsWith(Path.Combine("disk", "img000.png"), later);
        File.WriteAllText(first, "not a picture");
        File.WriteAllText(later, "not a picture either");
        var files = ImageFileDataset.Open(folder.Root, 3, 20, 20);
        var reports = new List<int>();
        var e = Assert.Throws<ImageLoadException>(() => TransferLearning.ExtractFeatures(SmallBase(), files, progress: (done, _) => reports.Add(done)));
        Assert.Contains(first, e.Message);
        Assert.Contains("PNG or JPEG", e.Message);
        Assert.Empty(reports);   // it was in the first batch
        Assert.Contains(later, Assert.Throws<ImageLoadException>(() => files.CopyImage(files.Files.ToList().IndexOf(later), new float[3 * 20 * 20])).Message);
    }

    [Fact]
    public void Bad_arguments_are_named()
    {
        var listing = new ImageFolderListing("photos", ["a", "b"], ["photos/a/1.png", "photos/b/2.png"], [0]);
        Assert.Contains("2 files but 1 labels", Assert.Throws<ArgumentException>(() => new ImageFileDataset(listing, 3, 8, 8)).Message);
        var badLabel = listing with { Labels = [0, 2] };
        Assert.Contains("Label 2 of photos/b/2.png is outside [0, 2)", Assert.Throws<ArgumentException>(() => new ImageFileDataset(badLabel, 3, 8, 8)).Message);
        var good = new ImageFileDataset(listing with { Labels = [0, 1] }, 3, 8, 8);
        Assert.Contains("1 or 3 channels. Received: 2", Assert.Throws<ArgumentOutOfRangeException>(() => new ImageFileDataset(listing with { Labels = [0, 1] }, 2, 8, 8)).Message);
        Assert.Contains("holds 10 values but 1 images of 3 x 8 x 8 need 192", Assert.Throws<ArgumentException>(() => good.CopyImages([0], new float[10])).Message);
        Assert.Contains("Sample index 2 is outside [0, 2)", Assert.Throws<ArgumentOutOfRangeException>(() => good.GetLabel(2)).Message);
        Assert.Contains("Index 5 at position 1", Assert.Throws<ArgumentOutOfRangeException>(() => good.Subset([0, 5])).Message);
        var missing = Path.Combine(Path.GetTempPath(), $"fovea-no-such-folder-{Guid.NewGuid():N}");
        Assert.Contains(missing, Assert.Throws<DirectoryNotFoundException>(() => ImageFileDataset.Open(missing, 3, 8, 8)).Message);
    }
}
