using Fovea.Kernels;
using static Fovea.Tests.Kernels.NumericKernelTestKit;

namespace Fovea.Tests.Kernels;

[Collection(DegreeCollection.Name)]
public class MaxPool2dTests : TwoThreadKernelTests
{
    /// <summary>Geometry table shared with the average-pooling tests.</summary>
    internal static readonly Pool2dShape[] Shapes =
    [
        new(1, 1, 4, 4, 2, 2, 2, 2),                                       // fast path, tiny
        new(2, 3, 17, 35, 2, 2, 2, 2),                                     // fast path, odd sizes: vector + tail, dropped last row/col
        new(2, 3, 16, 34, 2, 2, 2, 2, CeilMode: true),                     // even sizes, ceil mode changes nothing: fast path
        new(1, 2, 7, 9, 2, 2, 2, 2, CeilMode: true),                       // partial last windows
        new(2, 2, 9, 11, 3, 3, 2, 2),                                      // overlapping windows
        new(1, 3, 10, 13, 3, 3, 2, 2, 1, 1, 1, 1),                         // overlapping + symmetric pads
        new(1, 2, 8, 9, 3, 3, 1, 1, 0, 1, 2, 0),                           // stride 1, asymmetric pads
        new(1, 2, 11, 10, 3, 2, 3, 3, 1, 0, 0, 1, CeilMode: true),         // stride 3, asymmetric pads, ceil
        new(1, 2, 12, 11, 3, 3, 1, 2, 2, 1, 1, 2, 2, 2),                   // dilation 2
        new(2, 1, 9, 10, 2, 3, 2, 2, 1, 1, 1, 1, 2, 3, CeilMode: true),    // dilation + pads + ceil
        new(1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 3, 3),                     // window with no input tap
        new(1, 2, 10, 11, 2, 2, 3, 3),                                     // stride > window (gaps)
        new(2, 2, 5, 7, 1, 1, 1, 1),                                       // 1x1
        new(3, 2, 6, 5, 6, 5, 1, 1),                                       // window = whole plane
        new(1, 4, 23, 37, 3, 3, 2, 2, 1, 1, 1, 1),                         // ResNet stem pool; rows longer than a vector
        new(4, 8, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1),                         // big enough to run in parallel
        new(4, 8, 64, 64, 2, 2, 2, 2),                                     // fast path in parallel
        new(4, 8, 96, 96, 2, 2, 2, 2),                                     // backward in parallel too: 73,728 outputs ≥ 2 parts of KernelSplit.MinWorkPerPart
        new(3, 4, 14, 14, 2, 2, 2, 2),                                     // fast path, narrow rows (7 outputs) borrowing the next row
        new(2, 3, 9, 11, 2, 2, 2, 2),                                      // narrow rows (5 outputs), dropped last row/col
        new(1, 2, 3, 8, 2, 2, 2, 2),                                       // narrow rows, a single output row (padded copy only)
        new(1, 2, 5, 3, 3, 3, 1, 1),                                       // rows shorter than any vector
        new(1, 2, 7, 67, 3, 3, 2, 2),                                      // long odd rows: vector steps and an overlapping last step
    ];

    [Theory]
    [InlineData(65536, int.MaxValue)] // an imported ONNX MaxPool (found by fuzzing): IndexOutOfRangeException at inference
    [InlineData(3, 7)]                // wider than the 5-wide rows: one output column
    public void AStrideWiderThanTheInputMatchesTheReference(int strideHeight, int strideWidth)
    {
        var s = new Pool2dShape(1, 2, 5, 5, 2, 2, strideHeight, strideWidth);
        var x = Uniform(s.InputLength, 3);
        var fast = new float[s.OutputLength];
        var reference = new float[s.OutputLength];
        MaxPool2d.Forward(s, x, fast, []); // no argmax: the inference path
        MaxPool2d.ForwardReference(s, x, reference, new int[s.OutputLength]);
        Assert.Equal(reference, fast);
    }

    [Fact]
    public void ForwardMatchesReferenceWithAndWithoutArgmax()
    {
        for (int k = 0; k < Shapes.Length; k++)
        {
            var s = Shapes[k];
            var x = Uniform(s.InputLength, k);
            var y1 = new float[s.OutputLength]; var a1 = new int[s.OutputLength];
            var y2 = new float[s.OutputLength]; var a2 = new int[s.OutputLength];
            MaxPool2d.Forward(s, x, y1, a1);
            MaxPool2d.ForwardReference(s, x, y2, a2);
            Assert.True(y2.AsSpan().SequenceEqual(y1), $"output differs for {s}");
            Assert.True(a2.AsSpan().SequenceEqual(a1), $"argmax differs for {s}");
            var y3 = new float[s.OutputLength];
            MaxPool2d.Forward(s, x, y3, default);
            Assert.True(y2.AsSpan().SequenceEqual(y3), $"inference output differs for {s}");
        }
    }

    [Fact]
    public void TiesAndNaNsResolveLikeTheReference()
    {
        for (int k = 0; k < Shapes.Length; k++)
        {
            var s = Shapes[k];
            var x = Uniform(s.InputLength, 100 + k);
            for (int i = 0; i < x.Length; i++) x[i] = MathF.Round(x[i] * 2f); // few distinct values: many ties, ±0
            for (int i = 3; i < x.Length; i += 17) x[i] = float.NaN;
            var y1 = new float[s.OutputLength]; var a1 = new int[s.OutputLength];
            var y2 = new float[s.OutputLength]; var a2 = new int[s.OutputLength];
            MaxPool2d.Forward(s, x, y1, a1);
            MaxPool2d.ForwardReference(s, x, y2, a2);
            Assert.True(a2.AsSpan().SequenceEqual(a1), $"argmax differs for {s}");
            Close(y2, y1, 0, 0, s.ToString());
            var y3 = new float[s.OutputLength];
            MaxPool2d.Forward(s, x, y3, default); // inference takes the separable path for general windows
            Close(y2, y3, 0, 0, "inference " + s);
        }
    }

    [Fact]
    public void PaddingNeverWinsAndEmptyWindowsAreMarked()
    {
        var s = new Pool2dShape(1, 1, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1);
        float[] x = [-5, -4, -3, -2];
        var y = new float[s.OutputLength]; var a = new int[s.OutputLength];
        MaxPool2d.Forward(s, x, y, a);
        Assert.Equal([-2f, -2f, -2f, -2f], y);
        Assert.Equal([3, 3, 3, 3], a);

        var empty = Shapes[10];
        var ye = new float[empty.OutputLength]; var ae = new int[empty.OutputLength];
        MaxPool2d.Forward(empty, [1, 2, 3, 4], ye, ae);
        Assert.Equal(float.NegativeInfinity, ye[0]);
        Assert.Equal(-1, ae[0]);
    }

    [Fact]
    public void BackwardMatchesReferenceAccumulatingOrOverwriting()
    {
        for (int k = 0; k < Shapes.Length; k++)
        {
            var s = Shapes[k];
            var x = Uniform(s.InputLength, k);
            var y = new float[s.OutputLength]; var a = new int[s.OutputLength];
            MaxPool2d.Forward(s, x, y, a);
            var gy = Uniform(s.OutputLength, 50 + k);
            var g1 = Uniform(s.InputLength, 70 + k); var g2 = (float[])g1.Clone();
            MaxPool2d.Backward(s, gy, a, g1);
            MaxPool2d.BackwardReference(s, gy, a, g2);
            Assert.True(g2.AsSpan().SequenceEqual(g1), $"gradient differs for {s}");
            // Overwriting ignores what the gradient held (NaN here) and equals the reference on zeros.
            var g3 = new float[s.InputLength]; Array.Fill(g3, float.NaN);
            var g4 = new float[s.InputLength];
            MaxPool2d.Backward(s, gy, a, g3, accumulate: false);
            MaxPool2d.BackwardReference(s, gy, a, g4);
            Assert.True(g4.AsSpan().SequenceEqual(g3), $"overwriting gradient differs for {s}");
        }
    }

    [Fact]
    public void BackwardMatchesFiniteDifferences()
    {
        for (int k = 0; k < Shapes.Length; k++)
        {
            var s = Shapes[k];
            // The big parallel shapes have too many inputs to keep them 0.01 apart within float precision.
            if (s.InputLength > 10_000) continue;
            var x = DistinctShuffled(s.InputLength, k, 0.01f);
            var w = Uniform(s.OutputLength, 200 + k);
            var y = new float[s.OutputLength]; var a = new int[s.OutputLength];
            MaxPool2d.Forward(s, x, y, a);
            var g = new float[s.InputLength];
            MaxPool2d.Backward(s, w, a, g);
            GradientCheck(x, () => { MaxPool2d.Forward(s, x, y, default); return Loss(y, w); }, g, 1e-3f, 1e-3, 1e-3, s.ToString());
        }
    }

    [Fact]
    public void WrongLengthsNameTheReceivedValues()
    {
        var s = new Pool2dShape(1, 3, 4, 4, 2, 2, 2, 2);
        var ex = Assert.Throws<ArgumentException>(() => MaxPool2d.Forward(s, new float[48], new float[10], default));
        Assert.Contains("10 elements", ex.Message);
        Assert.Contains("12", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => MaxPool2d.Forward(s, new float[47], new float[12], default));
        Assert.Contains("47", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => MaxPool2d.ForwardReference(s, new float[48], new float[12], new int[11]));
        Assert.Contains("11", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => MaxPool2d.Backward(s, new float[12], new int[0], new float[48]));
        Assert.Contains("0 elements", ex.Message);
        var bad = Enumerable.Range(0, 12).Select(i => i / 4 * 16).ToArray(); bad[5] = 40; // plane 1 owns [16, 32)
        ex = Assert.Throws<ArgumentException>(() => MaxPool2d.Backward(s, new float[12], bad, new float[48]));
        Assert.Contains("40", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => MaxPool2d.Forward(s with { PadTop = 2 }, new float[48], new float[12], default));
        Assert.Contains("2", ex.Message);
    }
}
