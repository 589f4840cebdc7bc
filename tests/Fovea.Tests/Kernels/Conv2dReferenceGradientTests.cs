using Fovea.Kernels;

namespace Fovea.Tests.Kernels;

/// <summary>
/// Proves the reference backward twins against the reference forward by central finite differences of
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

    private static double Loss(in Conv2dShape s, float[] x, float[] w, float[] b, float[] g)
    {
        var y = new float[s.OutputLength];
        Conv2d.ForwardReference(s, x, w, b, y);
        double sum = 0;
        for (int i = 0; i < y.Length; i++) sum += (double)y[i] * g[i];
        return sum;
    }

    /// <summary>Central difference of the loss with respect to every element of <paramref name="v"/>, checked against <paramref name="analytic"/>.</summary>
    private static void CheckNumerically(string what, float[] v, float[] analytic, Func<double> loss)
    {
        // The loss is linear in each argument, so the difference quotient is exact up to float rounding of the output.
        const float h = 1e-2f;
        for (int i = 0; i < v.Length; i++)
        {
            float saved = v[i];
            v[i] = saved + h;
            double plus = loss();
            v[i] = saved - h;
            double minus = loss();
            v[i] = saved;
            double numeric = (plus - minus) / (2 * h);
            Assert.True(Math.Abs(numeric - analytic[i]) <= 2e-3 * (1 + Math.Abs(numeric)),
                $"{what}[{i}]: finite difference {numeric} but backward reference gave {analytic[i]}.");
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

        CheckNumerically(name + " dX", x, dx, () => Loss(s, x, w, b, g));
        CheckNumerically(name + " dW", w, dw, () => Loss(s, x, w, b, g));
        CheckNumerically(name + " dB", b, db, () => Loss(s, x, w, b, g));
    }
}
