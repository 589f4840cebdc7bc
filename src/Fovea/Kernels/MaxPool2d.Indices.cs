using System.Buffers;

namespace Fovea.Kernels;

// The "Indices" output of ONNX MaxPool: where each maximum came from, as one flat position in the whole input tensor.

public static unsafe partial class MaxPool2d
{
    /// <summary>
    /// Largest input (N·C·H·W elements) whose indices <see cref="Indices"/> accepts: float32 holds every integer up to
    /// 2^24 exactly, so indices 0 … 2^24 − 1 survive the conversion unchanged.
    /// </summary>
    public const int MaxIndexedElements = 1 << 24;

    /// <summary>
    /// Per output, the position of the element its window's maximum came from, flattened over the whole input
    /// N × C × H × W (batch and channel offsets included, padding not counted), written as float32:
    /// row-major (ONNX storage_order 0) ((n·C + c)·H + h)·W + w; column-major (storage_order 1) within each plane,
    /// (n·C + c)·H·W + w·H + h. The winner is the one <see cref="Forward"/> picks (first in row-major window order on
    /// ties; a NaN wins). A window that covers no input element gives −1. The input may hold at most
    /// <see cref="MaxIndexedElements"/> elements. Uses the fast <see cref="Forward"/> path; twin: <see cref="IndicesReference"/>.
    /// </summary>
    public static void Indices(in Pool2dShape s, ReadOnlySpan<float> input, Span<float> indices, bool columnMajor)
    {
        CheckIndices(s, input.Length, indices.Length);
        int count = s.OutputLength;
        float[] maxima = ArrayPool<float>.Shared.Rent(count);
        int[] argmax = ArrayPool<int>.Shared.Rent(count);
        try
        {
            Forward(s, input, maxima.AsSpan(0, count), argmax.AsSpan(0, count));
            int h = s.InHeight, w = s.InWidth, plane = h * w;
            for (int i = 0; i < count; i++)
            {
                int a = argmax[i];
                if (a < 0 || !columnMajor) { indices[i] = a; continue; }
                // argmax is row-major within its plane: split it into (plane, row, column) and swap the roles.
                int p = a / plane, rest = a - p * plane, row = rest / w, column = rest - row * w;
                indices[i] = p * plane + column * h + row;
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(maxima);
            ArrayPool<int>.Shared.Return(argmax);
        }
    }

    /// <summary>Naive twin of <see cref="Indices"/>: every window scanned on its own, the position computed from (n, c, h, w).</summary>
    public static void IndicesReference(in Pool2dShape s, ReadOnlySpan<float> input, Span<float> indices, bool columnMajor)
    {
        CheckIndices(s, input.Length, indices.Length);
        int h = s.InHeight, w = s.InWidth, oh = s.OutHeight, ow = s.OutWidth;
        for (int n = 0; n < s.Batch; n++)
            for (int c = 0; c < s.Channels; c++)
            {
                int p = n * s.Channels + c;
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++)
                    {
                        float best = 0;
                        int bestRow = -1, bestColumn = -1;
                        for (int ky = 0; ky < s.KernelHeight; ky++)
                            for (int kx = 0; kx < s.KernelWidth; kx++)
                            {
                                int row = y * s.StrideHeight - s.PadTop + ky * s.DilationHeight;
                                int column = x * s.StrideWidth - s.PadLeft + kx * s.DilationWidth;
                                if (row < 0 || row >= h || column < 0 || column >= w) continue;
                                float v = input[(p * h + row) * w + column];
                                if (bestRow < 0 || v > best || (float.IsNaN(v) && !float.IsNaN(best))) { best = v; bestRow = row; bestColumn = column; }
                            }
                        indices[(p * oh + y) * ow + x] = bestRow < 0 ? -1
                            : columnMajor ? p * h * w + bestColumn * h + bestRow : (p * h + bestRow) * w + bestColumn;
                    }
            }
    }

    private static void CheckIndices(in Pool2dShape s, int inputLength, int indicesLength)
    {
        s.Validate();
        long elements = (long)s.Batch * s.Channels * s.InHeight * s.InWidth;
        if (elements > MaxIndexedElements)
            throw new ArgumentException($"MaxPool indices are carried as float32, exact up to {MaxIndexedElements} (2^24) input elements; the input N={s.Batch}, C={s.Channels}, H={s.InHeight}, W={s.InWidth} has {elements}.");
        PoolCommon.Check(s, inputLength, "Input", indicesLength, "Indices", 0, allowEmptyArgmax: true);
    }
}
