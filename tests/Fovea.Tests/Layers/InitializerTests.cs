using Fovea.Layers;
using Fovea.Models;

namespace Fovea.Tests.Layers;

/// <summary>
/// He and Glorot initialisers: the spread they promise, the fans the layers hand them (groups included), and seeding.
/// Tolerances sit well beyond six standard errors of the estimates, so a correct initialiser cannot fail them.
/// </summary>
public class InitializerTests
{
    private static (double Mean, double Std, double MaxAbs) Stats(ReadOnlySpan<float> values)
    {
        double sum = 0, sumSq = 0, maxAbs = 0;
        foreach (float v in values) { sum += v; sumSq += (double)v * v; maxAbs = Math.Max(maxAbs, Math.Abs(v)); }
        double mean = sum / values.Length;
        return (mean, Math.Sqrt(sumSq / values.Length - mean * mean), maxAbs);
    }

    private static void StdNear(double expected, double actual, double relativeTolerance, string what) =>
        Assert.True(Math.Abs(actual - expected) <= relativeTolerance * expected, $"{what}: std {actual:G6}, expected {expected:G6} ± {relativeTolerance:P1}");

    [Fact]
    public void HeNormalHasStandardDeviationSqrtTwoOverFanIn()
    {
        var values = new float[1_000_000];
        Initializers.Fill(values, Initializer.HeNormal, fanIn: 50, fanOut: 7, new Random(11));
        var (mean, std, _) = Stats(values);
        // sqrt(2 / 50) = 0.2. Standard error of the std ≈ 0.2 / sqrt(2·10⁶) = 1.4e-4 (0.07%): 1% is over 14 sigma.
        StdNear(0.2, std, 0.01, "He normal, fanIn 50");
        // Standard error of the mean = 0.2 / sqrt(10⁶) = 2e-4: 0.002 is 10 sigma.
        Assert.True(Math.Abs(mean) < 0.002, $"He normal mean {mean:G4}, expected 0");
    }

    [Fact]
    public void GlorotUniformStaysWithinSqrtSixOverFanInPlusFanOut()
    {
        var values = new float[1_000_000];
        Initializers.Fill(values, Initializer.GlorotUniform, fanIn: 20, fanOut: 40, new Random(12));
        var (mean, std, maxAbs) = Stats(values);
        // limit = sqrt(6 / (20 + 40)) = sqrt(0.1) = 0.316228
        double limit = 0.316228;
        Assert.True(maxAbs <= limit, $"Glorot uniform max |w| {maxAbs:G7} exceeds the limit {limit}");
        // P(all 10⁶ draws inside 0.999·limit) = 0.999^10⁶ ≈ e^-1000: the draws do reach the limit.
        Assert.True(maxAbs > 0.999 * limit, $"Glorot uniform max |w| {maxAbs:G7}, expected close to {limit}");
        // Uniform(±a) has std a / sqrt(3) = 0.182574; its standard error here ≈ 0.05%, so 1% is 20 sigma.
        StdNear(0.182574, std, 0.01, "Glorot uniform");
        Assert.True(Math.Abs(mean) < 0.002, $"Glorot uniform mean {mean:G4}, expected 0");
    }

    [Fact]
    public void DenseUsesItsInputFeaturesAsFanIn()
    {
        var dense = new Dense(500, initializer: Initializer.HeNormal);
        dense.Build([[2000]], new Random(13));
        var (_, std, _) = Stats(dense.Parameters[0].Value.Span);
        // 500·2000 = 10⁶ weights; sqrt(2 / 2000) = 0.0316228 (fanIn = units would give 0.0632)
        StdNear(0.0316228, std, 0.01, "Dense(500) He normal on 2000 features");
    }

    [Fact]
    public void GroupedConvolutionCountsOnlyTheChannelsOfItsGroup()
    {
        // 256 input channels in 4 groups: each filter sees 64 channels of 3x3, fanIn = 64·9 = 576;
        // 256·64·9 = 147,456 weights, std standard error ≈ 1 / sqrt(2·147456) = 0.18%: 3% is 16 sigma.
        var he = new Conv2D(256, 3, groups: 4, initializer: Initializer.HeNormal);
        he.Build([[256, 5, 5]], new Random(14));
        var (_, std, _) = Stats(he.Parameters[0].Value.Span);
        // sqrt(2 / 576) = 0.0589256 (ignoring groups, fanIn 2304, would give 0.0294628)
        StdNear(0.0589256, std, 0.03, "grouped Conv2D He normal");

        // fanOut = 256 / 4 filters per group · 9 = 576; limit = sqrt(6 / (576 + 576)) = sqrt(0.00520833) = 0.0721688
        var glorot = new Conv2D(256, 3, groups: 4, initializer: Initializer.GlorotUniform);
        glorot.Build([[256, 5, 5]], new Random(15));
        var (_, _, maxAbs) = Stats(glorot.Parameters[0].Value.Span);
        // Within the limit, and 147,456 draws reach past 0.99 of it (miss probability 0.99^147456 ≈ e^-1482).
        Assert.True(maxAbs <= 0.0721688 && maxAbs > 0.99 * 0.0721688, $"grouped Conv2D Glorot uniform max |w| {maxAbs:G6}, expected just under 0.0721688");
    }

    private static float[][] InitialWeights(int seed) => new Sequential([3, 8, 8], "seeded", seed)
        .Base(new Conv2D(3, 3), new Conv2D(3, 3), new Conv2D(4, 3, initializer: Initializer.GlorotNormal))
        .Top(new Flatten(), new Dense(5), new Dense(2, initializer: Initializer.HeUniform))
        .Parameters.Select(p => p.Value.ToArray()).ToArray();

    [Fact]
    public void TheSameSeedGivesTheSameWeights()
    {
        var a = InitialWeights(seed: 21);
        var b = InitialWeights(seed: 21);
        var c = InitialWeights(seed: 22);
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i]);
        // Every kernel (the even entries; odd ones are zero biases) changes with the seed.
        for (int i = 0; i < a.Length; i += 2) Assert.NotEqual(a[i], c[i]);
        // Two layers of the same shape in one model draw different values (each layer has its own stream).
        Assert.NotEqual(a[0], a[2]);
        var x = new float[1000]; var y = new float[1000];
        Initializers.Fill(x, Initializer.HeNormal, 10, 10, new Random(5));
        Initializers.Fill(y, Initializer.HeNormal, 10, 10, new Random(5));
        Assert.Equal(x, y);
    }
}
