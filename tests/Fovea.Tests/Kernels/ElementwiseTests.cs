using Fovea.Kernels;

namespace Fovea.Tests.Kernels;

/// <summary>Shared helpers for the numeric-kernel tests: random data, closeness asserts, central-difference gradient checks.</summary>
internal static class NumericKernelTestKit
{
    public static float[] Uniform(int length, int seed, float lo = -1f, float hi = 1f)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < length; i++) a[i] = lo + (hi - lo) * (float)rng.NextDouble();
        return a;
    }

    /// <summary>Distinct values spaced by <paramref name="spacing"/>, shuffled, centred on zero: a stable argmax under small perturbations.</summary>
    public static float[] DistinctShuffled(int length, int seed, float spacing)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < length; i++) a[i] = (i - length / 2) * spacing;
        rng.Shuffle(a);
        return a;
    }

    /// <summary>Values of magnitude at least <paramref name="gap"/> (away from kinks at 0).</summary>
    public static float[] AwayFromZero(int length, int seed, float gap, float max = 2f)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < length; i++)
        {
            float m = gap + (max - gap) * (float)rng.NextDouble();
            a[i] = rng.Next(2) == 0 ? m : -m;
        }
        return a;
    }

    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double atol, double rtol, string context)
    {
        Assert.True(expected.Length == actual.Length, $"{context}: length {actual.Length} != {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (e == a) continue;
            Assert.True(Math.Abs(e - a) <= atol + rtol * Math.Abs(e), $"{context}: element {i}: expected {e:R}, got {a:R}");
        }
    }

    /// <summary>L = sum(output * weights) in double; non-finite outputs (e.g. -inf from empty max windows) are ignored.</summary>
    public static double Loss(ReadOnlySpan<float> output, ReadOnlySpan<float> weights)
    {
        double l = 0;
        for (int i = 0; i < output.Length; i++)
            if (float.IsFinite(output[i])) l += (double)output[i] * weights[i];
        return l;
    }

    /// <summary>
    /// Central differences of <paramref name="loss"/> (as a function of <paramref name="x"/>, perturbed in place) against
    /// <paramref name="analytic"/>; checks at most <paramref name="maxChecks"/> evenly spread indices.
    /// </summary>
    public static void GradientCheck(float[] x, Func<double> loss, ReadOnlySpan<float> analytic, float h, double atol, double rtol, string context, int maxChecks = 200)
    {
        int step = Math.Max(1, x.Length / maxChecks);
        for (int i = 0; i < x.Length; i += step)
        {
            float saved = x[i];
            x[i] = saved + h; double lp = loss();
            x[i] = saved - h; double lm = loss();
            x[i] = saved;
            double numeric = (lp - lm) / (2.0 * h);
            double a = analytic[i];
            Assert.True(Math.Abs(numeric - a) <= atol + rtol * Math.Abs(numeric),
                $"{context}: d/dx[{i}] analytic {a:R} vs numeric {numeric:R}");
        }
    }
}

[Collection(DegreeCollection.Name)]
public class ElementwiseTests : TwoThreadKernelTests
{
    [Fact]
    public void AddAndAxpyMatchReferenceForEveryTail()
    {
        for (int len = 0; len <= 67; len++)
        {
            var a = NumericKernelTestKit.Uniform(len, len);
            var b = NumericKernelTestKit.Uniform(len, len + 100);
            var y1 = new float[len]; var y2 = new float[len];
            Elementwise.Add(a, b, y1);
            Elementwise.AddReference(a, b, y2);
            Assert.Equal(y2, y1);
            var z1 = (float[])b.Clone(); var z2 = (float[])b.Clone();
            Elementwise.Axpy(0.7f, a, z1);
            Elementwise.AxpyReference(0.7f, a, z2);
            NumericKernelTestKit.Close(z2, z1, 1e-6, 1e-6, $"axpy len={len}");
        }
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 3, 17)]
    [InlineData(3, 5, 67)]
    [InlineData(0, 4, 9)]
    [InlineData(2, 4, 0)]
    public void PerChannelBiasAndSumMatchReference(int n, int c, int hw)
    {
        var data = NumericKernelTestKit.Uniform(n * c * hw, 1);
        var bias = NumericKernelTestKit.Uniform(c, 2);
        var d1 = (float[])data.Clone(); var d2 = (float[])data.Clone();
        Elementwise.AddBiasPerChannel(n, c, hw, d1, bias);
        Elementwise.AddBiasPerChannelReference(n, c, hw, d2, bias);
        Assert.Equal(d2, d1);
        var g1 = NumericKernelTestKit.Uniform(c, 3); var g2 = (float[])g1.Clone();
        Elementwise.SumPerChannel(n, c, hw, data, g1);
        Elementwise.SumPerChannelReference(n, c, hw, data, g2);
        NumericKernelTestKit.Close(g2, g1, 1e-5, 1e-5, "sum per channel");
    }

    [Fact]
    public void SumPerChannelIsTheGradientOfAddBias()
    {
        int n = 2, c = 3, hw = 5;
        var data = NumericKernelTestKit.Uniform(n * c * hw, 4);
        var w = NumericKernelTestKit.Uniform(n * c * hw, 5);
        var bias = NumericKernelTestKit.Uniform(c, 6);
        var grad = new float[c];
        Elementwise.SumPerChannel(n, c, hw, w, grad);
        NumericKernelTestKit.GradientCheck(bias, () =>
        {
            var d = (float[])data.Clone();
            Elementwise.AddBiasPerChannel(n, c, hw, d, bias);
            return NumericKernelTestKit.Loss(d, w);
        }, grad, 1e-2f, 1e-3, 1e-3, "bias");
    }

    [Fact]
    public void WrongLengthsNameTheReceivedValues()
    {
        var ex = Assert.Throws<ArgumentException>(() => Elementwise.AddBiasPerChannel(2, 3, 4, new float[23], new float[3]));
        Assert.Contains("23", ex.Message);
        Assert.Contains("24", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Elementwise.SumPerChannel(2, 3, 4, new float[24], new float[5]));
        Assert.Contains("5", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Elementwise.Axpy(1f, new float[7], new float[8]));
        Assert.Contains("8", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Elementwise.Add(new float[7], new float[7], new float[6]));
        Assert.Contains("6", ex.Message);
    }
}
