using Fovea.Kernels;
using static Fovea.Tests.Kernels.NumericKernelTestKit;

namespace Fovea.Tests.Kernels;

[Collection(DegreeCollection.Name)]
public class AvgPool2dTests : TwoThreadKernelTests
{
    private static IEnumerable<Pool2dShape> Shapes()
    {
        foreach (var s in MaxPool2dTests.Shapes)
        {
            yield return s with { CountIncludePad = false };
            yield return s with { CountIncludePad = true };
        }
    }

    [Fact]
    public void ForwardAndBackwardMatchReference()
    {
        int k = 0;
        foreach (var s in Shapes())
        {
            k++;
            var x = Uniform(s.InputLength, k);
            var y1 = new float[s.OutputLength]; var y2 = new float[s.OutputLength];
            AvgPool2d.Forward(s, x, y1);
            AvgPool2d.ForwardReference(s, x, y2);
            Close(y2, y1, 1e-6, 1e-5, s.ToString());
            var gy = Uniform(s.OutputLength, 300 + k);
            var g1 = Uniform(s.InputLength, 400 + k); var g2 = (float[])g1.Clone();
            AvgPool2d.Backward(s, gy, g1);
            AvgPool2d.BackwardReference(s, gy, g2);
            Close(g2, g1, 1e-6, 1e-5, s.ToString());
        }
    }

    [Fact]
    public void BackwardMatchesFiniteDifferences()
    {
        int k = 0;
        foreach (var s in Shapes())
        {
            k++;
            if (s.InputLength > 2000) continue;
            var x = Uniform(s.InputLength, k);
            var w = Uniform(s.OutputLength, 500 + k);
            var y = new float[s.OutputLength];
            var g = new float[s.InputLength];
            AvgPool2d.Backward(s, w, g);
            GradientCheck(x, () => { AvgPool2d.Forward(s, x, y); return Loss(y, w); }, g, 1e-2f, 2e-3, 2e-3, s.ToString());
        }
    }

    [Fact]
    public void DivisorCountsPaddingOnlyWhenAsked()
    {
        var s = new Pool2dShape(1, 1, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1);
        var ones = Enumerable.Repeat(1f, 9).ToArray();
        var y = new float[4];
        AvgPool2d.Forward(s, ones, y);
        Assert.Equal([1f, 1f, 1f, 1f], y);
        AvgPool2d.Forward(s with { CountIncludePad = true }, ones, y);
        Assert.Equal([0.25f, 0.5f, 0.5f, 1f], y);
    }

    [Fact]
    public void CeilModeTapsBeyondThePaddingAreNotCounted()
    {
        // 4x4, window 3, stride 2, ceil: the last window covers rows/cols 2..4 and 4 is beyond the (zero) padding.
        var s = new Pool2dShape(1, 1, 4, 4, 3, 3, 2, 2, CeilMode: true, CountIncludePad: true);
        Assert.Equal(2, s.OutHeight);
        var ones = Enumerable.Repeat(1f, 16).ToArray();
        var y = new float[4];
        AvgPool2d.Forward(s, ones, y);
        Assert.Equal([1f, 1f, 1f, 1f], y);
        // With one pad after, the padded tap counts but the one past it does not: divisor 3 per axis at the end.
        var p = new Pool2dShape(1, 1, 4, 4, 3, 3, 2, 2, 0, 0, 1, 1, CeilMode: true, CountIncludePad: true);
        var yp = new float[p.OutputLength];
        AvgPool2d.Forward(p, ones, yp);
        Assert.Equal(2, p.OutWidth);
        Assert.Equal([1f, 2f / 3f, 2f / 3f, 4f / 9f], yp);
    }

    [Fact]
    public void WrongLengthsNameTheReceivedValues()
    {
        var s = new Pool2dShape(1, 3, 4, 4, 2, 2, 2, 2);
        var ex = Assert.Throws<ArgumentException>(() => AvgPool2d.Forward(s, new float[48], new float[10]));
        Assert.Contains("Output span has 10 elements but the pooling shape needs 12", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => AvgPool2d.Backward(s, new float[12], new float[49]));
        Assert.Contains("49", ex.Message);
    }
}
