using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Losses;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Tensors;
using Fovea.Tests.Autograd;

namespace Fovea.Tests.Layers;

/// <summary><see cref="Layer.Freeze"/> on one layer: its weights stay put while the layers around it keep learning.</summary>
public class LayerFreezeTests
{
    private static Sequential Net() => new Sequential([2, 6, 6], "freeze", seed: 7)
        .Base(new Conv2D(3, 3, padding: 1, name: "first"), new ReLU(), new Conv2D(4, 3, padding: 1, name: "middle"), new ReLU())
        .Top(new Flatten(), new Dense(3, name: "head"));

    private static void TrainStep(Model model, Optimizer optimizer, Tensor x)
    {
        var tape = new Tape();
        Tensor loss;
        using (tape.Record()) loss = new SoftmaxCrossEntropyLoss().Compute(model.Forward(x, training: true), [0, 1, 2, 0]);
        Optimizer.ZeroGrad(model.Parameters);
        tape.Backward(loss);
        // Every parameter is offered: the frozen layer must be skipped by the optimizer, not by the caller's filter.
        optimizer.Step(model.Parameters);
    }

    private static float[][] Weights(Layer layer) => layer.Parameters.Select(p => p.Value.ToArray()).ToArray();

    [Fact]
    public void AFrozenLayerKeepsItsWeightsWhileTheOthersChange()
    {
        var model = Net();
        var middle = model.GetLayer("middle");
        middle.Freeze();
        Assert.False(middle.Trainable);
        Assert.DoesNotContain(model.TrainableParameters, p => p.Owner == middle);

        var x = TestTensors.Random(new Random(3), 4, 2, 6, 6);
        var first = Weights(model.GetLayer("first"));
        var frozen = Weights(middle);
        var head = Weights(model.GetLayer("head"));
        // Weight decay moves every weight it reaches, even one whose gradient happened to be zero.
        TrainStep(model, new Sgd(0.1f, weightDecay: 0.01f), x);

        for (int i = 0; i < frozen.Length; i++)
            Assert.True(frozen[i].AsSpan().SequenceEqual(middle.Parameters[i].Value.Span), $"frozen parameter {middle.Parameters[i].Name} changed");
        // The head learns, and so does the layer before the frozen one: the gradient passes through it.
        Assert.NotEqual(head[0], model.GetLayer("head").Parameters[0].Value.ToArray());
        Assert.NotEqual(first[0], model.GetLayer("first").Parameters[0].Value.ToArray());
    }

    [Fact]
    public void UnfreezingLetsTheLayerLearnAgain()
    {
        var model = Net();
        var middle = model.GetLayer("middle");
        middle.Freeze();
        middle.Unfreeze();
        Assert.True(middle.Trainable);
        var before = Weights(middle);
        TrainStep(model, new Sgd(0.1f, weightDecay: 0.01f), TestTensors.Random(new Random(3), 4, 2, 6, 6));
        Assert.NotEqual(before[0], middle.Parameters[0].Value.ToArray());
    }
}
