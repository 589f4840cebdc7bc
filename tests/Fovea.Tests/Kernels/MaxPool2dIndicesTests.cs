using Fovea.Kernels;
using static Fovea.Tests.Kernels.NumericKernelTestKit;

namespace Fovea.Tests.Kernels;

/// <summary>MaxPool2d.Indices (the ONNX MaxPool Indices output) against its naive twin and hand-worked positions.</summary>
[Collection(DegreeCollection.Name)]
public class MaxPool2dIndicesTests : TwoThreadKernelTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void IndicesMatchTheReferenceOnEveryGeometry(bool columnMajor)
    {
        for (int k = 0; k < MaxPool2dTests.Shapes.Length; k++)
        {
            var s = MaxPool2dTests.Shapes[k];
            foreach (bool ties in new[] { false, true })
            {
                var x = Uniform(s.InputLength, 300 + k);
                if (ties)
                {
                    for (int i = 0; i < x.Length; i++) x[i] = MathF.Round(x[i] * 2f); // few distinct values: many ties, ±0
                    for (int i = 5; i < x.Length; i += 19) x[i] = float.NaN;
                }
                var fast = new float[s.OutputLength];
                var reference = new float[s.OutputLength];
                MaxPool2d.Indices(s, x, fast, columnMajor);
                MaxPool2d.IndicesReference(s, x, reference, columnMajor);
                Assert.True(reference.AsSpan().SequenceEqual(fast), $"indices differ for {s} (ties {ties}, column-major {columnMajor})");
            }
        }
    }

    [Fact]
    public void RowMajorIndicesAreTheArgmaxOfForward()
    {
        var s = MaxPool2dTests.Shapes[9];
        var x = Uniform(s.InputLength, 7);
        var y = new float[s.OutputLength];
        var argmax = new int[s.OutputLength];
        var indices = new float[s.OutputLength];
        MaxPool2d.Forward(s, x, y, argmax);
        MaxPool2d.Indices(s, x, indices, columnMajor: false);
        Assert.Equal(argmax.Select(a => (float)a).ToArray(), indices);
    }

    /// <summary>
    /// Two samples of one channel, 2 × 3 each, window 2 × 2, stride 1: windows (rows 0-1, columns 0-1) and (rows 0-1, columns 1-2).
    /// Sample 0 = [[1, 5, 2], [7, 0, 3]]: maxima 7 at (1, 0) and 5 at (0, 1). Sample 1 holds the same values plus 10.
    /// Row-major: h·3 + w, i.e. 3 and 1; column-major: w·2 + h, i.e. 1 and 2; sample 1 adds its offset 6.
    /// </summary>
    [Fact]
    public void HandWorkedPositionsIncludeTheBatchOffset()
    {
        var s = new Pool2dShape(2, 1, 2, 3, 2, 2, 1, 1);
        float[] x = [1, 5, 2, 7, 0, 3, 11, 15, 12, 17, 10, 13];
        var rows = new float[4];
        var columns = new float[4];
        MaxPool2d.Indices(s, x, rows, columnMajor: false);
        MaxPool2d.Indices(s, x, columns, columnMajor: true);
        Assert.Equal([3f, 1f, 9f, 7f], rows);
        Assert.Equal([1f, 2f, 7f, 8f], columns);
    }

    [Fact]
    public void PaddingIsNotCountedAndEmptyWindowsGiveMinusOne()
    {
        // 2 × 2 input padded by 1 on every side, window 3 × 3, stride 1: every window sees the whole input, maximum at (1, 1).
        var padded = new Pool2dShape(1, 1, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1);
        var indices = new float[padded.OutputLength];
        MaxPool2d.Indices(padded, [-5, -4, -3, -2], indices, columnMajor: false);
        Assert.Equal([3f, 3f, 3f, 3f], indices);

        var empty = MaxPool2dTests.Shapes[10]; // a dilated window whose taps all fall in the padding
        var e = new float[empty.OutputLength];
        var r = new float[empty.OutputLength];
        MaxPool2d.Indices(empty, [1, 2, 3, 4], e, columnMajor: true);
        MaxPool2d.IndicesReference(empty, [1, 2, 3, 4], r, columnMajor: true);
        Assert.Equal(-1f, e[0]);
        Assert.Equal(r, e);
    }

    [Fact]
    public void InputsTooLargeForExactFloatIndicesAndWrongLengthsAreRefused()
    {
        // 2 · 1 · 4096 · 4096 = 33554432 > 2^24: refused before any span is read.
        var big = new Pool2dShape(2, 1, 4096, 4096, 2, 2, 2, 2);
        var ex = Assert.Throws<ArgumentException>(() => MaxPool2d.Indices(big, default, default, columnMajor: false));
        Assert.Contains("33554432", ex.Message);
        Assert.Contains("16777216", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => MaxPool2d.IndicesReference(big, default, default, columnMajor: true));
        Assert.Contains("33554432", ex.Message);

        var s = new Pool2dShape(1, 3, 4, 4, 2, 2, 2, 2);
        ex = Assert.Throws<ArgumentException>(() => MaxPool2d.Indices(s, new float[47], new float[12], columnMajor: false));
        Assert.Contains("47", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => MaxPool2d.IndicesReference(s, new float[48], new float[13], columnMajor: false));
        Assert.Contains("13 elements", ex.Message);
        Assert.Contains("Indices", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => MaxPool2d.Indices(s with { StrideHeight = 0 }, new float[48], new float[12], columnMajor: false));
        Assert.Contains("stride=(0, 2)", ex.Message);
    }
}
