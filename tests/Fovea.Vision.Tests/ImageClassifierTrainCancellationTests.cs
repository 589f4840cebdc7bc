using Fovea.Layers;
using Fovea.Models;

namespace Fovea.Vision.Tests;

/// <summary>
/// ImageClassifier.Train honours its cancellation token in the feature pass too (every image through the base, which
/// on a real folder takes minutes), not only once the classifier trains: it stops after the batch in hand.
/// The progress callback cancels, so where the stop falls is exact, not a matter of timing.
/// </summary>
public sealed class ImageClassifierTrainCancellationTests : IDisposable
{
    private readonly SyntheticFolder _folder = new(imagesPerClass: 10, seed: 86, minSide: 20, maxSide: 30);

    public void Dispose() => _folder.Dispose();

    /// <summary>A stand-in for a pretrained network at 16 x 16, with a named layer to fine-tune after.</summary>
    private static Model Base() => new Sequential([3, 16, 16], "tiny-base", seed: 5)
        .Base(new Conv2D(8, 3, stride: 2, padding: 1, name: "stem"), new ReLU(name: "stem_relu"),
              new Conv2D(8, 3, padding: 1, name: "block"), new ReLU(name: "block_relu"), new MaxPool2D(2, name: "pool"));

    [Theory]
    [InlineData(null)]          // the features straight from the images
    [InlineData("stem_relu")]   // the head outputs kept for fine-tuning, then the features from them
    public void Cancelling_during_the_feature_pass_stops_it_after_the_current_batch(string? fineTuneAfter)
    {
        using var stop = new CancellationTokenSource();
        var reports = new List<int>();
        var e = Assert.ThrowsAny<OperationCanceledException>(() => ImageClassifier.Train(_folder.Root, Base(), new ImageClassifierTrainingOptions
        {
            Epochs = 2, FineTuneAfter = fineTuneAfter,
            FeatureProgress = (done, _) => { reports.Add(done); stop.Cancel(); },
        }, stop.Token));
        Assert.Equal(stop.Token, e.CancellationToken);
        // The first batch (4 images of 30) was reported; no further batch went through the base.
        Assert.Equal([4], reports);
    }

    [Fact]
    public void A_token_cancelled_before_the_call_decodes_no_image()
    {
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        var reports = new List<int>();
        Assert.ThrowsAny<OperationCanceledException>(() => ImageClassifier.Train(_folder.Root, Base(),
            new ImageClassifierTrainingOptions { FeatureProgress = (done, _) => reports.Add(done) }, stop.Token));
        Assert.Empty(reports);
    }
}
