using Fovea.Kernels;

namespace Fovea.Tests.Kernels;

/// <summary>
/// Im2Col against its definition, written out naively here: cols[(c·R + r)·S + x][oh·OW + ow] is the input value the tap
/// (r, x) of output pixel (oh, ow) reads in channel c, or 0 in the padding. FoldAdd is its adjoint: ⟨Unfold(a), b⟩ =
/// ⟨a, FoldAdd(b)⟩ for any a and b. Shapes cover every vector path: narrow (≤ 16 wide, masked) rows, stride 1 and 2 wide
/// rows, other strides, dilation, padding wider than the kernel reach, and pixel ranges that start and end mid-row.
/// </summary>
public class Im2ColTests
{
    public static TheoryData<string, Conv2dShape> Shapes() => new()
    {
        { "3x3 pad1 14x14 (narrow rows)", new Conv2dShape(1, 3, 14, 14, 1, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1) },
        { "3x3 pad1 16x16 (a full 16-wide row)", new Conv2dShape(1, 2, 16, 16, 1, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1) },
        { "3x3 stride1 40 wide", new Conv2dShape(1, 2, 9, 40, 1, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1) },
        { "7x7 stride2 pad3 52 wide (stem-like)", new Conv2dShape(1, 3, 12, 52, 1, 7, 7, 2, 2, 3, 3, 3, 3) },
        { "3x3 stride3 asymmetric pads", new Conv2dShape(1, 2, 11, 23, 1, 3, 3, 3, 3, PadTop: 2, PadLeft: 0, PadBottom: 1, PadRight: 2) },
        { "3x3 dilation2 pad3", new Conv2dShape(1, 2, 10, 19, 1, 3, 3, PadTop: 3, PadLeft: 3, PadBottom: 3, PadRight: 3, DilationHeight: 2, DilationWidth: 2) },
        { "1x1 stride2", new Conv2dShape(1, 4, 9, 33, 1, 1, 1, 2, 2) },
        { "5x5 pad4 on 3x3 (padding beyond the input)", new Conv2dShape(1, 1, 3, 3, 1, 5, 5, PadTop: 4, PadLeft: 4, PadBottom: 4, PadRight: 4) },
    };

    private static float[] Naive(in Conv2dShape s, float[] image)
    {
        int oh = s.OutHeight, ow = s.OutWidth, p = oh * ow;
        var cols = new float[s.InChannelsPerGroup * s.KernelHeight * s.KernelWidth * p];
        for (int c = 0; c < s.InChannelsPerGroup; c++)
            for (int r = 0; r < s.KernelHeight; r++)
                for (int x = 0; x < s.KernelWidth; x++)
                    for (int y = 0; y < oh; y++)
                        for (int z = 0; z < ow; z++)
                        {
                            int ih = y * s.StrideHeight - s.PadTop + r * s.DilationHeight;
                            int iw = z * s.StrideWidth - s.PadLeft + x * s.DilationWidth;
                            bool inside = ih >= 0 && ih < s.InHeight && iw >= 0 && iw < s.InWidth;
                            cols[((c * s.KernelHeight + r) * s.KernelWidth + x) * p + y * ow + z] = inside ? image[(c * s.InHeight + ih) * s.InWidth + iw] : 0f;
                        }
        return cols;
    }

    private static float[] Random(int length, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => rng.NextSingle() * 2 - 1).ToArray();
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void UnfoldWritesEveryColumnAsDefined(string name, Conv2dShape s)
    {
        var image = Random(s.InChannels * s.InHeight * s.InWidth, 1);
        var expected = Naive(s, image);
        var cols = Enumerable.Repeat(float.NaN, expected.Length).ToArray(); // every entry must be written
        Im2Col.Unfold(s, image, cols);
        Assert.True(expected.AsSpan().SequenceEqual(cols), $"{name}: Unfold differs from the definition");

        // A slice of the pixels, starting and ending inside output rows: the same columns of the full unfolding.
        int p = s.OutHeight * s.OutWidth, first = Math.Min(p - 1, s.OutWidth / 2 + 1), end = Math.Max(first + 1, p - s.OutWidth / 3 - 1);
        int rows = expected.Length / p, width = end - first;
        var part = Enumerable.Repeat(float.NaN, rows * width).ToArray();
        Im2Col.Unfold(s, image, part, first, end);
        for (int row = 0; row < rows; row++)
            Assert.True(expected.AsSpan(row * p + first, width).SequenceEqual(part.AsSpan(row * width, width)), $"{name}: pixels [{first}, {end}) row {row}");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void FoldAddIsTheAdjointOfUnfold(string name, Conv2dShape s)
    {
        int imageLength = s.InChannels * s.InHeight * s.InWidth;
        var a = Random(imageLength, 2);
        var b = Random(Naive(s, a).Length, 3);
        double unfolded = Naive(s, a).Zip(b, (u, v) => (double)u * v).Sum();
        var image = Random(imageLength, 4);
        var before = (float[])image.Clone();
        Im2Col.FoldAdd(s, b, image);
        double folded = a.Select((v, i) => (double)v * (image[i] - before[i])).Sum();
        Assert.True(Math.Abs(unfolded - folded) <= 1e-4 * (1 + Math.Abs(unfolded)), $"{name}: <Unfold(a), b> = {unfolded} but <a, FoldAdd(b)> = {folded}");
    }
}
