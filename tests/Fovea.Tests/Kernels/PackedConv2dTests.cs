using System.Runtime.Intrinsics;
using Fovea.Kernels;

namespace Fovea.Tests.Kernels;

// PackedConv2d (filters packed once, fused bias + residual + ReLU) against the naive Conv2d.ForwardReference plus a
// plain residual add and ReLU, for every way it splits the work: whole images per thread, an image's output rows
// split between threads (many pixels), filters split over one shared unfolding (few pixels), the transposed product
// (small map, many filters), the implicit GEMM (strided, many channels), the polyphase kernel (few channels, strided or
// large kernels; both register tiles) and the general-kernel fallback (groups, few input channels).
[Collection(DegreeCollection.Name)]
public class PackedConv2dTests
{
    private static readonly (string Name, Conv2dShape Shape)[] Shapes =
    [
        ("stem-like 7x7 stride2 pad3 C3 40x36", new Conv2dShape(1, 3, 40, 36, 16, 7, 7, 2, 2, 3, 3, 3, 3)),
        ("3x3 pad1 C8 30x30 K24 (gemm, below the sharing threshold)", new Conv2dShape(1, 8, 30, 30, 24, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("3x3 pad1 C8 12x12 K40 (gemm, few pixels, below the sharing threshold)", new Conv2dShape(1, 8, 12, 12, 40, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        // 3x3 stride 1 with at least 16 channels in and out: Winograd F(2x2, 3x3), or F(4x4, 3x3) from 96 tiles of 4x4.
        ("winograd pad1 C16 16x26 K24 (full tile vectors)", new Conv2dShape(1, 16, 16, 26, 24, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("winograd valid C16 42x15 K18 (odd output, tile rows of 7)", new Conv2dShape(1, 16, 42, 15, 18, 3, 3)),
        ("winograd asym pad C17 25x23 K20", new Conv2dShape(1, 17, 25, 23, 20, 3, 3, PadTop: 0, PadLeft: 1, PadBottom: 2, PadRight: 0)),
        ("winograd4 pad1 C16 40x40 K24 (10x10 tiles)", new Conv2dShape(1, 16, 40, 40, 24, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("winograd4 pad1 C32 44x35 K16 (partial last tile column)", new Conv2dShape(1, 32, 44, 35, 16, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("winograd4 valid C16 82x22 K20 (5 tiles per row)", new Conv2dShape(1, 16, 82, 22, 20, 3, 3)),
        ("winograd4 asym pad C17 43x34 K20 (odd output)", new Conv2dShape(1, 17, 43, 34, 20, 3, 3, PadTop: 0, PadLeft: 1, PadBottom: 2, PadRight: 0)),
        ("winograd transposed pad1 C16 6x6 K36", new Conv2dShape(1, 16, 6, 6, 36, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("winograd transposed pad1 C24 7x7 K64 (ResNet layer 4 map)", new Conv2dShape(1, 24, 7, 7, 64, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("3x3 stride2 asym pad C8 17x15 K20", new Conv2dShape(1, 8, 17, 15, 20, 3, 3, 2, 2, 0, 1, 2, 0)),
        ("1x1 stride2 C24 14x14 K48 (downsample)", new Conv2dShape(1, 24, 14, 14, 48, 1, 1, 2, 2)),
        ("1x1 stride1 C20 9x9 K12", new Conv2dShape(1, 20, 9, 9, 12, 1, 1)),
        ("small map many filters 5x5 C8 K112 (transposed)", new Conv2dShape(1, 8, 5, 5, 112, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("7x7 map 3x3 stride1 C8 7x7 K64 (plain product, ragged last panel)", new Conv2dShape(1, 8, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1)),
        // Strided, more than 4 channels: the implicit GEMM on x64 with AVX-512, or AVX2 + FMA for kernels larger than 1x1
        // (im2col + GEMM elsewhere), every panel width of both tiles (48, 32 or 16 filters; 16 or 8).
        ("implicit 3x3 stride2 pad1 C8 14x14 K64 (7x7 map, 48 + 16 filters)", new Conv2dShape(1, 8, 14, 14, 64, 3, 3, 2, 2, 1, 1, 1, 1)),
        ("implicit 3x3 stride2 pad1 C16 13x17 K40 (ragged pixel tile, 40 of 48 filters)", new Conv2dShape(1, 16, 13, 17, 40, 3, 3, 2, 2, 1, 1, 1, 1)),
        ("implicit 3x3 stride2 dilation2 asym pad C6 19x16 K100 (48 + 48 + 4 filters)", new Conv2dShape(1, 6, 19, 16, 100, 3, 3, 2, 2, 2, 1, 0, 2, DilationHeight: 2, DilationWidth: 2)),
        ("implicit 1x1 stride2 C12 9x11 K20 (no padding, 20 filters in two vectors)", new Conv2dShape(1, 12, 9, 11, 20, 1, 1, 2, 2)),
        ("implicit 3x2 stride 3x2 pad C5 14x13 K16 (one vector)", new Conv2dShape(1, 5, 14, 13, 16, 3, 2, 3, 2, 1, 0, 1, 1)),
        ("implicit 1x1 stride2 C16 13x5 K32 (21 pixels in 7-pixel tiles, split between threads)", new Conv2dShape(1, 16, 13, 5, 32, 1, 1, 2, 2)),
        ("implicit 3x3 stride2 pad1 C120 9x9 K24 (1,080 taps in two chunks)", new Conv2dShape(1, 120, 9, 9, 24, 3, 3, 2, 2, 1, 1, 1, 1)),
        ("implicit 3x3 stride2 pad1 C344 9x9 K24 (3,096 taps: two chunks of the 256-bit tile's 16-filter panels)", new Conv2dShape(1, 344, 9, 9, 24, 3, 3, 2, 2, 1, 1, 1, 1)),
        // Above Gemm.ParallelThreshold (4M multiply-adds an image), so that one image is shared by 2 threads: smaller ones run on one.
        ("implicit 3x3 stride2 pad1 C84 22x26 K40 (11x13: ragged pixel tiles split between threads, 16 + 16 + 8 filters)", new Conv2dShape(1, 84, 22, 26, 40, 3, 3, 2, 2, 1, 1, 1, 1)),
        ("implicit 3x3 stride2 pad1 C256 14x14 K64 (7x7: filter panels split between threads)", new Conv2dShape(1, 256, 14, 14, 64, 3, 3, 2, 2, 1, 1, 1, 1)),
        // Small maps with many channels: with AVX-512 the implicit GEMM in Winograd's place, else Winograd.
        ("many channels 3x3 pad1 C64 7x7 K56 (7-pixel tiles, 48 + 8 filters)", new Conv2dShape(1, 64, 7, 7, 56, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("many channels 3x3 pad1 C128 7x7 K40 (1,152 taps in two chunks)", new Conv2dShape(1, 128, 7, 7, 40, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("polyphase stem 7x7 stride2 pad3 C3 38x35 K16", new Conv2dShape(1, 3, 38, 35, 16, 7, 7, 2, 2, 3, 3, 3, 3)),
        ("polyphase 5x5 stride2 asym pad C1 21x19 K12 (ragged filter block)", new Conv2dShape(1, 1, 21, 19, 12, 5, 5, 2, 2, 1, 2, 2, 0)),
        ("polyphase 3x3 stride3 dilation2 C2 23x26 K9", new Conv2dShape(1, 2, 23, 26, 9, 3, 3, 3, 3, 2, 1, 0, 2, DilationHeight: 2, DilationWidth: 2)),
        ("polyphase 7x7 stride1 C1 20x17 K8 (49 taps)", new Conv2dShape(1, 1, 20, 17, 8, 7, 7, PadTop: 3, PadLeft: 3, PadBottom: 3, PadRight: 3)),
        ("polyphase stride 2x1 C4 15x22 K10", new Conv2dShape(1, 4, 15, 22, 10, 3, 3, 2, 1, 1, 1, 1, 1)),
        // One image shared by 2 threads needs Gemm.ParallelThreshold (4M multiply-adds): each algorithm's split of an image.
        ("shared gemm 3x3 pad1 C8 48x48 K48 (output pixels split)", new Conv2dShape(1, 8, 48, 48, 48, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("shared gemm 3x3 pad1 C12 16x16 K160 (256 pixels: filter panels split over one unfolding)", new Conv2dShape(1, 12, 16, 16, 160, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("shared gemm-transposed 5x5 pad2 C15 7x7 K240 (filters split)", new Conv2dShape(1, 15, 7, 7, 240, 5, 5, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2)),
        ("shared winograd pad1 C32 24x24 K32 (144 tiles)", new Conv2dShape(1, 32, 24, 24, 32, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("shared winograd transposed pad1 C32 8x8 K240 (16 tiles)", new Conv2dShape(1, 32, 8, 8, 240, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
        ("shared polyphase stem 7x7 stride2 pad3 C3 64x64 K64", new Conv2dShape(1, 3, 64, 64, 64, 7, 7, 2, 2, 3, 3, 3, 3)),
        ("dilation2 C6 13x11 K10", new Conv2dShape(1, 6, 13, 11, 10, 3, 3, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2, DilationHeight: 2, DilationWidth: 2)),
        ("groups2 (fallback)", new Conv2dShape(1, 4, 9, 8, 6, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 2)),
        ("C1 3x3 stride1 (direct-kernel fallback)", new Conv2dShape(1, 1, 12, 12, 8, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)),
    ];

    public static TheoryData<int, string, int, int> Cases()
    {
        var data = new TheoryData<int, string, int, int>();
        for (int i = 0; i < Shapes.Length; i++)
            foreach (int batch in new[] { 1, 3 })
                foreach (int threads in new[] { 1, 2 })
                    data.Add(i, Shapes[i].Name, batch, threads);
        return data;
    }

    private static float[] Random(int length, int seed)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesReferenceWithBiasResidualAndRelu(int index, string name, int batch, int threads)
    {
        var s = Shapes[index].Shape with { Batch = batch };
        var input = Random(s.InputLength, 1 + index);
        var weight = Random(s.WeightLength, 2 + index);
        var bias = Random(s.OutChannels, 3 + index);
        var residual = Random(s.OutputLength, 4 + index);
        int saved = Parallelism.Degree;
        Parallelism.Degree = threads;
        try
        {
            var packed = new PackedConv2d(s, weight, bias);
            if (name.StartsWith("shared ", StringComparison.Ordinal))
            {
                // Above the threshold, a single image on 2 threads goes through the algorithm's shared split.
                Assert.True((long)s.OutChannels * s.InChannels * s.KernelHeight * s.KernelWidth * s.OutHeight * s.OutWidth >= Gemm.ParallelThreshold, name);
                name = name["shared ".Length..];
            }
            // Winograd and the direct few-channel kernel need 256-bit vectors; 128-bit hardware (ARM64, or x64 run with
            // DOTNET_EnableAVX=0) takes the GEMM paths for those shapes, and must still match the reference below.
            if (Vector256.IsHardwareAccelerated)
            {
                if (name.StartsWith("winograd4 ", StringComparison.Ordinal)) Assert.Equal("winograd-4x4", packed.Algorithm);
                else if (name.StartsWith("winograd", StringComparison.Ordinal)) Assert.Equal("winograd", packed.Algorithm);
                if (name.Contains("fallback", StringComparison.Ordinal)) Assert.Equal("general", packed.Algorithm);
            }
            if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported && name.StartsWith("many channels", StringComparison.Ordinal))
                Assert.Equal("implicit-gemm", packed.Algorithm);
            // With AVX2 + FMA only (DOTNET_EnableAVX512=0 on this machine), the polyphase kernel runs its 4 x 24 tile and the
            // implicit GEMM takes the strided kernels larger than 1x1; the 1x1 ones keep im2col + GEMM.
            bool avx2Fma = System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported;
            if (name.StartsWith("polyphase", StringComparison.Ordinal) && (System.Runtime.Intrinsics.X86.Avx512F.IsSupported || avx2Fma))
                Assert.Equal("polyphase", packed.Algorithm);
            bool implicit256 = avx2Fma && s.KernelHeight * s.KernelWidth > 1;
            if (name.StartsWith("implicit", StringComparison.Ordinal) && (System.Runtime.Intrinsics.X86.Avx512F.IsSupported || implicit256))
                Assert.Equal("implicit-gemm", packed.Algorithm);
            if (name.Contains("(transposed)", StringComparison.Ordinal)) Assert.Equal("gemm-transposed", packed.Algorithm);
            if (name.Contains("(plain product", StringComparison.Ordinal) || name.StartsWith("gemm ", StringComparison.Ordinal)
                || name.Contains("(gemm", StringComparison.Ordinal)) Assert.Equal("gemm", packed.Algorithm);
            if (name.StartsWith("gemm-transposed", StringComparison.Ordinal)) Assert.Equal("gemm-transposed", packed.Algorithm);
            foreach (bool withResidual in new[] { false, true })
                foreach (bool relu in new[] { false, true })
                {
                    var expected = new float[s.OutputLength];
                    Conv2d.ForwardReference(s, input, weight, bias, expected);
                    for (int i = 0; i < expected.Length; i++)
                    {
                        if (withResidual) expected[i] += residual[i];
                        if (relu) expected[i] = Math.Max(expected[i], 0f);
                    }
                    var actual = new float[s.OutputLength];
                    actual.AsSpan().Fill(float.NaN); // every output must be written
                    packed.Forward(input, actual, withResidual ? residual : default, relu);
                    double tolerance = 1e-5 * s.InChannelsPerGroup * s.KernelHeight * s.KernelWidth + 1e-5;
                    for (int i = 0; i < expected.Length; i++)
                        Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance,
                            $"{name} N={batch} threads={threads} residual={withResidual} relu={relu}: y[{i}] = {actual[i]}, reference {expected[i]}");
                }
        }
        finally { Parallelism.Degree = saved; }
    }

    [Fact]
    public void WinogradIsLeftOutWhereItDoesNotPay()
    {
        // The reference CNN's second layer: 49 tiles and 64 filters fill the products badly (measured slower).
        Assert.Equal("gemm", new PackedConv2d(new Conv2dShape(1, 32, 14, 14, 64, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
            new float[64 * 32 * 9], default).Algorithm);
        // ResNet-18's layers all take it where it exists (it needs 256-bit vectors): F(4x4) on the large maps.
        if (!Vector256.IsHardwareAccelerated) return;
        // On 7x7 maps, with 512-bit vectors, the implicit GEMM takes Winograd's place.
        string smallMap = System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "implicit-gemm" : "winograd";
        foreach (var (c, size, k, algorithm) in new[] { (64, 56, 64, "winograd-4x4"), (128, 28, 128, "winograd"), (256, 14, 256, "winograd"), (512, 7, 512, smallMap) })
            Assert.Equal(algorithm, new PackedConv2d(new Conv2dShape(1, c, size, size, k, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
                new float[k * c * 9], default).Algorithm);
    }

    /// <summary>
    /// A batch runs as groups of images sharing each pass over the filters (the implicit GEMM: up to 8 images a group,
    /// fewer when their padded copies would pass 4 MB); every image must come out exactly as it does alone.
    /// </summary>
    [Theory]
    [InlineData(1, 11)] // 8 + 3 on one thread
    [InlineData(2, 19)] // 9 + 10 images: 8 + 1 and 8 + 2 on two threads
    public void ImagesGroupedInABatchMatchEachImageAlone(int threads, int batch)
    {
        // Padded, chunked (1,080 taps), ragged filters; and 120 x 66 x 66 padded floats allow groups of 2 only.
        Conv2dShape[] shapes =
        [
            new(1, 120, 9, 9, 60, 3, 3, 2, 2, 1, 1, 1, 1),
            new(1, 120, 64, 64, 20, 3, 3, 2, 2, 1, 1, 1, 1),
        ];
        int saved = Parallelism.Degree;
        Parallelism.Degree = threads;
        try
        {
            foreach (var one in shapes)
            {
                var s = one with { Batch = batch };
                var input = Random(s.InputLength, 5);
                var residual = Random(s.OutputLength, 6);
                var packed = new PackedConv2d(s, Random(s.WeightLength, 7), Random(s.OutChannels, 8));
                var together = new float[s.OutputLength];
                packed.Forward(input, together, residual, relu: true);
                int inLength = one.InputLength, outLength = one.OutputLength;
                var alone = new float[outLength];
                for (int n = 0; n < batch; n++)
                {
                    packed.Forward(input.AsSpan(n * inLength, inLength), alone, residual.AsSpan(n * outLength, outLength), relu: true);
                    Assert.True(alone.AsSpan().SequenceEqual(together.AsSpan(n * outLength, outLength)), $"{packed.Algorithm}, image {n} of {batch}");
                }
            }
        }
        finally { Parallelism.Degree = saved; }
    }

    [Fact]
    public void PackedWeightsAreACopy()
    {
        var s = new Conv2dShape(1, 8, 10, 10, 16, 3, 3);
        var weight = Random(s.WeightLength, 5);
        var input = Random(s.InputLength, 6);
        var packed = new PackedConv2d(s, weight, default);
        var before = new float[s.OutputLength];
        packed.Forward(input, before);
        weight.AsSpan().Clear();
        var after = new float[s.OutputLength];
        packed.Forward(input, after);
        Assert.Equal(before, after);
    }

    [Fact]
    public void BadSpansThrowNamingTheLengths()
    {
        var s = new Conv2dShape(1, 2, 6, 6, 3, 3, 3);
        var e1 = Assert.Throws<ArgumentException>(() => new PackedConv2d(s, new float[5], default));
        Assert.Contains("Weight span has 5 elements", e1.Message);
        var packed = new PackedConv2d(s, new float[s.WeightLength], default);
        var e2 = Assert.Throws<ArgumentException>(() => packed.Forward(new float[71], new float[48]));
        Assert.Contains("71", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => packed.Forward(new float[72], new float[47]));
        Assert.Contains("47", e3.Message);
        var e4 = Assert.Throws<ArgumentException>(() => packed.Forward(new float[72], new float[48], new float[3]));
        Assert.Contains("Residual span has 3", e4.Message);
    }
}
