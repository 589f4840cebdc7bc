using Fovea.Kernels;

namespace Fovea.Tests.Kernels;

public class Conv2dValidationTests
{
    // K=8, C=3, R=S=3 on 6x5 input, batch 2: input 180, weight 216, output 2*8*4*3 = 192.
    private static readonly Conv2dShape S = new(2, 3, 6, 5, 8, 3, 3);

    [Fact]
    public void WrongWeightLengthNamesReceivedAndNeeded()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            Conv2d.Forward(S, new float[180], new float[100], [], new float[192]));
        Assert.Contains("Weight span has 100 elements but the shape (K=8, C/groups=3, R=3, S=3) needs 216.", ex.Message);
        Assert.Equal("weight", ex.ParamName);
    }

    [Fact]
    public void WrongReluOutputLengthNamesReceivedAndNeeded()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            Conv2d.BackwardInput(S, new float[192], new float[216], new float[180], reluOutput: new float[191]));
        Assert.Contains("ReluOutput span has 191 elements", ex.Message);
        Assert.Contains("needs 192", ex.Message);
        ex = Assert.Throws<ArgumentException>(() =>
            Conv2d.BackwardWeight(S, new float[192], new float[180], new float[216], [], reluOutput: new float[5]));
        Assert.Contains("ReluOutput span has 5 elements", ex.Message);
        Assert.Equal("reluOutput", ex.ParamName);
    }

    [Fact]
    public void WrongInputLengthNamesReceived()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            Conv2d.Forward(S, new float[179], new float[216], [], new float[192]));
        Assert.Contains("179", ex.Message);
        Assert.Contains("180", ex.Message);
    }

    [Fact]
    public void WrongBiasLengthNamesReceived()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            Conv2d.Forward(S, new float[180], new float[216], new float[7], new float[192]));
        Assert.Contains("Bias span has 7 elements", ex.Message);
        Assert.Contains("K=8", ex.Message);
    }

    [Fact]
    public void WrongOutputLengthNamesReceived()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            Conv2d.Forward(S, new float[180], new float[216], [], new float[193]));
        Assert.Contains("193", ex.Message);
        Assert.Contains("OH=4, OW=3", ex.Message);
    }

    [Fact]
    public void BackwardInputChecksEveryLength()
    {
        var ex = Assert.Throws<ArgumentException>(() => Conv2d.BackwardInput(S, new float[191], new float[216], new float[180]));
        Assert.Contains("GradOutput span has 191", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Conv2d.BackwardInput(S, new float[192], new float[215], new float[180]));
        Assert.Contains("Weight span has 215", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Conv2d.BackwardInput(S, new float[192], new float[216], new float[181]));
        Assert.Contains("GradInput span has 181", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Conv2d.BackwardInputReference(S, new float[192], new float[216], new float[181]));
        Assert.Contains("GradInput span has 181", ex.Message);
    }

    [Fact]
    public void BackwardWeightChecksEveryLength()
    {
        var ex = Assert.Throws<ArgumentException>(() => Conv2d.BackwardWeight(S, new float[190], new float[180], new float[216], []));
        Assert.Contains("GradOutput span has 190", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Conv2d.BackwardWeight(S, new float[192], new float[170], new float[216], []));
        Assert.Contains("Input span has 170", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Conv2d.BackwardWeight(S, new float[192], new float[180], new float[3], []));
        Assert.Contains("GradWeight span has 3", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Conv2d.BackwardWeight(S, new float[192], new float[180], new float[216], new float[9]));
        Assert.Contains("GradBias span has 9", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Conv2d.BackwardWeightReference(S, new float[192], new float[180], new float[216], new float[9]));
        Assert.Contains("GradBias span has 9", ex.Message);
    }

    [Fact]
    public void InvalidGeometryIsRejectedBeforeLengths()
    {
        var bad = S with { Groups = 2 }; // 3 input channels do not split into 2 groups
        var ex = Assert.Throws<ArgumentException>(() => Conv2d.Forward(bad, [], [], [], []));
        Assert.Contains("groups=2", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Conv2d.ForwardReference(bad, [], [], [], []));
        Assert.Contains("groups=2", ex.Message);
    }

    [Theory]
    [InlineData(2, 3, 2, 1)]            // 2x2 input, 3x3 kernel, stride 2: the span is -1, which integer division rounded up to one output
    [InlineData(8, 3, 1, 1 << 30)]      // dilation * (kernel - 1) = 2^31 wraps a 32-bit sum
    [InlineData(8, 1 << 16, 1, 1 << 16)]
    public void KernelLargerThanInputIsRefusedNotWrapped(int input, int kernel, int stride, int dilation)
    {
        var shape = new Conv2dShape(1, 1, input, input, 1, kernel, kernel, stride, stride, DilationHeight: dilation, DilationWidth: dilation);
        Assert.Equal(0, shape.OutHeight);
        var ex = Assert.Throws<ArgumentException>(shape.Validate);
        Assert.Contains($"input {input}x{input}, kernel {kernel}x{kernel}", ex.Message);
    }

    [Fact]
    public void HugeStrideGivesOneOutputNotAWrappedSize()
    {
        var conv = new Conv2dShape(1, 1, 8, 8, 1, 3, 3, int.MaxValue, int.MaxValue, 1, 1, 1, 1);
        Assert.Equal(1, conv.OutHeight);
        var pool = new Pool2dShape(1, 1, 8, 8, 3, 3, int.MaxValue, int.MaxValue, 1, 1, 1, 1, CeilMode: true);
        Assert.Equal(1, pool.OutHeight);
        Assert.Equal(1, pool.OutWidth);
        pool.Validate();
        var dilated = new Pool2dShape(1, 1, 8, 8, 3, 3, 1, 1, DilationHeight: 1 << 30, DilationWidth: 1);
        Assert.Equal(0, dilated.OutHeight);
        Assert.Throws<ArgumentException>(dilated.Validate);
    }
}
