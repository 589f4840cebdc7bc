using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Losses;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Serialization;
using Fovea.Tensors;
using Fovea.Tests.Autograd;

namespace Fovea.Tests.Layers;

/// <summary>
/// The layer contract (in the spirit of Keras' run_layer_test): output shape as announced, parameter count,
/// save/load round trip with bit-identical outputs, one optimizer step lowers the loss. Gradients are checked against
/// double-precision twins in <see cref="Autograd.Double.LayerDoubleGradientTests"/>.
/// </summary>
public class LayerContractTests
{
    public sealed record Case(string Id, Func<Layer> Create, int[] InputShape, int[] ExpectedOutput, long ExpectedParameters, bool PositiveInput = false, float StepSize = 0.05f)
    {
        public override string ToString() => Id;
    }

    private static readonly Case[] s_cases =
    [
        new("conv-same", () => new Conv2D(4, 3, padding: Padding.Same), [3, 7, 5], [4, 7, 5], 4 * 3 * 9 + 4),
        new("conv-stride2-dilated", () => new Conv2D(6, (3, 3), (2, 2), Padding.Of(1, 2, 0, 1), (2, 2), groups: 2), [4, 9, 8], [6, 3, 4], 6 * 2 * 9 + 6),
        new("conv-1x1-nobias", () => new Conv2D(5, 1, useBias: false), [3, 4, 4], [5, 4, 4], 15),
        new("conv-depthwise", () => new Conv2D(4, 3, padding: 1, groups: 4), [4, 6, 6], [4, 6, 6], 4 * 9 + 4),
        new("maxpool", () => new MaxPool2D(2), [3, 7, 6], [3, 3, 3], 0),
        new("maxpool-overlap-ceil", () => new MaxPool2D(3, stride: 2, padding: 1, ceilMode: true), [2, 8, 7], [2, 5, 4], 0),
        new("avgpool-same", () => new AvgPool2D(2, padding: Padding.Same), [3, 5, 5], [3, 3, 3], 0),
        new("avgpool-include-pad", () => new AvgPool2D(3, stride: 1, padding: 1, countIncludePad: true), [2, 4, 5], [2, 4, 5], 0),
        new("global-avg", () => new GlobalAvgPool2D(), [5, 3, 4], [5], 0),
        new("dense", () => new Dense(7), [11], [7], 11 * 7 + 7),
        new("flatten", () => new Flatten(), [2, 3, 4], [24], 0),
        new("relu", () => new ReLU(), [3, 4, 4], [3, 4, 4], 0),
        new("leaky-relu", () => new LeakyReLU(0.2f), [3, 4, 4], [3, 4, 4], 0),
        new("sigmoid", () => new Sigmoid(), [6], [6], 0),
        new("tanh", () => new Tanh(), [6], [6], 0),
        new("softmax", () => new Softmax(), [6], [6], 0),
        new("dropout", () => new Dropout(0.3f), [3, 4, 4], [3, 4, 4], 0),
        new("batchnorm", () => new BatchNorm2D(), [3, 4, 4], [3, 4, 4], 6),
        new("in-sample-batchnorm", () => new InSampleBatchNorm(), [3, 2, 4, 4], [3, 2, 4, 4], 4),
        new("in-sample-variance", () => new InSampleBatchMoment(variance: true), [3, 2, 4, 4], [2], 0),
        new("in-sample-mean", () => new InSampleBatchMoment(variance: false), [3, 2, 4, 4], [2], 0),
        new("global-max", () => new GlobalMaxPool2D(), [5, 3, 4], [5], 0),
        new("global-max-keepdims", () => new GlobalMaxPool2D(keepDims: true), [5, 3, 4], [5, 1, 1], 0),
        // Its outputs are flat indices over the whole batch (up to ~500 here) with no gradient: only the Dense on top learns, and
        // from inputs that large only a small step stays below the loss's curvature.
        new("maxpool-indices", () => new MaxPoolIndices2D(new MaxPool2D(2)), [2, 5, 6], [2, 2, 3], 0, StepSize: 1e-6f),
        new("clip", () => new Clip(-0.5f, 0.25f), [3, 4], [3, 4], 0),
        new("elu", () => new Elu(1.3f), [3, 4], [3, 4], 0),
        new("elu-negative-alpha", () => new Elu(-0.4f), [3, 4], [3, 4], 0),
        new("axis-softmax", () => new AxisSoftmax(0), [4, 2, 3], [4, 2, 3], 0),
        new("axis-log-softmax-flatten", () => new AxisSoftmax(1, log: true, flattenFrom: true), [4, 2, 3], [4, 2, 3], 0),
        new("exp", () => new Exp(), [3, 4], [3, 4], 0),
        new("log", () => new Log(), [3, 4], [3, 4], 0, PositiveInput: true),
        new("reduce-sum", () => new Reduce(ReduceKind.Sum, [1]), [3, 4, 5], [3, 1, 5], 0),
        new("reduce-max-drop", () => new Reduce(ReduceKind.Max, [0, -1], keepDims: false), [3, 4, 5], [4], 0),
        new("reshape", () => new Reshape([4, 6]), [2, 3, 4], [4, 6], 0),
        new("transpose", () => new Transpose([2, 0, 1]), [2, 3, 4], [4, 2, 3], 0),
        new("pad-reflect", () => new Pad([0, 1, 2], [0, 2, 1], PadMode.Reflect), [2, 4, 3], [2, 7, 6], 0),
        new("pad-beside-crop", () => new Pad([0, -1, 2], [0, 2, -1], PadMode.Edge), [2, 4, 5], [2, 5, 6], 0),
        new("constant-scale-learned", () => new ConstantArithmetic(BinaryOp.Multiply, [3, 1, 1], learnConstant: true), [3, 4, 4], [3, 4, 4], 3),
        new("constant-divide-buffer", () => new ConstantArithmetic(BinaryOp.Divide, [4], constantFirst: true), [3, 4], [3, 4], 0, PositiveInput: true),
        new("matmul-weight", () => new Fovea.Layers.MatMul([4, 2]), [3, 4], [3, 2], 8),
        new("constant-tensor", () => new ConstantTensor([2, 3]), [4], [2, 3], 0),
    ];

    public static TheoryData<Case> Cases { get { var d = new TheoryData<Case>(); foreach (var c in s_cases) d.Add(c); return d; } }

    /// <summary>A batch of <paramref name="n"/> random samples, in [0.5, 1.5] for layers that need positive values (log, a divisor).</summary>
    private static Tensor Input(Case c, int seed, int n) =>
        c.PositiveInput ? TestTensors.Random(new Random(seed), 0.5f, 1.5f, [n, .. c.InputShape]) : TestTensors.Random(new Random(seed), [n, .. c.InputShape]);

    private static Model Wrap(Case c, out Layer layer)
    {
        layer = c.Create();
        var model = new Model(c.InputShape, "contract", seed: 3);
        model.Add(layer);
        model.AddTop(new Flatten());
        model.AddTop(new Dense(3));
        return model;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OutputShapeAndParameterCount(Case c)
    {
        var model = Wrap(c, out var layer);
        Assert.Equal(c.ExpectedOutput, layer.OutputShape);
        Assert.Equal(c.ExpectedParameters, layer.ParameterCount);
        var x = Input(c, 1, 2);
        var captured = new Dictionary<string, Tensor> { [layer.Name] = null! };
        model.Forward(x, training: true, captured);
        Assert.Equal([2, .. c.ExpectedOutput], captured[layer.Name].Shape);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SaveLoadRoundTripGivesBitIdenticalPredictions(Case c)
    {
        var model = Wrap(c, out _);
        var x = Input(c, 2, 3);
        // A training step first, so running statistics and weights differ from their initial values.
        new Trainer(model).Step(x);
        string path = Path.Combine(Path.GetTempPath(), $"fovea-contract-{c.Id}-{Guid.NewGuid():N}.fovea");
        try
        {
            ModelFile.Save(model, path);
            var loaded = ModelFile.Load(path);
            Assert.Equal(model.Predict(x).ToArray(), loaded.Predict(x).ToArray());
            Assert.Equal(model.Summary().ToString(), loaded.Summary().ToString());
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OneOptimizerStepLowersTheLoss(Case c)
    {
        var model = Wrap(c, out _);
        var x = Input(c, 4, 8);
        var trainer = new Trainer(model, c.StepSize);
        // Batch statistics in both measurements (BatchNorm); dropout's random mask would blur the comparison, so inference for it.
        bool training = c.Id != "dropout";
        double before = trainer.LossOf(x, training);
        trainer.Step(x);
        double after = trainer.LossOf(x, training);
        Assert.True(after < before, $"loss did not decrease: {before} -> {after}");
    }

    // The residual Add takes two inputs, so it cannot go through Wrap: a graph model with a trainable layer on each branch.
    private static Model ResidualModel(out Node left, out Node right, out Node sum)
    {
        var model = new Model([3, 5, 5], "residual-contract", seed: 5);
        var input = model.Input;
        left = model.Add(new Conv2D(4, 3, padding: Padding.Same, name: "left"), input);
        right = model.Add(new Conv2D(4, 1, name: "right"), input);
        sum = model.Add(new Add(name: "sum"), left, right);
        model.AddTop(new Flatten());
        model.AddTop(new Dense(3));
        return model;
    }

    [Fact]
    public void AddOutputShapeParameterCountAndValues()
    {
        var model = ResidualModel(out _, out _, out var sum);
        Assert.Equal([4, 5, 5], sum.OutputShape);
        Assert.Equal(0L, sum.Layer!.ParameterCount);
        var x = TestTensors.Random(new Random(1), [2, 3, 5, 5]);
        var captured = new Dictionary<string, Tensor> { ["left"] = null!, ["right"] = null!, ["sum"] = null! };
        model.Forward(x, training: true, captured);
        Assert.Equal([2, 4, 5, 5], captured["sum"].Shape);
        float[] l = captured["left"].ToArray(), r = captured["right"].ToArray(), y = captured["sum"].ToArray();
        for (int i = 0; i < y.Length; i++)
            Assert.True(y[i] == l[i] + r[i], $"sum[{i}] = {y[i]}, expected left + right = {l[i]} + {r[i]}");
    }

    [Fact]
    public void AddSaveLoadRoundTripGivesBitIdenticalPredictions()
    {
        var model = ResidualModel(out _, out _, out _);
        var x = TestTensors.Random(new Random(2), [3, 3, 5, 5]);
        new Trainer(model).Step(x);
        string path = Path.Combine(Path.GetTempPath(), $"fovea-contract-add-{Guid.NewGuid():N}.fovea");
        try
        {
            ModelFile.Save(model, path);
            var loaded = ModelFile.Load(path);
            Assert.Equal(model.Predict(x).ToArray(), loaded.Predict(x).ToArray());
            Assert.Equal(model.Summary().ToString(), loaded.Summary().ToString());
            Assert.Equal("Add", loaded.GetLayer("sum").TypeName);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AddOneOptimizerStepLowersTheLossAndReachesBothBranches()
    {
        var model = ResidualModel(out var left, out var right, out _);
        var x = TestTensors.Random(new Random(4), [8, 3, 5, 5]);
        var trainer = new Trainer(model);
        float[] leftBefore = left.Layer!.Parameters[0].Value.ToArray(), rightBefore = right.Layer!.Parameters[0].Value.ToArray();
        double before = trainer.LossOf(x, training: true);
        trainer.Step(x);
        double after = trainer.LossOf(x, training: true);
        Assert.True(after < before, $"loss did not decrease: {before} -> {after}");
        // Add passes the gradient to both inputs, so both branches' weights move.
        Assert.NotEqual(leftBefore, left.Layer.Parameters[0].Value.ToArray());
        Assert.NotEqual(rightBefore, right.Layer.Parameters[0].Value.ToArray());
    }

    /// <summary>Minimal training helper: cross-entropy against fixed labels.</summary>
    private sealed class Trainer(Model model, float learningRate = 0.05f)
    {
        private readonly Optimizer _optimizer = new Sgd(learningRate);
        private static int[] Labels(int n) => Enumerable.Range(0, n).Select(i => i % 3).ToArray();

        public double LossOf(Tensor x, bool training) => Tape.NoGrad(() => new SoftmaxCrossEntropyLoss().Compute(model.Forward(x, training), Labels(x.Dim(0))).Span[0]);

        public void Step(Tensor x)
        {
            var tape = new Tape();
            Tensor loss;
            using (tape.Record()) loss = new SoftmaxCrossEntropyLoss().Compute(model.Forward(x, training: true), Labels(x.Dim(0)));
            Optimizer.ZeroGrad(model.Parameters);
            tape.Backward(loss);
            _optimizer.Step(model.TrainableParameters);
        }
    }
}
