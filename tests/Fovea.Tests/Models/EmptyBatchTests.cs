using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Tensors;
using Fovea.Tests.Autograd;

namespace Fovea.Tests.Models;

/// <summary>
/// A batch of 0 samples ([0, ...InputShape]) runs through every layer type and gives an empty result of the right shape
/// [0, ...OutputShape], through Predict and the inference snapshot; a recorded forward and backward pass on it leaves
/// every weight gradient at zero.
/// </summary>
[Collection(DegreeCollection.Name)]
public class EmptyBatchTests
{
    public sealed record Case(string Id, int[] InputShape, Func<Model, Node> Build)
    {
        public override string ToString() => Id;
    }

    private static Node One(Model m, Layer layer) => m.Add(layer);

    private static readonly Case[] s_cases =
    [
        new("conv-same", [3, 7, 5], m => One(m, new Conv2D(4, 3, padding: Padding.Same))),
        new("conv-stride2-dilated-groups", [4, 9, 8], m => One(m, new Conv2D(6, (3, 3), (2, 2), Padding.Of(1, 2, 0, 1), (2, 2), groups: 2))),
        new("conv-1x1-nobias", [3, 4, 4], m => One(m, new Conv2D(5, 1, useBias: false))),
        new("conv-depthwise", [4, 6, 6], m => One(m, new Conv2D(4, 3, padding: 1, groups: 4))),
        new("conv-winograd-size", [16, 12, 12], m => One(m, new Conv2D(16, 3, padding: 1))),
        new("conv-stem-7x7-stride2", [3, 32, 32], m => One(m, new Conv2D(8, 7, stride: 2, padding: 3))),
        new("conv-bn-relu", [3, 8, 8], m => m.Add(new ReLU(), m.Add(new BatchNorm2D(), m.Add(new Conv2D(8, 3, padding: 1, useBias: false))))),
        new("residual", [4, 6, 6], m =>
        {
            var c = m.Add(new BatchNorm2D(), m.Add(new Conv2D(4, 3, padding: 1, useBias: false), m.Input));
            return m.Add(new ReLU(), m.Add(new Add(), c, m.Input));
        }),
        new("maxpool", [3, 7, 6], m => One(m, new MaxPool2D(2))),
        new("maxpool-overlap-ceil", [2, 8, 7], m => One(m, new MaxPool2D(3, stride: 2, padding: 1, ceilMode: true))),
        new("maxpool-indices", [2, 6, 6], m => One(m, new MaxPoolIndices2D(new MaxPool2D(2)))),
        new("avgpool-same", [3, 5, 5], m => One(m, new AvgPool2D(2, padding: Padding.Same))),
        new("avgpool-include-pad", [2, 4, 5], m => One(m, new AvgPool2D(3, stride: 1, padding: 1, countIncludePad: true))),
        new("global-avg", [5, 3, 4], m => One(m, new GlobalAvgPool2D())),
        new("global-max-keep", [5, 3, 4], m => One(m, new GlobalMaxPool2D(keepDims: true))),
        new("dense", [11], m => One(m, new Dense(7))),
        new("flatten-dense", [2, 3, 4], m => m.Add(new Dense(3), m.Add(new Flatten()))),
        new("relu", [3, 4, 4], m => One(m, new ReLU())),
        new("leaky-relu", [3, 4, 4], m => One(m, new LeakyReLU(0.2f))),
        new("sigmoid", [6], m => One(m, new Sigmoid())),
        new("tanh", [6], m => One(m, new Tanh())),
        new("softmax", [6], m => One(m, new Softmax())),
        new("axis-softmax", [4, 2, 3], m => One(m, new AxisSoftmax(0, log: true))),
        new("dropout", [3, 4, 4], m => One(m, new Dropout(0.3f))),
        new("clip", [3, 4], m => One(m, new Clip(-0.5f, 0.5f))),
        new("elu", [3, 4], m => One(m, new Elu())),
        new("exp", [3, 4], m => One(m, new Exp())),
        new("log", [3, 4], m => One(m, new Log())),
        new("batchnorm", [3, 4, 4], m => One(m, new BatchNorm2D())),
        new("in-sample-batchnorm", [3, 2, 4, 4], m => One(m, new InSampleBatchNorm())),
        new("in-sample-variance", [3, 2, 4, 4], m => One(m, new InSampleBatchMoment(variance: true))),
        new("reshape", [2, 3, 4], m => One(m, new Reshape([4, 6]))),
        new("transpose", [2, 3, 4], m => One(m, new Transpose([2, 0, 1]))),
        new("pad-reflect", [2, 4, 3], m => One(m, new Pad([0, 1, 2], [0, 2, 1], PadMode.Reflect))),
        new("pad-constant", [2, 4, 3], m => One(m, new Pad([1, 1, 0], [0, 1, 1], PadMode.Constant, 2f))),
        new("reduce-max", [2, 3, 4], m => One(m, new Reduce(ReduceKind.Max, [1], keepDims: false))),
        new("reduce-sum", [2, 3, 4], m => One(m, new Reduce(ReduceKind.Sum, [0, 2]))),
        new("matmul", [3, 4], m => One(m, new MatMul([4, 5]))),
        new("constant-arithmetic", [3, 4], m => One(m, new ConstantArithmetic(BinaryOp.Multiply, [4]))),
        new("constant-tensor", [3, 4], m => One(m, new ConstantTensor([2, 2]))),
        new("add", [3, 4], m => m.Add(new Add(), m.Input, m.Add(new ReLU()))),
        new("arithmetic", [3, 4], m => m.Add(new Arithmetic(BinaryOp.Divide), m.Input, m.Add(new Exp()))),
        new("concat", [3, 4], m => m.Add(new Concat(1), m.Input, m.Add(new ReLU()))),
        new("where", [3, 4], m => m.Add(new Where(), m.Add(new Arithmetic(BinaryOp.Less), m.Input, m.Add(new ReLU())), m.Input, m.Add(new Exp(), m.Input))),
        new("matmul-pair", [3, 4], m => m.Add(new MatMulPair(), m.Input, m.Add(new Transpose([1, 0]), m.Input))),
    ];

    public static TheoryData<Case> Cases { get { var d = new TheoryData<Case>(); foreach (var c in s_cases) d.Add(c); return d; } }

    private static Model Create(Case c)
    {
        var model = new Model(c.InputShape, c.Id, seed: 2);
        model.SetOutput(c.Build(model));
        return model;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PredictOnAnEmptyBatchGivesAnEmptyResultOfTheOutputShape(Case c)
    {
        var model = Create(c);
        var y = model.Predict(new Tensor([0, .. c.InputShape]));
        Assert.Equal([0, .. model.OutputShape], y.Shape);
        Assert.Equal(0, y.Length);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void InferenceSnapshotOnAnEmptyBatchGivesAnEmptyResultOnAnyThreadCount(Case c)
    {
        // Kernels split batches and channels over threads: no part count may come out 0 or divide by it.
        var model = Create(c);
        int saved = Parallelism.Degree;
        try
        {
            foreach (int degree in new[] { 1, 3, 8 })
            {
                Parallelism.Degree = degree;
                var y = model.ToInference().Predict(new Tensor([0, .. c.InputShape]));
                Assert.Equal([0, .. model.OutputShape], y.Shape);
            }
        }
        finally { Parallelism.Degree = saved; }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BackwardOnAnEmptyBatchGivesZeroWeightGradients(Case c)
    {
        // Training mode too, except through BatchNorm, which refuses it (see ZeroSizeTests). A real batch runs first in
        // the same arena, so its buffers hold values an empty step must not pick up as gradients.
        var model = Create(c);
        var arena = new TensorArena();
        bool[] modes = model.Layers.Any(l => l is BatchNorm2D) ? [false] : [false, true];
        foreach (var (training, batch) in modes.SelectMany(t => new[] { (t, 2), (t, 0) }))
        {
            arena.ReleaseAll();
            foreach (var p in model.Parameters) p.Value.ZeroGrad();
            using (arena.Activate())
            {
                var x = TestTensors.Random(new Random(batch), [batch, .. c.InputShape]);
                x.RequiresGrad = true;
                var tape = new Tape();
                Tensor y;
                using (tape.Record())
                {
                    var z = model.Forward(x, training);
                    y = Ops.Reduce(z, Enumerable.Range(0, z.Rank).ToArray(), keepDims: false, ReduceKind.Sum);
                }
                tape.Backward(y);
                if (batch > 0) continue;
                Assert.Equal(0f, y.Span[0]);
                foreach (var p in model.Parameters)
                    if (p.Value.Grad is { } g) Assert.All(g.ToArray(), v => Assert.Equal(0f, v));
            }
        }
        arena.ReleaseAll();
    }
}
