using Fovea.Data;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Training;

namespace Fovea.Tests.Training;

/// <summary>Evaluate(mistakes: N): the N wrong predictions with the lowest probability of the true class.</summary>
public class MistakesTests
{
    private static (Trainer Trainer, InMemoryDataset Data) Untrained(Layer? last = null)
    {
        var random = new Random(7);
        var x = new float[300 * 8];
        var y = new int[300];
        for (int i = 0; i < x.Length; i++) x[i] = (float)random.NextDouble();
        for (int i = 0; i < y.Length; i++) y[i] = i % 3;
        var model = new Sequential([2, 2, 2], seed: 3).Top(new Flatten(), new Dense(3));
        if (last is not null) model.Add(last);
        return (new Trainer(model, new Sgd(0f)), new InMemoryDataset(x, y, [2, 2, 2], ["a", "b", "c"]));
    }

    [Theory]
    [InlineData(false)] // scores: a softmax is taken
    [InlineData(true)]  // the model ends in Softmax: its outputs are the probabilities
    public void The_worst_mistakes_match_a_plain_ranking_of_every_prediction(bool softmax)
    {
        var (trainer, data) = Untrained(softmax ? new Softmax() : null);
        var probabilities = trainer.Predict(data).ToArray();
        var expected = Enumerable.Range(0, data.Count)
            .Select(i => (Index: i, Label: data.GetLabel(i), Row: probabilities.AsSpan(i * 3, 3).ToArray()))
            .Select(s => (s.Index, s.Label, Predicted: Array.IndexOf(s.Row, s.Row.Max()), PTrue: s.Row[s.Label]))
            .Where(s => s.Predicted != s.Label).OrderBy(s => s.PTrue).ThenBy(s => s.Index).Take(10).ToList();

        // Batches of 64 cut the data: indices run across them.
        var result = trainer.Evaluate(data, batchSize: 64, mistakes: 10);
        Assert.Equal(10, result.Mistakes.Count);
        Assert.Equal(expected.Select(e => e.Index), result.Mistakes.Select(m => m.Index));
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(expected[i].Label, result.Mistakes[i].Label);
            Assert.Equal(expected[i].Predicted, result.Mistakes[i].Predicted);
            Assert.Equal(expected[i].PTrue, result.Mistakes[i].TrueProbability, 5);
            Assert.Equal(probabilities[expected[i].Index * 3 + expected[i].Predicted], result.Mistakes[i].PredictedProbability, 5);
        }
        // More asked than there are: every mistake; none asked (the default): none.
        int wrong = (int)Math.Round(result.Count * (1 - result.Accuracy));
        Assert.Equal(wrong, trainer.Evaluate(data, mistakes: 1000).Mistakes.Count);
        Assert.Empty(trainer.Evaluate(data).Mistakes);
        Assert.Contains("-1", Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Evaluate(data, mistakes: -1)).Message);
    }
}
