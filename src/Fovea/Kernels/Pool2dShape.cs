namespace Fovea.Kernels;

/// <summary>
/// Geometry of a 2-D pooling window over NCHW input, per channel (channels never mix).
/// Output size per axis: floor-or-ceil((in + padBefore + padAfter - dilation*(kernel-1) - 1) / stride) + 1;
/// with ceil mode, a last window that would start inside the right/bottom padding only is dropped (as ONNX and PyTorch do).
/// </summary>
public readonly record struct Pool2dShape(
    int Batch, int Channels, int InHeight, int InWidth,
    int KernelHeight, int KernelWidth,
    int StrideHeight, int StrideWidth,
    int PadTop = 0, int PadLeft = 0, int PadBottom = 0, int PadRight = 0,
    int DilationHeight = 1, int DilationWidth = 1,
    bool CeilMode = false, bool CountIncludePad = false)
{
    /// <summary>Output height.</summary>
    public int OutHeight => OutSize(InHeight, PadTop, PadBottom, KernelHeight, StrideHeight, DilationHeight);
    /// <summary>Output width.</summary>
    public int OutWidth => OutSize(InWidth, PadLeft, PadRight, KernelWidth, StrideWidth, DilationWidth);
    /// <summary>Elements of the input tensor.</summary>
    public int InputLength => Batch * Channels * InHeight * InWidth;
    /// <summary>Elements of the output tensor.</summary>
    public int OutputLength => Batch * Channels * OutHeight * OutWidth;

    private int OutSize(int input, int padBefore, int padAfter, int kernel, int stride, int dilation)
    {
        // In 64 bits: a huge stride, dilation or window (from a file) must give a small or zero size, not wrap around.
        long span = (long)input + padBefore + padAfter - (long)dilation * (kernel - 1) - 1;
        if (span < 0 || stride <= 0) return 0;
        long outSize = (CeilMode ? (span + stride - 1) / stride : span / stride) + 1;
        // The last window must start inside the input or the left padding.
        if (CeilMode && (outSize - 1) * stride >= (long)input + padBefore) outSize--;
        return (int)Math.Min(outSize, int.MaxValue);
    }

    /// <summary>Throws with the offending values when the geometry is impossible.</summary>
    public void Validate()
    {
        if (Batch < 0 || Channels <= 0 || InHeight <= 0 || InWidth <= 0 || KernelHeight <= 0 || KernelWidth <= 0)
            throw new ArgumentException($"Pooling sizes must be positive. Received: {this}.");
        if (StrideHeight <= 0 || StrideWidth <= 0 || DilationHeight <= 0 || DilationWidth <= 0)
            throw new ArgumentException($"Pooling strides and dilations must be positive. Received: stride=({StrideHeight}, {StrideWidth}), dilation=({DilationHeight}, {DilationWidth}).");
        if (PadTop < 0 || PadLeft < 0 || PadBottom < 0 || PadRight < 0)
            throw new ArgumentException($"Pooling padding must be non-negative. Received: pads=({PadTop}, {PadLeft}, {PadBottom}, {PadRight}).");
        if (PadTop >= KernelHeight || PadBottom >= KernelHeight || PadLeft >= KernelWidth || PadRight >= KernelWidth)
            throw new ArgumentException($"Pooling padding must be smaller than the window. Received: pads=({PadTop}, {PadLeft}, {PadBottom}, {PadRight}), window {KernelHeight}x{KernelWidth}.");
        if (OutHeight <= 0 || OutWidth <= 0)
            throw new ArgumentException($"The pooling window {KernelHeight}x{KernelWidth} is larger than the padded input {InHeight}x{InWidth}.");
    }
}
