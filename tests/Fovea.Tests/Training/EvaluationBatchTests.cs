using Fovea.Data;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Training;

namespace Fovea.Tests.Training;

/// <summary>
/// Evaluation and validation of large images: 256 samples at a time (Evaluate's default, and validation's during Fit) is
/// right for small images but not for 1024 x 1024 ones, which trained at batch 1 and then failed at the first validation.
/// </summary>
public class EvaluationBatchTests
{
    private static Model Pooled(int side) =>
        new Sequential([1, side, side]).Top(new MaxPool2D(side / 8), new Flatten(), new Dense(2));

    [Fact]
    public void Small_inputs_keep_the_requested_batch()
    {
        var trainer = new Trainer(ModelZoo.Create("default", [1, 28, 28], 10, 0), new Sgd(0.1f));
        Assert.Equal(256, trainer.EvaluationBatchSize(256, availableBytes: 8L << 30));
        // 'compact' at 224 x 224, the size of a pretrained base: 256 at a time as before, on a machine like this project's.
        Assert.Equal(256, Trainer.InferenceBatchSize(ModelZoo.Create("compact", [3, 224, 224], 2, 0), 256, availableBytes: 24L << 30));
        Assert.Equal(256, trainer.EvaluationBatchSize(256)); // whatever this machine has
        Assert.Equal(7, trainer.EvaluationBatchSize(7, availableBytes: 8L << 30));
    }

    [Fact]
    public void Large_inputs_get_a_batch_that_fits()
    {
        // 32 x 1024 x 1024 floats per sample at the first convolution: 128 MiB each in 6 copies. Half of 24 GiB holds 16.
        var trainer = new Trainer(ModelZoo.Create("compact", [3, 1024, 1024], 2, 0), new Sgd(0.1f));
        Assert.Equal(16, trainer.EvaluationBatchSize(256, availableBytes: 24L << 30));
        // Memory a training step still holds is not available to it.
        Assert.Equal(8, trainer.EvaluationBatchSize(256, availableBytes: 24L << 30, reservedBytes: 6L << 30));
        Assert.Equal(1, trainer.EvaluationBatchSize(256, availableBytes: 24L << 30, reservedBytes: 24L << 30));
        // Nothing known about memory: still no layer output beyond int.MaxValue elements (33,554,432 per sample: 63).
        Assert.Equal(63, trainer.EvaluationBatchSize(256, availableBytes: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.EvaluationBatchSize(0));
    }

    [Fact]
    public void Evaluate_and_Predict_run_on_images_too_large_for_256_at_a_time()
    {
        // 256 samples of 1 x 4096 x 4096 are 4.3 billion floats, more than one tensor holds: this threw before the first batch.
        const int side = 4096;
        var pixels = new byte[2 * side * side];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i * 31 % 251);
        var data = new InMemoryDataset(pixels, 255f, [0, 1], [1, side, side], ["a", "b"]);
        var trainer = new Trainer(Pooled(side), new Sgd(0.1f));
        var result = trainer.Evaluate(data);
        Assert.Equal(2, result.Count);
        Assert.Equal(new[] { 2, 2 }, trainer.Predict(data).Shape);
    }
}
