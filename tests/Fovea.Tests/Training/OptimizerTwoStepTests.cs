using Fovea.Layers;
using Fovea.Optimizers;

namespace Fovea.Tests.Training;

/// <summary>
/// Two hand-computed steps through the optimizer classes: the per-parameter state (velocity, moments) and the step
/// count used for Adam's bias correction survive from one <see cref="Optimizer.Step"/> to the next.
/// </summary>
public class OptimizerTwoStepTests
{
    // A one-value learned weight: Dense(1) without bias on one feature.
    private static Parameter Scalar(float value)
    {
        var dense = new Dense(1, useBias: false);
        dense.Build([[1]], new Random(0));
        var p = dense.Parameters.Single();
        p.Value.Span[0] = value;
        return p;
    }

    private static void Step(Optimizer optimizer, Parameter p, float gradient)
    {
        p.Value.GradOrCreate().Span[0] = gradient;
        optimizer.Step([p]);
    }

    [Fact]
    public void SgdMomentumCarriesTheVelocityBetweenSteps()
    {
        var p = Scalar(1f);
        var sgd = new Sgd(0.1f, momentum: 0.9f);
        // Step 1, g = 2: v = 2; p = 1 − 0.1·2 = 0.8
        Step(sgd, p, 2f);
        Assert.Equal(0.8f, p.Value.Span[0], 6);
        // Step 2, g = −1: v = 0.9·2 − 1 = 0.8; p = 0.8 − 0.1·0.8 = 0.72 (without the kept velocity: 0.8 + 0.1 = 0.9)
        Step(sgd, p, -1f);
        Assert.Equal(0.72f, p.Value.Span[0], 6);
    }

    [Fact]
    public void SgdWeightDecayIsAddedToTheGradient()
    {
        var p = Scalar(1f);
        var sgd = new Sgd(0.1f, momentum: 0.9f, weightDecay: 0.5f);
        // Step 1, g = 2: g' = 2 + 0.5·1 = 2.5; v = 2.5; p = 1 − 0.25 = 0.75
        Step(sgd, p, 2f);
        Assert.Equal(0.75f, p.Value.Span[0], 6);
        // Step 2, g = 0: g' = 0.5·0.75 = 0.375; v = 0.9·2.5 + 0.375 = 2.625; p = 0.75 − 0.2625 = 0.4875
        Step(sgd, p, 0f);
        Assert.Equal(0.4875f, p.Value.Span[0], 5);
    }

    [Fact]
    public void AdamCorrectsTheBiasWithTheStepCount()
    {
        var p = Scalar(1f);
        var adam = new Adam(0.01f);
        // Step 1, g = 1: m̂ = 1, v̂ = 1; p = 1 − 0.01 = 0.99
        Step(adam, p, 1f);
        Assert.Equal(1, adam.Steps);
        Assert.Equal(0.99f, p.Value.Span[0], 6);
        // Step 2, g = 3: m = 0.9·0.1 + 0.1·3 = 0.39, v = 0.999·0.001 + 0.001·9 = 0.009999
        // m̂ = 0.39/(1 − 0.9²) = 0.39/0.19 = 2.052632; v̂ = 0.009999/(1 − 0.999²) = 0.009999/0.001999 = 5.002001, sqrt 2.236515
        // p = 0.99 − 0.01·2.052632/2.236515 = 0.99 − 0.01·0.917781 = 0.980822
        Step(adam, p, 3f);
        Assert.Equal(2, adam.Steps);
        Assert.Equal(0.980822f, p.Value.Span[0], 5);
    }
}
