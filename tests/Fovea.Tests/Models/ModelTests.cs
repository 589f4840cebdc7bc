using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;
using Fovea.Tensors;
using Fovea.Tests.Autograd;

namespace Fovea.Tests.Models;

public class ModelTests
{
    /// <summary>A small residual network: conv-BN-ReLU, a block whose output is added to its input, pooled, dense.</summary>
    internal static Model ResidualNet(int seed = 0)
    {
        var m = new Model([3, 8, 8], "residual", seed);
        var stem = m.Add(new Conv2D(4, 3, padding: 1, name: "stem"));
        var a = m.Add(new BatchNorm2D(), stem);
        a = m.Add(new ReLU(), a);
        var b = m.Add(new Conv2D(4, 3, padding: 1), a);
        b = m.Add(new BatchNorm2D(), b);
        var sum = m.Add(new Add(name: "residual_add"), b, a);
        var r = m.Add(new ReLU(), sum);
        var g = m.AddTop(new GlobalAvgPool2D(), r);
        m.AddTop(new Dense(5, name: "classifier"), g);
        return m;
    }

    [Fact]
    public void CopyUntilKeepsOnlyWhatTheLayerDependsOnWithItsWeights()
    {
        var model = ResidualNet(seed: 3);
        var cut = model.CopyUntil("residual_add");
        // stem, BN, ReLU, conv, BN and the add: not the ReLU after it, nor the top.
        Assert.Equal(6, cut.Layers.Count());
        Assert.Equal("residual_add", cut.Output.Name);
        Assert.All(cut.Nodes.Skip(1), n => Assert.Equal(ModelStage.Base, n.Stage));
        Assert.Empty(cut.StageLayers(ModelStage.Top));
        var x = TestTensors.Random(new Random(1), 2, 3, 8, 8);
        var expected = new Dictionary<string, Tensor> { ["residual_add"] = null! };
        model.Forward(x, capture: expected);
        Assert.Equal(expected["residual_add"].ToArray(), cut.Predict(x).ToArray());
        Assert.Contains("no layer named 'nope'", Assert.Throws<ArgumentException>(() => model.CopyUntil("nope")).Message);
    }

    [Fact]
    public void ReferenceCnnHasTheDocumentedShapesAndParameterCount()
    {
        var model = ModelZoo.Reference([1, 28, 28], 10);
        Assert.Equal(421_642, model.ParameterCount);
        var summary = model.Summary();
        Assert.Equal([64, 7, 7], summary.Layers[5].OutputShape);
        Assert.Equal([10], model.OutputShape);
        // conv1 28·28·32·9·2 + conv2 14·14·64·32·9·2 + dense 3136·128·2 + 128·10·2 flops, plus pooling/ReLU terms
        Assert.Equal(2L * 784 * 32 * 9, summary.Layers[0].Flops);
        Assert.Contains("Total params: 421,642", summary.ToString());
    }

    [Fact]
    public void CompactCnnHasTheDocumentedParameterCountWhateverTheImageSize()
    {
        foreach (int size in new[] { 8, 32, 64, 150 })
        {
            var model = ModelZoo.Compact([3, size, size], 3);
            Assert.Equal(388_896 + 3 * 257, model.ParameterCount);
            Assert.Equal([3], model.OutputShape);
        }
        Assert.Equal([256, 1, 1], ModelZoo.Create("compact", [1, 8, 8], 2).BaseOutput.OutputShape);
    }

    [Fact]
    public void VggSmallHasTheDocumentedShapesParametersAndFlopsOnCifarImages()
    {
        var model = ModelZoo.Create("vgg-small", [3, 32, 32], 10);
        // Convolutions 3·32·9 + 32·32·9 + 32·64·9 + 64·64·9 + 64·128·9 + 128·128·9, BatchNorm scale and shift,
        // Dense 2048·256 + 256 and 256·10 + 10.
        Assert.Equal(286_560 + 2 * (32 + 32 + 64 + 64 + 128 + 128) + 524_544 + 2_570, model.ParameterCount);
        Assert.Equal(814_570, model.ParameterCount);
        Assert.Equal([128, 4, 4], model.BaseOutput.OutputShape);
        Assert.Equal(6, model.Summary().Layers.Count(l => l.Type == "Conv2D"));
        Assert.Equal(78_724_608, model.Summary().TotalFlops);
        Assert.Contains("needs images of at least 8 × 8", Assert.Throws<ArgumentException>(() => ModelZoo.VggSmall([3, 7, 7], 10)).Message);
    }

    [Fact]
    public void GraphModelWithResidualConnectionTrainsAndRoundTrips()
    {
        var model = ResidualNet();
        var x = TestTensors.Random(new Random(1), 4, 3, 8, 8);
        var tape = new Tape();
        Tensor loss;
        using (tape.Record()) loss = new Losses.SoftmaxCrossEntropyLoss().Compute(model.Forward(x, training: true), [0, 1, 2, 3]);
        tape.Backward(loss);
        Assert.All(model.TrainableParameters, p => Assert.NotNull(p.Value.Grad));
        Assert.Contains(model.GetLayer("stem").Parameters, p => p.Value.Grad!.Span.ToArray().Any(v => v != 0));

        string path = Path.Combine(Path.GetTempPath(), $"fovea-residual-{Guid.NewGuid():N}.fovea");
        try
        {
            ModelFile.Save(model, path);
            var loaded = ModelFile.Load(path);
            Assert.Equal(model.Predict(x).ToArray(), loaded.Predict(x).ToArray());
            Assert.Equal(["batchnorm2d_1", "relu"], loaded.Summary().Layers.Single(l => l.Name == "residual_add").Inputs);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void FreezingTheBaseStopsItsUpdatesAndUsesRunningStatistics()
    {
        var model = ResidualNet();
        model.Freeze(ModelStage.Base);
        Assert.All(model.StageLayers(ModelStage.Base), l => Assert.False(l.Trainable));
        Assert.All(model.TrainableParameters, p => Assert.Equal(ModelStage.Top, model.GetNode(p.Owner.Name).Stage));
        var before = model.StageLayers(ModelStage.Base).SelectMany(l => l.Parameters).Select(p => p.Value.ToArray()).ToArray();
        var x = TestTensors.Random(new Random(2), 4, 3, 8, 8);
        var optimizer = new Optimizers.Adam(0.01f);
        for (int step = 0; step < 3; step++)
        {
            var tape = new Tape();
            Tensor loss;
            using (tape.Record()) loss = new Losses.SoftmaxCrossEntropyLoss().Compute(model.Forward(x, training: true), [0, 1, 2, 3]);
            Optimizers.Optimizer.ZeroGrad(model.Parameters);
            tape.Backward(loss);
            optimizer.Step(model.TrainableParameters);
        }
        var after = model.StageLayers(ModelStage.Base).SelectMany(l => l.Parameters).Select(p => p.Value.ToArray()).ToArray();
        Assert.Equal(before, after); // weights and running statistics untouched
        Assert.Equal(model.Predict(x).ToArray(), model.Predict(x).ToArray());
    }

    [Fact]
    public void ForwardHandsBackNamedActivations()
    {
        var model = ModelZoo.Reference([1, 28, 28], 10);
        var capture = new Dictionary<string, Tensor> { ["conv2d"] = null!, ["maxpool2d_1"] = null! };
        model.Forward(new Tensor(2, 1, 28, 28), capture: capture);
        Assert.Equal([2, 32, 28, 28], capture["conv2d"].Shape);
        Assert.Equal([2, 64, 7, 7], capture["maxpool2d_1"].Shape);
    }

    public static TheoryData<string> FusionModels => new() { "reference", "conv-bn-relu" };

    [Theory]
    [MemberData(nameof(FusionModels))]
    public void FusedReluGivesTheSameValuesAndGradientsAsSeparateLayers(string which)
    {
        // Without a capture the model runs each Conv2D -> ReLU pair as one fused op (not Conv2D -> BatchNorm2D, whose
        // ReLU follows the BatchNorm); capturing every node's output turns fusion off. Both runs must agree on the loss
        // and on every gradient, bit for bit.
        var model = which == "reference" ? ModelZoo.Reference([1, 28, 28], 10, seed: 3)
            : new Sequential([1, 28, 28], which, seed: 3)
                .Base(new Conv2D(8, 3, padding: 1, useBias: false), new BatchNorm2D(), new ReLU(), new MaxPool2D(2),
                      new Conv2D(8, 3, padding: 1), new ReLU())
                .Top(new Flatten(), new Dense(10));
        var x = new Tensor(4, 1, 28, 28);
        var rng = new Random(5);
        for (int i = 0; i < x.Length; i++) x.Span[i] = rng.NextSingle();
        int[] labels = [1, 7, 3, 0];
        var parameters = model.TrainableParameters.ToArray();

        (float Loss, float[][] Grads) Run(IDictionary<string, Tensor>? capture)
        {
            foreach (var p in parameters) p.Value.ZeroGrad();
            var tape = new Tape();
            Tensor loss;
            using (tape.Record()) loss = Ops.SoftmaxCrossEntropy(model.Forward(x, training: true, capture), labels, 0f, out _);
            tape.Backward(loss);
            return (loss.Span[0], parameters.Select(p => p.Value.Grad!.ToArray()).ToArray());
        }

        var fused = Run(null);
        var separate = Run(model.Nodes.Skip(1).ToDictionary(n => n.Name, _ => (Tensor)null!));
        Assert.Equal(separate.Loss, fused.Loss);
        for (int i = 0; i < parameters.Length; i++)
            Assert.True(separate.Grads[i].AsSpan().SequenceEqual(fused.Grads[i]), $"gradient of {parameters[i].Name} differs");
        Assert.Contains(fused.Grads[0], g => g != 0f);
    }

    [Fact]
    public void WrongInputShapeNamesTheReceivedShape()
    {
        var model = ModelZoo.Reference([1, 28, 28], 10);
        var e = Assert.Throws<ArgumentException>(() => model.Predict(new Tensor(2, 3, 28, 28)));
        Assert.Contains("(2, 3, 28, 28)", e.Message);
    }

    [Fact]
    public void IncompatibleLayerNamesLayerAndShape()
    {
        var model = new Sequential([1, 4, 4]);
        var e = Assert.Throws<ArgumentException>(() => model.Base(new Dense(3)));
        Assert.Contains("(1, 4, 4)", e.Message);
        Assert.Contains("Flatten", e.Message);
    }

    [Fact]
    public void UnknownLayerNameListsTheLayers()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelZoo.Reference([1, 28, 28], 10).GetLayer("conv9"));
        Assert.Contains("conv9", e.Message);
        Assert.Contains("conv2d_1", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void LayerConstructorsRejectBadValuesNamingThem(int bad)
    {
        Assert.Contains($"filters={bad}", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2D(bad, 3)).Message);
        Assert.Contains($"units={bad}", Assert.Throws<ArgumentOutOfRangeException>(() => new Dense(bad)).Message);
        Assert.Contains($"poolSize=({bad}, {bad})", Assert.Throws<ArgumentOutOfRangeException>(() => new MaxPool2D(bad)).Message);
        Assert.Contains($"stride=({bad}, {bad})", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2D(4, 3, stride: bad)).Message);
    }

    [Fact]
    public void OtherValidationsNameTheValue()
    {
        Assert.Contains("groups=3, filters=32", Assert.Throws<ArgumentException>(() => new Conv2D(32, 3, groups: 3)).Message);
        Assert.Contains("rate=1", Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(1f)).Message);
        Assert.Contains("momentum=2", Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNorm2D(momentum: 2f)).Message);
        Assert.Contains("alpha=NaN", Assert.Throws<ArgumentOutOfRangeException>(() => new LeakyReLU(float.NaN)).Message);
        Assert.Contains("alpha=∞", Assert.Throws<ArgumentOutOfRangeException>(() => new Elu(float.PositiveInfinity)).Message.Replace("Infinity", "∞"));
        Assert.Equal(-1f, new LeakyReLU(-1f).Alpha);
        Assert.Contains("top=-1", Assert.Throws<ArgumentException>(() => Padding.Of(-1, 0, 0, 0)).Message);
        Assert.Contains("'a.b'", Assert.Throws<ArgumentException>(() => new ReLU("a.b")).Message);
        Assert.Contains("(-1, 28)", Assert.Throws<ArgumentException>(() => new Model([-1, 28])).Message);
    }
}
