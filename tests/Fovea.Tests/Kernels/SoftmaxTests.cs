using Fovea.Kernels;
using static Fovea.Tests.Kernels.NumericKernelTestKit;

namespace Fovea.Tests.Kernels;

[Collection(DegreeCollection.Name)]
public class SoftmaxTests : TwoThreadKernelTests
{
    public static TheoryData<int, int> Sizes => new() { { 1, 1 }, { 1, 7 }, { 3, 8 }, { 4, 17 }, { 2, 67 }, { 5, 300 }, { 0, 5 }, { 3, 0 } };

    [Theory, MemberData(nameof(Sizes))]
    public void ForwardAndBackwardMatchReference(int rows, int cols)
    {
        var x = Uniform(rows * cols, cols, -5, 5);
        var gy = Uniform(rows * cols, cols + 1);
        foreach (bool log in new[] { false, true })
        {
            var y1 = new float[x.Length]; var y2 = new float[x.Length];
            if (log) { Softmax.LogForward(rows, cols, x, y1); Softmax.LogForwardReference(rows, cols, x, y2); }
            else { Softmax.Forward(rows, cols, x, y1); Softmax.ForwardReference(rows, cols, x, y2); }
            Close(y2, y1, 2e-6, 1e-5, $"log={log} forward");
            var g1 = Uniform(x.Length, 9); var g2 = (float[])g1.Clone();
            if (log) { Softmax.LogBackward(rows, cols, y2, gy, g1); Softmax.LogBackwardReference(rows, cols, y2, gy, g2); }
            else { Softmax.Backward(rows, cols, y2, gy, g1); Softmax.BackwardReference(rows, cols, y2, gy, g2); }
            Close(g2, g1, 2e-6, 1e-5, $"log={log} backward");
        }
    }

    [Fact]
    public void HugeLogitsStayFinite()
    {
        float[] x = [1000f, 999f, -1000f, 88f, 89f, 90f];
        var y = new float[6];
        Softmax.Forward(2, 3, x, y);
        Assert.All(y, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(1.0, y[0] + y[1] + y[2], 5);
        Softmax.LogForward(2, 3, x, y);
        Assert.Equal(-1.0 - Math.Log(1 + Math.Exp(-1)), y[1], 4);
    }

    [Fact]
    public void ForwardMayRunInPlace()
    {
        var x = Uniform(3 * 11, 2, -3, 3);
        var y = new float[x.Length];
        Softmax.LogForward(3, 11, x, y);
        Softmax.LogForward(3, 11, x, x);
        Assert.Equal(y, x);
    }

    [Fact]
    public void BackwardsMatchFiniteDifferences()
    {
        int rows = 3, cols = 7;
        foreach (bool log in new[] { false, true })
        {
            var x = Uniform(rows * cols, 5, -2, 2);
            var w = Uniform(rows * cols, 6);
            var y = new float[x.Length];
            if (log) Softmax.LogForward(rows, cols, x, y); else Softmax.Forward(rows, cols, x, y);
            var g = new float[x.Length];
            if (log) Softmax.LogBackward(rows, cols, y, w, g); else Softmax.Backward(rows, cols, y, w, g);
            GradientCheck(x, () =>
            {
                if (log) Softmax.LogForward(rows, cols, x, y); else Softmax.Forward(rows, cols, x, y);
                return Loss(y, w);
            }, g, 1e-2f, 1e-3, 2e-3, $"log={log}");
        }
    }

    [Fact]
    public void WrongLengthsNameTheReceivedValues()
    {
        var ex = Assert.Throws<ArgumentException>(() => Softmax.Forward(2, 3, new float[6], new float[5]));
        Assert.Contains("5 elements", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Softmax.LogBackward(2, 3, new float[6], new float[7], new float[6]));
        Assert.Contains("7", ex.Message);
    }
}
