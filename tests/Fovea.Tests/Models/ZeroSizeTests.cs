using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Losses;
using Fovea.Data;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Serialization;
using Fovea.Tensors;
using Fovea.Tests.Autograd;
using Fovea.Training;

namespace Fovea.Tests.Models;

/// <summary>
/// Zero-size data: an empty batch through a small classifier, samples with a 0 dimension through the layers that only
/// move values, clear refusals (naming the shape) from the layers that compute over values and from training on nothing.
/// </summary>
[Collection(DegreeCollection.Name)]
public class ZeroSizeTests
{
    private static Model SmallCnn(bool batchNorm = false)
    {
        var m = new Model([3, 12, 12], "small-cnn", seed: 1);
        m.Add(new Conv2D(8, 3, padding: 1));
        if (batchNorm) m.Add(new BatchNorm2D());
        m.Add(new ReLU());
        m.Add(new MaxPool2D(2));
        m.Add(new Conv2D(16, 3, padding: 1));
        m.Add(new ReLU());
        m.Add(new GlobalAvgPool2D());
        m.AddTop(new Dense(10));
        return m;
    }

    [Fact]
    public void AnEmptyBatchOfImagesGivesAnEmptyResultOfShapeZeroByClasses()
    {
        var model = SmallCnn(batchNorm: true);
        model.Normalization = new InputNormalization([0.5f, 0.4f, 0.3f], [0.2f, 0.2f, 0.2f]);
        var empty = new Tensor(0, 3, 12, 12);
        Assert.Equal([0, 10], model.Predict(empty).Shape);
        Assert.Equal([0, 10], model.PredictProbabilities(empty).Shape);
        var fast = model.ToInference();
        Assert.Equal(1, fast.FoldedBatchNorms);
        Assert.Equal([0, 10], fast.Predict(empty).Shape);
        Assert.Equal([0, 10], fast.PredictProbabilities(empty).Shape);
        Assert.Equal([0, 8, 6, 6], model.Predict(empty, model.Nodes[4]).Shape);
        // The same model still answers a real batch afterwards.
        Assert.Equal([2, 10], fast.Predict(TestTensors.Random(new Random(3), 2, 3, 12, 12)).Shape);
    }

    [Fact]
    public void PredictingAnEmptyDataSetGivesNoRowsAndTrainingOnOneIsRefused()
    {
        var model = SmallCnn();
        var trainer = new Trainer(model, new Sgd(0.1f));
        var none = new InMemoryDataset([], [], [3, 12, 12], Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray());
        Assert.Equal([0, 10], trainer.Predict(none).Shape);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => trainer.Fit(none, new FitOptions { Epochs = 1 })).Message);
    }

    [Fact]
    public void AnEmptyBatchRunsOnEveryThreadCount()
    {
        var model = SmallCnn();
        foreach (int degree in new[] { 1, 2, 4 })
        {
            int saved = Parallelism.Degree;
            Parallelism.Degree = degree;
            try { Assert.Equal([0, 10], model.ToInference().Predict(new Tensor(0, 3, 12, 12)).Shape); }
            finally { Parallelism.Degree = saved; }
        }
    }

    [Fact]
    public void TrainingOnAnEmptyBatchIsRefusedNamingTheShape()
    {
        // BatchNorm's batch statistics of no values would be NaN: refused before the running statistics change.
        var bn = SmallCnn(batchNorm: true);
        var running = bn.Layers.OfType<BatchNorm2D>().Single().RunningMean.ToArray();
        var e = Assert.Throws<ArgumentException>(() => bn.Forward(new Tensor(0, 3, 12, 12), training: true));
        Assert.Contains("(0, 8, 12, 12)", e.Message);
        Assert.Equal(running, bn.Layers.OfType<BatchNorm2D>().Single().RunningMean.ToArray());

        // Without BatchNorm the forward pass gives [0, 10], but a loss over no samples is undefined.
        var model = SmallCnn();
        var tape = new Tape();
        using (tape.Record())
        {
            var y = model.Forward(new Tensor(0, 3, 12, 12), training: true);
            Assert.Equal([0, 10], y.Shape);
            foreach (Loss loss in new Loss[] { new SoftmaxCrossEntropyLoss(), new MeanSquaredErrorLoss(), new BinaryCrossEntropyLoss() })
            {
                var le = Assert.Throws<ArgumentException>(() => loss.Compute(y, []));
                Assert.Contains("empty batch", le.Message);
                Assert.Contains("(0, 10)", le.Message);
            }
        }
    }

    [Fact]
    public void ModelsTakeZeroButNotNegativeInputDimensions()
    {
        Assert.Equal([0, 28], new Model([0, 28]).InputShape);
        Assert.Contains("(-1, 28)", Assert.Throws<ArgumentException>(() => new Model([-1, 28])).Message);
        Assert.Contains("()", Assert.Throws<ArgumentException>(() => new Model([])).Message);
        // A layer's own configuration still needs positive sizes.
        Assert.Contains("units=0", Assert.Throws<ArgumentOutOfRangeException>(() => new Dense(0)).Message);
        Assert.Contains("kernelSize=(0, 0)", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2D(4, 0)).Message);
        Assert.Contains("filters=0", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2D(0, 3)).Message);
        Assert.Contains("(2, 0)", Assert.Throws<ArgumentException>(() => new MatMul([2, 0])).Message);
    }

    /// <summary>A layer on samples of <paramref name="Input"/>: runs giving <paramref name="Output"/>, or (Output null) is refused naming the shape.</summary>
    public sealed record SampleCase(string Id, int[] Input, Func<Layer> Create, int[]? Output)
    {
        public override string ToString() => Id;
    }

    private static readonly SampleCase[] s_samples =
    [
        new("reshape", [0, 3, 4], () => new Reshape([3, 4, 0]), [3, 4, 0]),
        new("flatten", [2, 0, 3], () => new Flatten(), [0]),
        new("transpose", [2, 0, 3], () => new Transpose([1, 2, 0]), [0, 3, 2]),
        new("relu", [0, 5], () => new ReLU(), [0, 5]),
        new("softmax", [0], () => new Softmax(), [0]),
        new("axis-softmax-over-empty", [3, 0], () => new AxisSoftmax(1), [3, 0]),
        new("constant-arithmetic", [2, 0], () => new ConstantArithmetic(BinaryOp.Add, [1]), [2, 0]),
        new("pad-constant", [0, 3], () => new Pad([1, 0], [1, 0], PadMode.Constant, 5f), [2, 3]),
        new("reduce-sum-over-empty", [0, 4], () => new Reduce(ReduceKind.Sum, [0]), [1, 4]),
        new("batchnorm-inference", [3, 0, 4], () => new BatchNorm2D(), [3, 0, 4]),
        new("batchnorm-no-channels", [0, 4, 4], () => new BatchNorm2D(), [0, 4, 4]),
        new("global-avg-no-channels", [0, 3, 4], () => new GlobalAvgPool2D(), [0]),
        new("global-max-no-channels", [0, 3, 4], () => new GlobalMaxPool2D(keepDims: true), [0, 1, 1]),
        new("matmul-empty-rows", [0, 4], () => new MatMul([4, 3]), [0, 3]),
        new("constant-tensor", [0, 2], () => new ConstantTensor([2, 2]), [2, 2]),
        new("conv-no-channels", [0, 5, 5], () => new Conv2D(4, 3), null),
        new("conv-no-rows", [3, 0, 5], () => new Conv2D(4, 1), null),
        new("maxpool-no-channels", [0, 4, 4], () => new MaxPool2D(2), null),
        new("avgpool-no-rows", [2, 0, 4], () => new AvgPool2D(1), null),
        new("maxpool-indices", [0, 4, 4], () => new MaxPoolIndices2D(new MaxPool2D(2)), null),
        new("global-avg-empty-image", [3, 0, 4], () => new GlobalAvgPool2D(), null),
        new("global-max-empty-image", [3, 4, 0], () => new GlobalMaxPool2D(), null),
        new("pad-edge-empty-axis", [0, 3], () => new Pad([1, 0], [0, 0], PadMode.Edge), null),
        new("dense-no-features", [0], () => new Dense(3), null),
        new("reduce-max-over-empty", [0, 4], () => new Reduce(ReduceKind.Max, [0]), null),
        new("in-sample-moment", [0, 2, 3], () => new InSampleBatchMoment(variance: false), null),
        new("in-sample-batchnorm", [0, 2, 3], () => new InSampleBatchNorm(), null),
    ];

    public static TheoryData<SampleCase> SampleCases { get { var d = new TheoryData<SampleCase>(); foreach (var c in s_samples) d.Add(c); return d; } }

    [Theory]
    [MemberData(nameof(SampleCases))]
    public void SamplesWithAZeroDimensionRunOrAreRefusedNamingTheShape(SampleCase c)
    {
        var model = new Model(c.Input, c.Id);
        var layer = c.Create();
        if (c.Output is null)
        {
            var e = Assert.ThrowsAny<ArgumentException>(() => model.Add(layer));
            Assert.Contains(Tensor.ShapeToString(c.Input), e.Message);
            Assert.Contains(layer.Name, e.Message);
            return;
        }
        model.Add(layer);
        Assert.Equal(c.Output, model.OutputShape);
        foreach (int batch in new[] { 2, 0 })
        {
            var y = model.Predict(new Tensor([batch, .. c.Input]));
            Assert.Equal([batch, .. c.Output], y.Shape);
            Assert.Equal([batch, .. c.Output], model.ToInference().Predict(new Tensor([batch, .. c.Input])).Shape);
        }
    }

    [Fact]
    public void EmptyOperandsGiveTheValuesTheirRulesDefine()
    {
        // Concatenating an empty part adds nothing; padding an empty axis gives only the fill; a sum over nothing is 0.
        var m = new Model([3, 4], "concat-empty");
        var none = m.Add(new ConstantTensor([0, 4]), m.Input);
        m.Add(new Concat(0), none, m.Input);
        var x = TestTensors.Random(new Random(5), 2, 3, 4);
        Assert.Equal(x.ToArray(), m.Predict(x).ToArray());

        var pad = new Model([0, 3], "pad-empty");
        pad.Add(new Pad([1, 0], [0, 0], PadMode.Constant, 5f));
        Assert.All(pad.Predict(new Tensor(2, 0, 3)).ToArray(), v => Assert.Equal(5f, v));

        var sum = new Model([0, 4], "sum-empty");
        sum.Add(new Reduce(ReduceKind.Sum, [0]));
        Assert.All(sum.Predict(new Tensor(2, 0, 4)).ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void AModelWithAnEmptyInputDimensionSavesAndLoads()
    {
        var model = new Model([0, 3, 4], "empty-input");
        model.Add(new Reshape([3, 4, 0]));
        model.Add(new Flatten());
        string path = Path.Combine(Path.GetTempPath(), $"fovea-zero-{Guid.NewGuid():N}.fovea");
        try
        {
            ModelFile.Save(model, path);
            var loaded = ModelFile.Load(path);
            Assert.Equal([0, 3, 4], loaded.InputShape);
            Assert.Equal([5, 0], loaded.Predict(new Tensor(5, 0, 3, 4)).Shape);
            Assert.Contains("(0, 3, 4)", loaded.Summary().ToString());
        }
        finally { File.Delete(path); }
    }
}
