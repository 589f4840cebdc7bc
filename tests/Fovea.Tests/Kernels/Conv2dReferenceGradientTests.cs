using Fovea.Kernels;

namespace Fovea.Tests.Kernels;

/// <summary>
/// Proves the reference backward twins against a double-precision forward (the test project's naive twin) by central finite differences of
/// L = Σ output · G (G random), so dL/dOutput = G and the backward references must return dL/dInput, dL/dWeight, dL/dBias.
/// </summary>
public class Conv2dReferenceGradientTests
{
    public static TheoryData<string, Conv2dShape> Cases() => new()
    {
        { "plain", new Conv2dShape(2, 2, 5, 4, 3, 3, 3) },
        { "stride2 asym pad", new Conv2dShape(1, 3, 7, 6, 2, 3, 2, 2, 2, 1, 0, 2, 1) },
        { "stride3 dilation2", new Conv2dShape(2, 2, 9, 8, 2, 2, 3, 3, 1, 1, 2, 0, 1, 2, 2) },
        { "groups2", new Conv2dShape(1, 4, 5, 5, 4, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 2) },
        { "depthwise", new Conv2dShape(2, 3, 5, 4, 3, 3, 3, 2, 1, 1, 1, 0, 1, Groups: 3) },
    };

    private static float[] Random(int length, int seed)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    private static double Loss(in Conv2dShape s, double[] x, double[] w, double[] b, float[] g)
    {
        var spec = new Fovea.Tests.Autograd.Double.LinearTwins.ConvSpec(s.StrideHeight, s.StrideWidth, s.PadTop, s.PadLeft, s.PadBottom, s.PadRight,
            s.DilationHeight, s.DilationWidth, s.Groups);
        var y = Fovea.Tests.Autograd.Double.LinearTwins.Conv2d(x, [s.Batch, s.InChannels, s.InHeight, s.InWidth], w,
            [s.OutChannels, s.InChannelsPerGroup, s.KernelHeight, s.KernelWidth], b, spec);
        double sum = 0;
        for (int i = 0; i < y.Length; i++) sum += y[i] * g[i];
        return sum;
    }

    /// <summary>
    /// Central difference of the double-precision loss with respect to every element of <paramref name="v"/>, checked
    /// against <paramref name="analytic"/> (float). The loss is linear in each argument, so the quotient is exact up to
    /// double rounding; the tolerance is the float32 one of <see cref="Fovea.Tests.Autograd.Double.DoubleGradientCheck"/>
    /// with the largest fan-in of the case.
    /// </summary>
    private static void CheckNumerically(string what, double[] v, float[] analytic, int fanIn, Func<double> loss)
    {
        const double h = 1e-6;
        for (int i = 0; i < v.Length; i++)
        {
            double saved = v[i];
            v[i] = saved + h;
            double plus = loss();
            v[i] = saved - h;
            double minus = loss();
            v[i] = saved;
            double numeric = (plus - minus) / (2 * h);
            double tolerance = Fovea.Tests.Autograd.Double.DoubleGradientCheck.GradientUnit * Math.Sqrt(fanIn) * Math.Max(1, Math.Abs(numeric));
            Assert.True(Math.Abs(numeric - analytic[i]) <= tolerance,
                $"{what}[{i}]: double finite difference {numeric} but backward reference gave {analytic[i]} (tolerance {tolerance:G3}).");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReferenceBackwardMatchesFiniteDifferences(string name, Conv2dShape s)
    {
        float[] x = Random(s.InputLength, 21), w = Random(s.WeightLength, 22), b = Random(s.OutChannels, 23);
        float[] g = Random(s.OutputLength, 24);

        var dx = new float[s.InputLength];
        Conv2d.BackwardInputReference(s, g, w, dx);
        var dw = new float[s.WeightLength];
        var db = new float[s.OutChannels];
        Conv2d.BackwardWeightReference(s, g, x, dw, db);

        double[] xd = Array.ConvertAll(x, v => (double)v), wd = Array.ConvertAll(w, v => (double)v), bd = Array.ConvertAll(b, v => (double)v);
        int perOutput = s.OutHeight * s.OutWidth * s.Batch;
        CheckNumerically(name + " dX", xd, dx, s.OutChannelsPerGroup * s.KernelHeight * s.KernelWidth, () => Loss(s, xd, wd, bd, g));
        CheckNumerically(name + " dW", wd, dw, perOutput, () => Loss(s, xd, wd, bd, g));
        CheckNumerically(name + " dB", bd, db, perOutput, () => Loss(s, xd, wd, bd, g));
    }
}
