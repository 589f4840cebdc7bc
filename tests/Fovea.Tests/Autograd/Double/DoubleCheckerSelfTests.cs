using Fovea.Autograd;
using Fovea.Kernels;
using Fovea.Tensors;
using static Fovea.Tests.Autograd.Double.DoubleGradientCheck;

namespace Fovea.Tests.Autograd.Double;

/// <summary>The checker must reject what it exists to catch: a backward 0.1% off, a gradient sent to the wrong element, a wrong forward.</summary>
public class DoubleCheckerSelfTests
{
    /// <summary>Identity forward whose backward multiplies the gradient by <paramref name="scale"/>: a deliberately wrong op.</summary>
    private static Tensor ScaledGradient(Tensor x, float scale) => FaultyIdentity(x, (gy, gx) =>
    {
        for (int i = 0; i < gx.Length; i++) gx[i] += scale * gy[i];
    });

    /// <summary>Identity forward whose backward exchanges the gradients of elements i and j.</summary>
    private static Tensor SwappedGradient(Tensor x, int i, int j) => FaultyIdentity(x, (gy, gx) =>
    {
        for (int k = 0; k < gx.Length; k++) gx[k == i ? j : k == j ? i : k] += gy[k];
    });

    private delegate void Backward(ReadOnlySpan<float> gy, Span<float> gx);

    private static Tensor FaultyIdentity(Tensor x, Backward backward)
    {
        var y = x.Clone();
        if (Tape.ShouldRecord(x))
        {
            y.RequiresGrad = true;
            Tape.Current!.Add(() => { if (y.Grad is not null) backward(y.Grad.Span, x.GradOrCreate().Span); });
        }
        return y;
    }

    private static readonly Conv2dShape s_geometry = new(0, 0, 0, 0, 0, 0, 0, 2, 1, 1, 0, 1, 2, 1, 1, 1);
    private static readonly LinearTwins.ConvSpec s_spec = new(2, 1, 1, 0, 1, 2, 1, 1, 1);
    private static Tensor[] ConvInputs() => [Random(1, 2, 3, 6, 5), Random(2, 4, 3, 3, 3), Random(3, 4)];
    private static double[] ConvTwin(double[][] d) => LinearTwins.Conv2d(d[0], [2, 3, 6, 5], d[1], [4, 3, 3, 3], d[2], s_spec);

    [Fact]
    public void TheCorrectConvolutionPasses() =>
        Assert.Empty(Mismatches(t => Ops.Conv2d(t[0], t[1], t[2], s_geometry), ConvTwin, ConvInputs()));

    [Theory]
    [InlineData(0, 1.001f)]
    [InlineData(0, 0.999f)]
    [InlineData(1, 1.001f)]
    [InlineData(2, 1.001f)]
    public void AGradientScaledByOneTenthOfAPercentFails(int wrongInput, float scale)
    {
        var failures = Mismatches(t =>
        {
            var inputs = t.Select((x, k) => k == wrongInput ? ScaledGradient(x, scale) : x).ToArray();
            return Ops.Conv2d(inputs[0], inputs[1], inputs[2], s_geometry);
        }, ConvTwin, ConvInputs());
        Assert.NotEmpty(failures);
        // Only the tampered input is reported; the forward is still right.
        Assert.All(failures, f => Assert.StartsWith($"d/d input {wrongInput} ", f));
    }

    [Fact]
    public void AGradientSentToTheNeighbouringElementFails()
    {
        var failures = Mismatches(t => Ops.Conv2d(SwappedGradient(t[0], 7, 8), t[1], t[2], s_geometry), ConvTwin, ConvInputs());
        Assert.Equal(2, failures.Count);
        Assert.Contains(failures, f => f.Contains("[7]")); Assert.Contains(failures, f => f.Contains("[8]"));
    }

    [Fact]
    public void ABatchNormGammaGradientScaledByOneTenthOfAPercentFails()
    {
        int[] shape = [3, 2, 4, 3];
        var failures = Mismatches(t => Ops.BatchNorm2d(t[0], ScaledGradient(t[1], 1.001f), t[2], new Tensor(2), Tensor.FromArray([1f, 1f], 2), true, 1e-5f, 0.1f),
            d => NormalizationTwins.BatchNorm(d[0], shape, d[1], d[2], [0, 0], [1, 1], true, 1e-5), [Random(4, shape), Uniform(new Random(5), 0.5f, 1.5f, 2), Random(6, 2)]);
        Assert.NotEmpty(failures);
        Assert.All(failures, f => Assert.StartsWith("d/d input 1 ", f));
    }

    [Fact]
    public void ATwinThatDisagreesInTheForwardFails()
    {
        // Padding off by one in the twin: every output near the border differs, and the gradients with it.
        var shifted = s_spec with { PadLeft = 1, PadRight = 1 };
        var failures = Mismatches(t => Ops.Conv2d(t[0], t[1], t[2], s_geometry),
            d => LinearTwins.Conv2d(d[0], [2, 3, 6, 5], d[1], [4, 3, 3, 3], d[2], shifted), ConvInputs());
        Assert.Contains(failures, f => f.StartsWith("forward output"));
    }
}
