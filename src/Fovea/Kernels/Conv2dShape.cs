namespace Fovea.Kernels;

/// <summary>
/// Geometry of a 2-D convolution over NCHW input with OIHW weights (O = OutChannels, I = InChannels / Groups).
/// Output size per axis: floor((in + padBefore + padAfter - dilation*(kernel-1) - 1) / stride) + 1.
/// </summary>
public readonly record struct Conv2dShape(
    int Batch, int InChannels, int InHeight, int InWidth,
    int OutChannels, int KernelHeight, int KernelWidth,
    int StrideHeight = 1, int StrideWidth = 1,
    int PadTop = 0, int PadLeft = 0, int PadBottom = 0, int PadRight = 0,
    int DilationHeight = 1, int DilationWidth = 1, int Groups = 1)
{
    /// <summary>Output height.</summary>
    public int OutHeight => OutSize(InHeight, PadTop, PadBottom, KernelHeight, StrideHeight, DilationHeight);
    /// <summary>Output width.</summary>
    public int OutWidth => OutSize(InWidth, PadLeft, PadRight, KernelWidth, StrideWidth, DilationWidth);

    /// <summary>Zero when the dilated kernel does not fit the padded input (also for a stride above 1, where plain integer
    /// division would round a negative span up to one output); in 64 bits, so huge values from a file cannot wrap around.</summary>
    private static int OutSize(int input, int padBefore, int padAfter, int kernel, int stride, int dilation)
    {
        long span = (long)input + padBefore + padAfter - (long)dilation * (kernel - 1) - 1;
        if (span < 0 || stride <= 0) return 0;
        return (int)Math.Min(span / stride + 1, int.MaxValue);
    }
    /// <summary>Input channels seen by one filter.</summary>
    public int InChannelsPerGroup => InChannels / Groups;
    /// <summary>Filters per group.</summary>
    public int OutChannelsPerGroup => OutChannels / Groups;
    /// <summary>Elements of the input tensor.</summary>
    public int InputLength => Batch * InChannels * InHeight * InWidth;
    /// <summary>Elements of the output tensor.</summary>
    public int OutputLength => Batch * OutChannels * OutHeight * OutWidth;
    /// <summary>Elements of the weight tensor.</summary>
    public int WeightLength => OutChannels * InChannelsPerGroup * KernelHeight * KernelWidth;

    /// <summary>Throws with the offending values when the geometry is impossible.</summary>
    public void Validate()
    {
        if (Batch < 0 || InChannels <= 0 || InHeight <= 0 || InWidth <= 0 || OutChannels <= 0 || KernelHeight <= 0 || KernelWidth <= 0)
            throw new ArgumentException($"Convolution sizes must be positive. Received: {this}.");
        if (StrideHeight <= 0 || StrideWidth <= 0 || DilationHeight <= 0 || DilationWidth <= 0 || Groups <= 0)
            throw new ArgumentException($"Strides, dilations and groups must be positive. Received: stride=({StrideHeight}, {StrideWidth}), dilation=({DilationHeight}, {DilationWidth}), groups={Groups}.");
        if (PadTop < 0 || PadLeft < 0 || PadBottom < 0 || PadRight < 0)
            throw new ArgumentException($"Padding must be non-negative. Received: pads=({PadTop}, {PadLeft}, {PadBottom}, {PadRight}).");
        if (InChannels % Groups != 0 || OutChannels % Groups != 0)
            throw new ArgumentException($"Input and output channels must be divisible by groups. Received: inChannels={InChannels}, outChannels={OutChannels}, groups={Groups}.");
        if (OutHeight <= 0 || OutWidth <= 0)
            throw new ArgumentException($"The kernel (with dilation) is larger than the padded input: input {InHeight}x{InWidth}, kernel {KernelHeight}x{KernelWidth}, dilation ({DilationHeight}, {DilationWidth}), pads ({PadTop}, {PadLeft}, {PadBottom}, {PadRight}).");
    }
}
