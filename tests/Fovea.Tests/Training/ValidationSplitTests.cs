using Fovea.Data;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Training;

namespace Fovea.Tests.Training;

/// <summary>FitOptions.SplitIndices: the images a Fit trains and validates on, so input statistics can leave the held-out ones out.</summary>
public class ValidationSplitTests
{
    private static readonly FitOptions Options = new() { Epochs = 2, BatchSize = 8, Seed = 4, ValidationSplit = 0.25 };

    /// <summary>40 RGB 4 x 4 images: those at <paramref name="heldOut"/> all 1 (white), the others dark noise below 0.2.</summary>
    private static InMemoryDataset DarkWithWhite(ISet<int> heldOut)
    {
        const int count = 40, size = 3 * 4 * 4;
        var rng = new Random(9);
        var images = new float[count * size];
        for (int i = 0; i < count; i++)
            for (int p = 0; p < size; p++) images[i * size + p] = heldOut.Contains(i) ? 1f : 0.2f * rng.NextSingle();
        return new InMemoryDataset(images, Enumerable.Range(0, count).Select(i => i % 3).ToArray(), [3, 4, 4], ["a", "b", "c"]);
    }

    [Fact]
    public void Statistics_over_the_training_indices_leave_out_the_held_out_images()
    {
        var (training, validation) = Options.SplitIndices(DarkWithWhite(new HashSet<int>()));
        Assert.Equal(10, validation.Length);
        Assert.Equal(30, training.Length);
        Assert.Equal(Enumerable.Range(0, 40), training.Concat(validation).Order());

        // The held-out images are white, the training ones dark: a mean of the training part is below 0.2, one over all is not.
        var data = DarkWithWhite(validation.ToHashSet());
        var trained = ChannelStatistics.Normalization(data, training);
        Assert.All(trained.Mean, m => Assert.InRange(m, 0.05f, 0.15f));
        Assert.All(ChannelStatistics.Normalization(data).Mean, m => Assert.InRange(m, 0.3f, 0.4f));
        // To the bit what the training part as a data set of its own gives, the one InMemoryDataset.Split makes.
        var (trainPart, validationPart) = data.Split(Options.ValidationSplit, Options.Seed);
        var expected = ChannelStatistics.Normalization(trainPart);
        Assert.Equal(expected.Mean, trained.Mean);
        Assert.Equal(expected.Std, trained.Std);
        Assert.All(Enumerable.Range(0, validationPart.Count), i => Assert.True(validationPart.GetImage(i).ToArray().All(v => v == 1f)));
    }

    [Fact]
    public void Fit_validates_on_exactly_the_held_out_indices()
    {
        var data = TrainerTests.Blobs(40, 2);
        var (_, validation) = Options.SplitIndices(data);
        var model = new Sequential([1, 6, 6], seed: 3).Base(new Fovea.Layers.Conv2D(2, 3, padding: 1), new Fovea.Layers.ReLU())
            .Top(new Fovea.Layers.Flatten(), new Fovea.Layers.Dense(3));
        var trainer = new Trainer(model, new Adam(0.01f));
        var history = trainer.Fit(data, Options);
        // The last epoch's validation figures are those of the final weights on the images SplitIndices holds out.
        var heldOut = trainer.Evaluate(data.Subset(validation), Math.Max(Options.BatchSize, 256));
        Assert.Equal(heldOut.Loss, history.Epochs[^1].ValidationLoss);
        Assert.Equal(heldOut.Accuracy, history.Epochs[^1].ValidationAccuracy);
    }

    [Fact]
    public void Without_a_split_every_sample_trains_in_order_and_mistakes_are_named()
    {
        var data = TrainerTests.Blobs(10, 1);
        Assert.Equal(Enumerable.Range(0, 10), new FitOptions().SplitIndices(data).Training);
        Assert.Empty(new FitOptions { ValidationSplit = 0.5, ValidationData = data }.SplitIndices(data).Validation);
        // A split that rounds to no sample holds none out: all train, in the shuffled order Fit uses.
        var (all, none) = new FitOptions { ValidationSplit = 0.01 }.SplitIndices(data);
        Assert.Empty(none);
        Assert.Equal(Enumerable.Range(0, 10), all.Order());

        var e = Assert.Throws<ArgumentException>(() => new FitOptions { ValidationSplit = 0.5 }.SplitIndices(TrainerTests.Blobs(1, 1)));
        Assert.Contains("ValidationSplit 0.5 of 1 sample(s) leaves none to train on", e.Message);
        Assert.Contains("Index 10 at position 1 is outside [0, 10)", Assert.Throws<ArgumentOutOfRangeException>(() => ChannelStatistics.Normalization(data, [3, 10])).Message);
        Assert.Throws<ArgumentException>(() => ChannelStatistics.Normalization(data, []));
    }
}
