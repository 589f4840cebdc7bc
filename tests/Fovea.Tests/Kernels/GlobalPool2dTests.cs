using Fovea.Kernels;
using static Fovea.Tests.Kernels.NumericKernelTestKit;

namespace Fovea.Tests.Kernels;

[Collection(DegreeCollection.Name)]
public class GlobalPool2dTests : TwoThreadKernelTests
{
    public static TheoryData<int, int, int> Sizes => new() { { 1, 1, 1 }, { 2, 3, 7 }, { 3, 2, 49 }, { 2, 5, 67 }, { 0, 3, 4 } };

    [Theory, MemberData(nameof(Sizes))]
    public void MatchReference(int n, int c, int hw)
    {
        var x = Uniform(n * c * hw, hw);
        var y1 = new float[n * c]; var y2 = new float[n * c];
        GlobalPool2d.AverageForward(n, c, hw, x, y1);
        GlobalPool2d.AverageForwardReference(n, c, hw, x, y2);
        Close(y2, y1, 1e-6, 1e-5, "avg");
        var gy = Uniform(n * c, 9);
        var g1 = Uniform(n * c * hw, 10); var g2 = (float[])g1.Clone();
        GlobalPool2d.AverageBackward(n, c, hw, gy, g1);
        GlobalPool2d.AverageBackwardReference(n, c, hw, gy, g2);
        Close(g2, g1, 1e-6, 1e-5, "avg backward");

        for (int i = 0; i < x.Length; i += 5) x[i] = MathF.Round(x[i]); // ties and ±0
        var a1 = new int[n * c]; var a2 = new int[n * c];
        GlobalPool2d.MaxForward(n, c, hw, x, y1, a1);
        GlobalPool2d.MaxForwardReference(n, c, hw, x, y2, a2);
        Assert.Equal(a2, a1);
        Assert.Equal(y2, y1);
        g1 = Uniform(n * c * hw, 10); g2 = (float[])g1.Clone();
        GlobalPool2d.MaxBackward(n, c, hw, gy, a1, g1);
        GlobalPool2d.MaxBackwardReference(n, c, hw, gy, a1, g2);
        Assert.Equal(g2, g1);
    }

    [Fact]
    public void NaNWinsTheMax()
    {
        float[] x = [1, float.NaN, 3, float.NaN];
        var y = new float[1]; var a = new int[1];
        GlobalPool2d.MaxForward(1, 1, 4, x, y, a);
        Assert.Equal(1, a[0]);
        GlobalPool2d.MaxForwardReference(1, 1, 4, x, y, a);
        Assert.Equal(1, a[0]);
    }

    [Fact]
    public void BackwardsMatchFiniteDifferences()
    {
        int n = 2, c = 3, hw = 10;
        var w = Uniform(n * c, 1);
        var y = new float[n * c]; var a = new int[n * c];
        var x = Uniform(n * c * hw, 2);
        var g = new float[x.Length];
        GlobalPool2d.AverageBackward(n, c, hw, w, g);
        GradientCheck(x, () => { GlobalPool2d.AverageForward(n, c, hw, x, y); return Loss(y, w); }, g, 1e-2f, 1e-3, 1e-3, "avg");
        x = DistinctShuffled(n * c * hw, 3, 0.01f);
        GlobalPool2d.MaxForward(n, c, hw, x, y, a);
        g = new float[x.Length];
        GlobalPool2d.MaxBackward(n, c, hw, w, a, g);
        GradientCheck(x, () => { GlobalPool2d.MaxForward(n, c, hw, x, y, a); return Loss(y, w); }, g, 1e-3f, 1e-3, 1e-3, "max");
    }

    [Fact]
    public void WrongLengthsNameTheReceivedValues()
    {
        var ex = Assert.Throws<ArgumentException>(() => GlobalPool2d.AverageForward(2, 3, 4, new float[24], new float[5]));
        Assert.Contains("5", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => GlobalPool2d.MaxForward(2, 3, 4, new float[25], new float[6], new int[6]));
        Assert.Contains("25", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => GlobalPool2d.MaxBackward(2, 3, 4, new float[6], new int[6] { 0, 4, 8, 12, 16, 99 }, new float[24]));
        Assert.Contains("99", ex.Message);
    }
}
