using Fovea.Data;
using Fovea.Layers;
using Fovea.Losses;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Training;

namespace Fovea.Tests.Training;

/// <summary>The learning-rate range test: its sweep, its suggestion, and that it leaves model and optimizer as they were.</summary>
public class LearningRateFinderTests
{
    /// <summary>Two classes told apart by the brightness of a 2×4×4 image, with dropout and BatchNorm to restore.</summary>
    private static (Model Model, InMemoryDataset Data) Problem()
    {
        var random = new Random(3);
        var x = new float[512 * 32];
        var y = new int[512];
        for (int i = 0; i < y.Length; i++)
        {
            y[i] = i % 2;
            for (int j = 0; j < 32; j++) x[i * 32 + j] = (float)random.NextDouble() * 0.6f + 0.4f * y[i];
        }
        var model = new Sequential([2, 4, 4], seed: 5)
            .Base(new Conv2D(4, 3, padding: 1), new BatchNorm2D(), new ReLU())
            .Top(new Flatten(), new Dropout(0.2f), new Dense(2));
        return (model, new InMemoryDataset(x, y, [2, 4, 4], ["dark", "bright"]));
    }

    [Fact]
    public void The_sweep_rises_exponentially_and_suggests_a_rate_on_the_descent()
    {
        var (model, data) = Problem();
        var result = LearningRateFinder.Run(new Trainer(model, new Adam()), data, new LearningRateFinderOptions { BatchSize = 32 });
        var rates = result.Points.Select(p => (double)p.LearningRate).ToArray();
        Assert.Equal(1e-7, rates[0], 9);
        double factor = Math.Pow(1e8, 1.0 / 99);
        for (int i = 1; i < rates.Length; i++) Assert.Equal(factor, rates[i] / rates[i - 1], 3);
        // Either all 100 steps ran, or the sweep stopped where the loss passed four times its lowest.
        Assert.True(result.Diverged ? result.Points[^1].SmoothedLoss > 4 * result.Points.Min(p => p.SmoothedLoss) : result.Points.Count == 100);
        // The suggestion lies before the lowest point, where the smoothed loss was falling.
        Assert.InRange(result.SuggestedRate, 1e-5f, result.MinimumLossRate);
        int at = result.Points.ToList().FindIndex(p => p.LearningRate == result.SuggestedRate);
        Assert.True(result.Points[at + 3].SmoothedLoss < result.Points[at - 3].SmoothedLoss);
    }

    [Fact]
    public void Model_and_optimizer_are_put_back_so_a_fit_after_it_is_the_fit_without_it()
    {
        var options = new FitOptions { Epochs = 2, BatchSize = 32, Seed = 1 };
        var (plain, data) = Problem();
        var plainTrainer = new Trainer(plain, new Adam(0.003f), new SoftmaxCrossEntropyLoss());
        plainTrainer.Fit(data, options with { Epochs = 1 }); // optimizer state, BatchNorm statistics and dropout draws to keep
        var expected = plainTrainer.Fit(data, options).Epochs.Select(e => e.Loss).ToArray();

        var (model, _) = Problem();
        var trainer = new Trainer(model, new Adam(0.003f), new SoftmaxCrossEntropyLoss());
        trainer.Fit(data, options with { Epochs = 1 });
        var before = model.Parameters.Select(p => p.Value.ToArray()).ToList();
        LearningRateFinder.Run(trainer, data, new LearningRateFinderOptions { BatchSize = 32, Steps = 40 });
        Assert.All(model.Parameters.Zip(before), t => Assert.Equal(t.Second, t.First.Value.ToArray()));
        Assert.Equal(0.003f, trainer.Optimizer.LearningRate);
        Assert.Equal(expected, trainer.Fit(data, options).Epochs.Select(e => e.Loss).ToArray());
    }

    [Fact]
    public void Bad_options_are_refused_naming_the_value()
    {
        var (model, data) = Problem();
        var trainer = new Trainer(model, new Adam());
        Assert.Contains("received 0", Assert.Throws<ArgumentException>(() => LearningRateFinder.Run(trainer, data, new() { StartRate = 0 })).Message);
        Assert.Contains("received 1E-08", Assert.Throws<ArgumentException>(() => LearningRateFinder.Run(trainer, data, new() { EndRate = 1e-8f })).Message);
        Assert.Contains("received 1", Assert.Throws<ArgumentException>(() => LearningRateFinder.Run(trainer, data, new() { Steps = 1 })).Message);
        Assert.Contains("received 0", Assert.Throws<ArgumentException>(() => LearningRateFinder.Run(trainer, data, new() { BatchSize = 0 })).Message);
    }
}
