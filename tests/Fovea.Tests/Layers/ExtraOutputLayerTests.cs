using Fovea.Autograd;
using Fovea.Kernels;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;
using Fovea.Tensors;
using Fovea.Tests.Autograd;

namespace Fovea.Tests.Layers;

/// <summary>
/// The layers behind ONNX's extra outputs: MaxPoolIndices2D (MaxPool's Indices), InSampleBatchNorm and InSampleBatchMoment
/// (BatchNormalization with training_mode = 1). Values against the kernels' naive twins, no gradient where there is none,
/// validation messages, and model files. Gradients of the two differentiable ones: LayerDoubleGradientTests.
/// </summary>
public class ExtraOutputLayerTests
{
    private static MaxPool2D Pooling() => new((3, 2), (2, 1), Padding.Of(1, 0, 1, 1)) { Dilation = (1, 2) };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MaxPoolIndicesCountOverTheWholeBatch(bool columnMajor)
    {
        var model = new Model([2, 5, 6], "indices");
        var layer = new MaxPoolIndices2D(Pooling(), columnMajor);
        model.Add(layer);
        Assert.Equal([2, 3, 5], layer.OutputShape);
        var x = TestTensors.Random(new Random(3), [3, 2, 5, 6]);
        var y = model.Predict(x);
        // The batch is part of the position: sample 2, channel 1 starts at (2·2 + 1)·30.
        var s = new Pool2dShape(3, 2, 5, 6, 3, 2, 2, 1, 1, 0, 1, 1, 1, 2);
        var expected = new float[s.OutputLength];
        MaxPool2d.IndicesReference(s, x.Span, expected, columnMajor);
        Assert.Equal(expected, y.ToArray());
        Assert.Contains(y.ToArray(), v => v >= 150);
    }

    [Fact]
    public void MaxPoolIndicesHaveNoGradient()
    {
        var layer = new MaxPoolIndices2D(new MaxPool2D(2));
        layer.Build([[1, 4, 4]], new Random(1));
        var x = TestTensors.Random(new Random(2), [2, 1, 4, 4]);
        x.RequiresGrad = true;
        var tape = new Tape();
        Tensor y;
        using (tape.Record()) y = layer.Forward([x], training: true);
        Assert.False(y.RequiresGrad);
        Assert.Equal(0, tape.Count);
    }

    [Fact]
    public void MaxPoolIndicesValidationNamesTheReceivedValues()
    {
        Assert.Throws<ArgumentNullException>(() => new MaxPoolIndices2D(null!));
        var model = new Model([2, 4096, 4096], "big");
        var e = Assert.Throws<ArgumentException>(() => model.Add(new MaxPoolIndices2D(new MaxPool2D(2), name: "where")));
        Assert.Contains("33554432", e.Message);
        Assert.Contains("'where'", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Model([3, 2, 2], "small").Add(new MaxPoolIndices2D(new MaxPool2D(3))));
        Assert.Contains("(3, 2, 2)", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Model([8], "flat").Add(new MaxPoolIndices2D(new MaxPool2D(2))));
        Assert.Contains("(8)", e.Message);

        // Each sample fits, the batch does not: 2 · 2049 · 4096 = 16785408 > 2^24.
        var layer = new MaxPoolIndices2D(new MaxPool2D(2), name: "batch");
        layer.Build([[1, 2049, 4096]], new Random(1));
        e = Assert.Throws<ArgumentException>(() => layer.Forward([new Tensor(2, 1, 2049, 4096)], training: false));
        Assert.Contains("16785408", e.Message);
        Assert.Contains("at most 1 samples", e.Message);
    }

    [Fact]
    public void InSampleBatchNormNormalisesEachSampleByItsOwnStatistics()
    {
        var layer = new InSampleBatchNorm(epsilon: 1e-3f);
        layer.Build([[3, 2, 4, 5]], new Random(1));
        layer.Gamma.CopyFrom(TestTensors.Random(new Random(4), [2]).Span);
        layer.Beta.CopyFrom(TestTensors.Random(new Random(5), [2]).Span);
        var x = TestTensors.Random(new Random(6), [2, 3, 2, 4, 5]);
        for (int i = 60; i < x.Length; i++) x.Span[i] = 3 * x.Span[i] + 1; // the second sample has other statistics
        var y = layer.Forward([x], training: false);
        int size = 120;
        for (int s = 0; s < 2; s++)
        {
            var expected = new float[size];
            BatchNorm2d.ForwardTrainingReference(3, 2, 20, x.Span.Slice(s * size, size), layer.Gamma.Span, layer.Beta.Span, 1e-3f, 0f,
                new float[2], new float[2], expected, new float[2], new float[2]);
            for (int i = 0; i < size; i++)
                Assert.True(Math.Abs(expected[i] - y.Span[s * size + i]) <= 1e-5f * Math.Max(1, Math.Abs(expected[i])), $"sample {s} [{i}]: {y.Span[s * size + i]} vs {expected[i]}");
        }
        Assert.Equal(y.ToArray(), layer.Forward([x], training: true).ToArray()); // no running statistics: both modes agree
    }

    [Fact]
    public void InSampleBatchMomentGivesMeanAndBiasedVariancePerChannel()
    {
        var x = TestTensors.Random(new Random(7), [2, 3, 2, 4]);
        var mean = new InSampleBatchMoment(variance: false);
        var variance = new InSampleBatchMoment(variance: true);
        mean.Build([[3, 2, 4]], new Random(1));
        variance.Build([[3, 2, 4]], new Random(1));
        Assert.Equal([2], mean.OutputShape);
        float[] m = mean.Forward([x], false).ToArray(), v = variance.Forward([x], false).ToArray();
        for (int s = 0; s < 2; s++)
            for (int c = 0; c < 2; c++)
            {
                var values = Enumerable.Range(0, 3).SelectMany(n => Enumerable.Range(0, 4).Select(j => (double)x.Span[((s * 3 + n) * 2 + c) * 4 + j])).ToArray();
                double mu = values.Average(), var = values.Average(t => (t - mu) * (t - mu));
                Assert.Equal(mu, m[s * 2 + c], 6);
                Assert.Equal(var, v[s * 2 + c], 6);
            }
    }

    [Fact]
    public void InSampleValidationNamesTheReceivedValues()
    {
        Assert.Contains("epsilon=-1", Assert.Throws<ArgumentOutOfRangeException>(() => new InSampleBatchNorm(-1f)).Message);
        Assert.Contains("epsilon=NaN", Assert.Throws<ArgumentOutOfRangeException>(() => new InSampleBatchNorm(float.NaN)).Message);
        var e = Assert.Throws<ArgumentException>(() => new Model([5], "flat").Add(new InSampleBatchNorm(name: "bn")));
        Assert.Contains("(5)", e.Message);
        Assert.Contains("'bn'", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Model([1, 3], "one").Add(new InSampleBatchNorm()));
        Assert.Contains("(1, 3) has 1", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Model([7], "flat").Add(new InSampleBatchMoment(true)));
        Assert.Contains("(7)", e.Message);
        // The ops check what a layer's shape checks cannot: parameter lengths and the input rank.
        e = Assert.Throws<ArgumentException>(() => Ops.InSampleBatchNorm(new Tensor(1, 2, 3, 4), new Tensor(2), new Tensor(3), 1e-5f));
        Assert.Contains("3 channels", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.InSampleBatchMoment(new Tensor(4, 5), variance: false));
        Assert.Contains("(4, 5)", e.Message);
    }

    /// <summary>A model with every new layer (the indices and the statistics on side branches) saved and loaded.</summary>
    [Fact]
    public void ModelFilesKeepTheLayersAndEveryBranch()
    {
        var model = new Model([2, 3, 6, 6], "branches", seed: 2);
        var input = model.Input;
        var norm = new InSampleBatchNorm(epsilon: 1e-2f, name: "norm");
        model.Add(norm, input);
        norm.Gamma.CopyFrom(TestTensors.Random(new Random(1), [3]).Span);
        model.Add(new InSampleBatchMoment(variance: true, name: "var"), input);
        model.Add(new Fovea.Layers.Reshape([6, 6, 6], name: "planes"), input);
        var pooled = model.Add(new MaxPool2D(2, name: "pool"));
        model.Add(new MaxPoolIndices2D(Pooling(), columnMajor: true, name: "where"), model.GetNode("planes"));
        model.SetOutput(pooled);
        var x = TestTensors.Random(new Random(9), [2, 2, 3, 6, 6]);
        string path = Path.Combine(Path.GetTempPath(), $"fovea-extra-{Guid.NewGuid():N}.fovea");
        try
        {
            ModelFile.Save(model, path);
            var loaded = ModelFile.Load(path);
            foreach (var name in new[] { "norm", "var", "pool", "where" })
            {
                var expected = model.Predict(x, model.GetNode(name)).ToArray();
                Assert.Equal(expected, loaded.Predict(x, loaded.GetNode(name)).ToArray());
                Assert.Equal(expected, model.ToInference(model.GetNode(name)).Predict(x).ToArray()); // the inference plan runs them as they are
            }
            var where = (MaxPoolIndices2D)loaded.GetLayer("where");
            Assert.True(where.ColumnMajor);
            Assert.Equal((1, 2), where.Dilation);
            Assert.Equal(1e-2f, ((InSampleBatchNorm)loaded.GetLayer("norm")).Epsilon);
        }
        finally { File.Delete(path); }
    }
}
