using Fovea.Layers;
using Fovea.Models;
using Fovea.Tensors;

namespace Fovea.Tests.Models;

// InferenceModel folds BatchNorm into convolutions and fuses residual adds and ReLU; its outputs must be the model's
// own up to float rounding, for every graph shape the planner treats differently.
[Collection(DegreeCollection.Name)]
public class InferenceModelTests
{
    private static Tensor RandomInput(int[] sampleShape, int batch, int seed)
    {
        var x = new Tensor([batch, .. sampleShape]);
        var rng = new Random(seed);
        for (int i = 0; i < x.Length; i++) x.Span[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>Gives every BatchNorm non-trivial statistics and affine weights, so folding has something to fold.</summary>
    private static void RandomizeBatchNorms(Model model, int seed)
    {
        var rng = new Random(seed);
        foreach (var bn in model.Layers.OfType<BatchNorm2D>())
        {
            for (int c = 0; c < bn.Gamma.Length; c++)
            {
                bn.Gamma.Span[c] = (float)(0.5 + rng.NextDouble());
                bn.Beta.Span[c] = (float)(rng.NextDouble() - 0.5);
                bn.RunningMean.Span[c] = (float)(rng.NextDouble() - 0.5);
                bn.RunningVariance.Span[c] = (float)(0.2 + rng.NextDouble());
            }
        }
    }

    private static void AssertSameOutputs(Model model, Tensor x, InferenceModel fast)
    {
        var expected = model.Predict(x);
        var actual = fast.Predict(x);
        Assert.Equal(expected.Shape, actual.Shape);
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected.Span[i], a = actual.Span[i];
            Assert.True(Math.Abs(e - a) <= 1e-4f * (1 + Math.Abs(e)), $"{model.Name}: output {i} = {a}, model gives {e}");
        }
    }

    /// <summary>A ResNet-style network: stem conv-BN-ReLU, an identity block, a strided block with a 1x1 shortcut.</summary>
    private static Model ResNetLike()
    {
        var m = new Model([3, 26, 24], "resnet-like", seed: 3); // 16 channels on 26x24: the identity block takes Winograd
        var x = m.Add(new ReLU(), m.Add(new BatchNorm2D(), m.Add(new Conv2D(16, 3, padding: 1, useBias: false))));
        // identity block: relu(bn(conv(relu(bn(conv(x))))) + x)
        var b = m.Add(new ReLU(), m.Add(new BatchNorm2D(), m.Add(new Conv2D(16, 3, padding: 1, useBias: false), x)));
        b = m.Add(new BatchNorm2D(), m.Add(new Conv2D(16, 3, padding: 1, useBias: false), b));
        x = m.Add(new ReLU(), m.Add(new Add(), b, x));
        // strided block; the shortcut's BN output is computed before the main branch's last conv
        var shortcut = m.Add(new BatchNorm2D(), m.Add(new Conv2D(32, 1, stride: 2, useBias: false), x));
        var c = m.Add(new ReLU(), m.Add(new BatchNorm2D(), m.Add(new Conv2D(32, 3, stride: 2, padding: 1, useBias: false), x)));
        c = m.Add(new BatchNorm2D(), m.Add(new Conv2D(32, 3, padding: 1), c));
        x = m.Add(new ReLU(), m.Add(new Add(), shortcut, c));
        m.AddTop(new Dense(4), m.AddTop(new Flatten(), m.AddTop(new GlobalAvgPool2D(), x)));
        return m;
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 2)]
    [InlineData(5, 2)]
    public void ResNetLikeGraphMatchesTheModel(int batch, int threads)
    {
        var model = ResNetLike();
        RandomizeBatchNorms(model, 1);
        int saved = Parallelism.Degree;
        Parallelism.Degree = threads;
        try
        {
            var fast = model.ToInference();
            Assert.Equal(6, fast.FusedConvolutions);
            Assert.Equal(6, fast.FoldedBatchNorms);
            AssertSameOutputs(model, RandomInput(model.InputShape, batch, 2), fast);
        }
        finally { Parallelism.Degree = saved; }
    }

    [Fact]
    public void ProfileListsEveryStepInOrderWithItsKernel()
    {
        var model = ResNetLike();
        var fast = model.ToInference();
        var profile = fast.Profile(RandomInput(model.InputShape, 2, 3), runs: 3);
        // Stem, identity block (2 convs, the second with the residual), strided block (the main branch's two convs, then
        // the shortcut, whose BatchNorm's only consumer is the Add: it takes the main branch as residual), then the head.
        Assert.Equal(
            ["Conv2D+BatchNorm2D+ReLU", "Conv2D+BatchNorm2D+ReLU", "Conv2D+BatchNorm2D+Add+ReLU", "Conv2D+BatchNorm2D+ReLU",
             "Conv2D+BatchNorm2D", "Conv2D+BatchNorm2D+Add+ReLU", "GlobalAvgPool2D", "Flatten", "Dense"],
            profile.Select(t => t.Kind.Split(' ')[0]).ToArray());
        Assert.Equal(fast.FusedConvolutions, profile.Count(t => t.Kind.StartsWith("Conv2D", StringComparison.Ordinal)));
        Assert.Contains("(winograd", profile[1].Kind); // the 16-channel 3x3 stride-1 identity convs
        var convNames = model.Nodes.Where(n => n.Layer is Conv2D).Select(n => n.Name).ToArray();
        Assert.Equal(convNames.Order(), profile.Take(6).Select(t => t.Layer.Split('+')[0]).Order());
        Assert.Equal(4, profile[2].Layer.Split('+').Length); // conv, BatchNorm, Add, ReLU
        Assert.All(profile, t => Assert.True(t.Milliseconds >= 0 && double.IsFinite(t.Milliseconds)));
        Assert.Throws<ArgumentException>(() => fast.Profile(RandomInput([3, 8, 8], 1, 1)));
    }

    [Fact]
    public void ZooModelsAndTheSmallResidualNetMatch()
    {
        foreach (var model in new[] { ModelZoo.Default([1, 28, 28], 10), ModelZoo.Reference([3, 16, 16], 7), ModelTests.ResidualNet() })
        {
            RandomizeBatchNorms(model, 4);
            AssertSameOutputs(model, RandomInput(model.InputShape, 3, 5), model.ToInference());
        }
    }

    [Fact]
    public void SharedOrOutputValuesAreNotFusedAway()
    {
        // The first conv's output feeds two layers, so it must stay a value of its own (no fusion); the second conv
        // may absorb the BatchNorm that is the model output, since the fused step then produces that output.
        var m = new Model([2, 9, 9], "shared");
        var conv = m.Add(new Conv2D(8, 3, padding: 1));
        var left = m.Add(new ReLU(), conv);
        var right = m.Add(new Sigmoid(), conv);
        var sum = m.Add(new Add(), left, right);
        m.Add(new BatchNorm2D(), m.Add(new Conv2D(4, 3), sum));
        RandomizeBatchNorms(m, 6);
        var fast = m.ToInference();
        Assert.Equal(1, fast.FusedConvolutions);
        Assert.Equal(1, fast.FoldedBatchNorms);
        AssertSameOutputs(m, RandomInput(m.InputShape, 2, 7), fast);
    }

    [Fact]
    public void IsASnapshotOfTheWeights()
    {
        var model = ModelTests.ResidualNet();
        var x = RandomInput(model.InputShape, 2, 8);
        var fast = model.ToInference();
        var before = fast.Predict(x);
        var stem = (Conv2D)model.GetLayer("stem");
        stem.Weight.Span.Fill(0.5f);
        Assert.Equal(before.Span.ToArray(), fast.Predict(x).Span.ToArray());
        AssertSameOutputs(model, x, model.ToInference());
    }

    [Fact]
    public void IsASnapshotOfUnfusedLayersAndTheNormalizationToo()
    {
        // The classifier (Dense) runs unfused: it must not read the model's later weights either.
        var model = ModelTests.ResidualNet();
        var x = RandomInput(model.InputShape, 2, 8);
        var fast = model.ToInference();
        var before = fast.Predict(x).Span.ToArray();
        ((Dense)model.GetLayer("classifier")).Weight.Span.Fill(0.5f);
        model.Normalization = new InputNormalization([0.1f, 0.2f, 0.3f], [2f, 3f, 4f]);
        Assert.Equal(before, fast.Predict(x).Span.ToArray());
        AssertSameOutputs(model, x, model.ToInference());
        var normalized = model.ToInference();
        model.Normalization!.Mean[0] = 5f; // the arrays of the record the model holds
        Assert.NotEqual(model.Predict(x).Span.ToArray(), normalized.Predict(x).Span.ToArray());
    }

    [Fact]
    public void ConcurrentPredictionsAgree()
    {
        var model = ResNetLike();
        RandomizeBatchNorms(model, 9);
        var fast = model.ToInference();
        var inputs = Enumerable.Range(0, 8).Select(i => RandomInput(model.InputShape, 1 + i % 3, 10 + i)).ToArray();
        var serial = inputs.Select(x => fast.Predict(x).Span.ToArray()).ToArray();
        var parallel = new float[inputs.Length][];
        Parallel.For(0, inputs.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var y = fast.Predict(inputs[i % inputs.Length]).Span.ToArray();
            if (i >= inputs.Length * 3) parallel[i % inputs.Length] = y;
        });
        for (int i = 0; i < inputs.Length; i++) Assert.Equal(serial[i], parallel[i]);
    }

    [Fact]
    public void WrongInputShapeNamesBothShapes()
    {
        var fast = ModelTests.ResidualNet().ToInference();
        var e = Assert.Throws<ArgumentException>(() => fast.Predict(new Tensor(1, 3, 8, 9)));
        Assert.Contains("[N, 3, 8, 8]", e.Message);
        Assert.Contains(Tensor.ShapeToString([1, 3, 8, 9]), e.Message);
    }
}
