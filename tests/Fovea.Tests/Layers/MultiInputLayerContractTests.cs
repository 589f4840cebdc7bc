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
/// The layer contract of <see cref="LayerContractTests"/> for the layers of more than one input (Add has its own tests
/// there): each sits on two trainable branches of a graph model, (left = 3x3 conv, right = 1x1 conv), with a Flatten and
/// Dense on top. Output shape and parameter count, save/load round trip, one optimizer step lowers the loss and reaches
/// both branches. Gradients are checked against double twins in <see cref="Autograd.Double.LayerDoubleGradientTests"/>
/// and <see cref="Autograd.Double.BranchDoubleGradientTests"/>.
/// </summary>
public class MultiInputLayerContractTests
{
    public sealed record Case(string Id, Func<Layer> Create, int RightFilters, int[] ExpectedOutput, bool ThroughCondition = false)
    {
        public override string ToString() => Id;
    }

    private static readonly Case[] s_cases =
    [
        new("arithmetic-subtract", () => new Arithmetic(BinaryOp.Subtract), 4, [4, 5, 5]),
        new("arithmetic-multiply", () => new Arithmetic(BinaryOp.Multiply), 4, [4, 5, 5]),
        new("arithmetic-maximum", () => new Arithmetic(BinaryOp.Maximum), 4, [4, 5, 5]),
        // The right branch has one channel, broadcast over the left's four.
        new("arithmetic-add-broadcast", () => new Arithmetic(BinaryOp.Add), 1, [4, 5, 5]),
        new("concat-channels", () => new Concat(0), 4, [8, 5, 5]),
        new("concat-last-axis", () => new Concat(-1), 4, [4, 5, 10]),
        new("matmul-pair", () => new MatMulPair(), 4, [4, 5, 5]),
        // Where(left < right, left, right): the elementwise minimum, the condition a third, computed input.
        new("where", () => new Where(), 4, [4, 5, 5], ThroughCondition: true),
    ];

    public static TheoryData<Case> Cases { get { var d = new TheoryData<Case>(); foreach (var c in s_cases) d.Add(c); return d; } }

    private static Model Build(Case c, out Node left, out Node right, out Node joined)
    {
        var model = new Model([3, 5, 5], $"contract-{c.Id}", seed: 5);
        var input = model.Input;
        left = model.Add(new Conv2D(4, 3, padding: Padding.Same, name: "left"), input);
        right = model.Add(new Conv2D(c.RightFilters, 1, name: "right"), input);
        if (c.ThroughCondition)
        {
            var condition = model.Add(new Arithmetic(BinaryOp.Less, name: "condition"), left, right);
            joined = model.Add(c.Create(), condition, left, right);
        }
        else joined = model.Add(c.Create(), left, right);
        model.AddTop(new Flatten());
        model.AddTop(new Dense(3));
        return model;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OutputShapeAndParameterCount(Case c)
    {
        var model = Build(c, out _, out _, out var joined);
        Assert.Equal(c.ExpectedOutput, joined.OutputShape);
        Assert.Equal(0L, joined.Layer!.ParameterCount);
        var x = TestTensors.Random(new Random(1), [2, 3, 5, 5]);
        var captured = new Dictionary<string, Tensor> { [joined.Layer.Name] = null! };
        model.Forward(x, training: true, captured);
        Assert.Equal([2, .. c.ExpectedOutput], captured[joined.Layer.Name].Shape);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SaveLoadRoundTripGivesBitIdenticalPredictions(Case c)
    {
        var model = Build(c, out _, out _, out var joined);
        var x = TestTensors.Random(new Random(2), [3, 3, 5, 5]);
        Step(model, x);
        string path = Path.Combine(Path.GetTempPath(), $"fovea-contract-{c.Id}-{Guid.NewGuid():N}.fovea");
        try
        {
            ModelFile.Save(model, path);
            var loaded = ModelFile.Load(path);
            Assert.Equal(model.Predict(x).ToArray(), loaded.Predict(x).ToArray());
            Assert.Equal(model.Summary().ToString(), loaded.Summary().ToString());
            Assert.Equal(joined.Layer!.TypeName, loaded.GetLayer(joined.Layer.Name).TypeName);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OneOptimizerStepLowersTheLossAndReachesBothBranches(Case c)
    {
        var model = Build(c, out var left, out var right, out _);
        var x = TestTensors.Random(new Random(4), [8, 3, 5, 5]);
        float[] leftBefore = left.Layer!.Parameters[0].Value.ToArray(), rightBefore = right.Layer!.Parameters[0].Value.ToArray();
        double before = LossOf(model, x);
        Step(model, x);
        double after = LossOf(model, x);
        Assert.True(after < before, $"loss did not decrease: {before} -> {after}");
        Assert.NotEqual(leftBefore, left.Layer.Parameters[0].Value.ToArray());
        Assert.NotEqual(rightBefore, right.Layer.Parameters[0].Value.ToArray());
    }

    private static int[] Labels(int n) => Enumerable.Range(0, n).Select(i => i % 3).ToArray();

    private static double LossOf(Model model, Tensor x) =>
        Tape.NoGrad(() => new SoftmaxCrossEntropyLoss().Compute(model.Forward(x, training: true), Labels(x.Dim(0))).Span[0]);

    private static void Step(Model model, Tensor x)
    {
        var tape = new Tape();
        Tensor loss;
        using (tape.Record()) loss = new SoftmaxCrossEntropyLoss().Compute(model.Forward(x, training: true), Labels(x.Dim(0)));
        Optimizer.ZeroGrad(model.Parameters);
        tape.Backward(loss);
        new Sgd(0.05f).Step(model.TrainableParameters);
    }
}
