using Fovea.Data;
using Fovea.Layers;
using Fovea.Losses;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Training;

namespace Fovea.Tests.Training;

/// <summary>Optimizer.ClipNorm and ClipValue: against a plain loop over the gradients, through a step, through a checkpoint.</summary>
public class GradientClippingTests
{
    /// <summary>A Dense layer's weight and bias with the given gradients (values all 1).</summary>
    private static List<Parameter> Parameters(float[] weightGradient, float[] biasGradient)
    {
        var dense = new Dense(biasGradient.Length);
        dense.Build([[weightGradient.Length / biasGradient.Length]], new Random(0));
        var ps = dense.Parameters.ToList();
        foreach (var (p, g) in ps.Zip(new[] { weightGradient, biasGradient }))
        {
            p.Value.Span.Fill(1f);
            g.CopyTo(p.Value.GradOrCreate().Span);
        }
        return ps;
    }

    /// <summary>The naive twin: clamp each element, then the global norm in double, then the scale.</summary>
    private static float[][] ClippedReference(float[][] gradients, float? clipValue, float? clipNorm)
    {
        var result = gradients.Select(g => g.Select(v => clipValue is float c ? Math.Clamp(v, -c, c) : v).ToArray()).ToArray();
        double norm = Math.Sqrt(result.Sum(g => g.Sum(v => (double)v * v)));
        if (clipNorm is float max && norm > max)
            result = result.Select(g => g.Select(v => (float)(v * (max / (norm + 1e-6)))).ToArray()).ToArray();
        return result;
    }

    [Theory]
    [InlineData(null, 1f)]     // norm clipping only
    [InlineData(0.5f, null)]   // value clipping only
    [InlineData(0.5f, 0.7f)]   // both: clamp, then the norm of what is left
    [InlineData(null, 1000f)]  // a limit above the norm changes nothing
    public void Clipping_matches_the_plain_loop(float? clipValue, float? clipNorm)
    {
        // A Dense(2) on 37 features: 74 weight gradients in [−2, 2] and two bias gradients, one far out (−7).
        var random = new Random(3);
        var ps = Parameters(Enumerable.Range(0, 74).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray(), [3f, -7f]);
        var expected = ClippedReference(ps.Select(p => p.Value.Grad!.ToArray()).ToArray(), clipValue, clipNorm);
        Optimizer.ClipGradients(ps, clipValue, clipNorm);
        for (int i = 0; i < ps.Count; i++)
        {
            var actual = ps[i].Value.Grad!.ToArray();
            for (int j = 0; j < actual.Length; j++) Assert.Equal(expected[i][j], actual[j], 5e-6f);
        }
        if (clipNorm is float max)
            Assert.True(Math.Sqrt(ps.Sum(p => p.Value.Grad!.ToArray().Sum(v => (double)v * v))) <= max * (1 + 1e-5));
    }

    [Fact]
    public void A_clipped_sgd_step_moves_by_at_most_the_rate_times_the_limit()
    {
        // Plain SGD: the update is −lr·g, so with g clipped to norm 1 the weights move by exactly lr·1 in L2.
        var ps = Parameters([30f, -40f], [0f]);
        var sgd = new Sgd(0.1f) { ClipNorm = 1f };
        sgd.Step(ps);
        Assert.Equal(1f - 0.1f * 0.6f, ps[0].Value.Span[0], 5);   // 30/50 of the unit norm
        Assert.Equal(1f + 0.1f * 0.8f, ps[0].Value.Span[1], 5);   // −40/50
        Assert.Equal(1f, ps[1].Value.Span[0]);
        // A NaN gradient is not hidden by the clipping: the step still applies it, and training reports the divergence.
        var broken = Parameters([float.NaN, 1f], [0f]);
        new Sgd(0.1f) { ClipNorm = 1f }.Step(broken);
        Assert.True(float.IsNaN(broken[0].Value.Span[0]));
    }

    [Fact]
    public void Bad_limits_are_refused_naming_the_value()
    {
        var adam = new Adam();
        Assert.Contains("Received: 0", Assert.Throws<ArgumentOutOfRangeException>(() => adam.ClipNorm = 0f).Message);
        Assert.Contains("Received: -1", Assert.Throws<ArgumentOutOfRangeException>(() => adam.ClipValue = -1f).Message);
        Assert.Contains("Received: NaN", Assert.Throws<ArgumentOutOfRangeException>(() => adam.ClipNorm = float.NaN).Message);
        Assert.Contains($"Received: {float.PositiveInfinity}", Assert.Throws<ArgumentOutOfRangeException>(() => adam.ClipValue = float.PositiveInfinity).Message);
        adam.ClipNorm = 2f;
        adam.ClipNorm = null;
        Assert.Null(adam.ClipNorm);
    }

    [Fact]
    public void A_checkpoint_keeps_the_clipping_and_refuses_a_resume_without_it()
    {
        var random = new Random(5);
        var x = new float[64 * 6];
        var y = new int[64];
        for (int i = 0; i < y.Length; i++) { y[i] = i % 2; for (int j = 0; j < 6; j++) x[i * 6 + j] = (float)random.NextDouble() + y[i]; }
        var data = new InMemoryDataset(x, y, [1, 2, 3], ["a", "b"]);
        Model Build() => new Sequential([1, 2, 3], seed: 1).Top(new Flatten(), new Dense(8), new ReLU(), new Dense(2));
        string path = Path.Combine(Path.GetTempPath(), $"fovea-clip-{Guid.NewGuid():N}.checkpoint");
        try
        {
            var options = new FitOptions { Epochs = 2, BatchSize = 16, Seed = 1, CheckpointPath = path };
            new Trainer(Build(), new Adam(0.01f) { ClipNorm = 0.5f }, new SoftmaxCrossEntropyLoss()).Fit(data, options);
            var checkpoint = TrainingCheckpoint.Load(path);
            var e = Assert.Throws<ArgumentException>(() => new Trainer(Build(), new Adam(0.01f), new SoftmaxCrossEntropyLoss()).Fit(data, options with { Epochs = 3 }, checkpoint));
            Assert.Contains("clip_norm 0.5 (this optimizer: none)", e.Message);
            new Trainer(Build(), new Adam(0.01f) { ClipNorm = 0.5f }, new SoftmaxCrossEntropyLoss()).Fit(data, options with { Epochs = 3 }, checkpoint);
        }
        finally { File.Delete(path); }
    }
}
