namespace Fovea.Kernels;

/// <summary>Per output position along one axis: window start (may be negative) and the range of window taps inside the input.</summary>
internal readonly struct PoolAxis
{
    public readonly int OutSize;
    public readonly int[] Start, Begin, End, PaddedCount;

    public PoolAxis(int inSize, int outSize, int kernel, int stride, int padBefore, int padAfter, int dilation)
    {
        OutSize = outSize;
        Start = new int[outSize]; Begin = new int[outSize]; End = new int[outSize]; PaddedCount = new int[outSize];
        for (int o = 0; o < outSize; o++)
        {
            int start = o * stride - padBefore;
            int begin = start < 0 ? (-start + dilation - 1) / dilation : 0;
            int end = inSize - 1 - start < 0 ? 0 : Math.Min(kernel, (inSize - 1 - start) / dilation + 1);
            if (end < begin) end = begin;
            // Taps inside input plus padding; taps past the after-padding (ceil mode) are not counted.
            int padded = Math.Min(kernel, (inSize + padAfter - 1 - start) / dilation + 1);
            Start[o] = start; Begin[o] = begin; End[o] = end; PaddedCount[o] = padded;
        }
    }
}

internal static class PoolCommon
{
    public static void Check(in Pool2dShape s, int inputLength, string inputName, int outputLength, string outputName, int argmaxLength, bool allowEmptyArgmax)
    {
        s.Validate();
        string dims = $"(N={s.Batch}, C={s.Channels}, H={s.InHeight}, W={s.InWidth}, OH={s.OutHeight}, OW={s.OutWidth})";
        if (inputLength != s.InputLength)
            throw new ArgumentException($"{inputName} span has {inputLength} elements but the pooling shape needs {s.InputLength} {dims}.");
        if (outputLength != s.OutputLength)
            throw new ArgumentException($"{outputName} span has {outputLength} elements but the pooling shape needs {s.OutputLength} {dims}.");
        if (argmaxLength != s.OutputLength && !(allowEmptyArgmax && argmaxLength == 0))
            throw new ArgumentException($"Argmax span has {argmaxLength} elements but the pooling shape needs {s.OutputLength}{(allowEmptyArgmax ? " (or 0 for inference)" : "")} {dims}.");
    }
}
