using System.Buffers;
using System.Numerics.Tensors;

namespace Fovea.Kernels;

// Fast paths: per (image, group) one GEMM over an im2col buffer, or straight on the input for pointwise convolutions.
// Threading: work is split over images (and groups) with Parallelism.For, so the GEMM inside each worker runs serially;
// with a single (image, group) item the GEMM is called from outside any parallel region and parallelises itself.
// Spans cannot be captured by the worker lambdas, so the buffers are pinned and passed as addresses for the call's duration.

public static partial class Conv2d
{
    // One column buffer per thread, grown on demand and never shrunk, so steady-state calls do not allocate it.
    [ThreadStatic] private static float[]? t_columns;

    private static Span<float> ColumnScratch(int length)
    {
        float[]? a = t_columns;
        if (a is null || a.Length < length) t_columns = a = GC.AllocateUninitializedArray<float>(length);
        return a.AsSpan(0, length);
    }

    /// <summary>1×1, stride 1, no padding: the image's Cg×H×W block already is the Cg × P column matrix.</summary>
    private static bool IsPointwise(in Conv2dShape s) =>
        s.KernelHeight == 1 && s.KernelWidth == 1 && s.StrideHeight == 1 && s.StrideWidth == 1 &&
        s.PadTop == 0 && s.PadLeft == 0 && s.PadBottom == 0 && s.PadRight == 0;

    // Below this many multiply-adds per item, a GEMM cannot usefully split itself over threads.
    private const long SmallItemMacs = 1L << 21;

    /// <summary>
    /// Number of workers to split <paramref name="items"/> independent GEMM-sized items over. With fewer items than
    /// threads and big items, one worker (1) is better: the items then run in turn and each GEMM uses every thread.
    /// </summary>
    private static int PartsFor(int items, long macsPerItem)
    {
        if (Parallelism.InsideParallelRegion) return 1;
        int degree = Parallelism.Degree;
        if (items < degree && macsPerItem >= SmallItemMacs) return 1;
        return Math.Min(items, degree);
    }

    private static long MacsPerItem(in Conv2dShape s) =>
        (long)s.OutChannelsPerGroup * s.InChannelsPerGroup * s.KernelHeight * s.KernelWidth * s.OutHeight * s.OutWidth;

    private static (int Start, int End) PartRange(int items, int parts, int part) =>
        ((int)((long)items * part / parts), (int)((long)items * (part + 1) / parts));

    // ---------------- forward ----------------

    private static void ForwardFast(in Conv2dShape s, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, bool relu)
    {
        if (UseDirectForward(s)) ForwardDirect(s, input, weight, bias, output, relu);
        else ForwardGemm(s, input, weight, bias, output, relu);
    }

    /// <summary>Forced im2col/GEMM path, so tests reach it for shapes the dispatcher would send to the direct kernel.</summary>
    internal static void ForwardViaGemm(in Conv2dShape s, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, bool relu = false)
    {
        ValidateForward(s, input, weight, bias, output);
        if (s.Batch > 0) ForwardGemm(s, input, weight, bias, output, relu);
    }

    private static void ForwardGemm(in Conv2dShape s, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, bool relu)
    {
        int items = s.Batch * s.Groups;
        int parts = PartsFor(items, MacsPerItem(s));
        if (parts <= 1) ForwardItems(s, input, weight, bias, output, relu, 0, items);
        else ForwardGemmParallel(s, input, weight, bias, output, relu, items, parts);
    }

    // Parallel branches live in their own methods: a lambda's captured state is allocated on entry to the scope that
    // declares it, and the serial path must stay allocation-free.
    private static unsafe void ForwardGemmParallel(in Conv2dShape s, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, bool relu, int items, int parts)
    {
        fixed (float* pIn = input, pW = weight, pB = bias, pOut = output)
        {
            Conv2dShape shape = s;
            nint aIn = (nint)pIn, aW = (nint)pW, aB = (nint)pB, aOut = (nint)pOut;
            int lenIn = input.Length, lenW = weight.Length, lenB = bias.Length, lenOut = output.Length;
            Parallelism.For(parts, part =>
            {
                var (start, end) = PartRange(items, parts, part);
                ForwardItems(shape, new ReadOnlySpan<float>((void*)aIn, lenIn), new ReadOnlySpan<float>((void*)aW, lenW),
                    new ReadOnlySpan<float>((void*)aB, lenB), new Span<float>((void*)aOut, lenOut), relu, start, end);
            });
        }
    }

    /// <summary>Forward for items [start, end), item = n·G + g.</summary>
    private static void ForwardItems(in Conv2dShape s, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, bool relu, int start, int end)
    {
        int G = s.Groups, Cg = s.InChannelsPerGroup, Kg = s.OutChannelsPerGroup;
        int HW = s.InHeight * s.InWidth, P = s.OutHeight * s.OutWidth;
        int rows = Cg * s.KernelHeight * s.KernelWidth;
        bool pointwise = IsPointwise(s);
        for (int item = start; item < end; item++)
        {
            int n = item / G, g = item % G;
            ReadOnlySpan<float> image = input.Slice((n * s.InChannels + g * Cg) * HW, Cg * HW);
            ReadOnlySpan<float> w = weight.Slice(g * Kg * rows, Kg * rows);
            ReadOnlySpan<float> b = bias.IsEmpty ? default : bias.Slice(g * Kg, Kg);
            Span<float> y = output.Slice((n * s.OutChannels + g * Kg) * P, Kg * P);
            ReadOnlySpan<float> cols = image;
            Span<float> scratch = ColumnScratch(rows * P + (UseTransposedProduct(Kg, P) ? Kg * P : 0));
            if (!pointwise)
            {
                Im2Col.Unfold(s, image, scratch);
                cols = scratch[..(rows * P)];
            }
            if (UseTransposedProduct(Kg, P))
            {
                // Few output pixels (a 7x7 map has P = 49): a P-wide product would fill barely half of the GEMM's
                // 48-column register tiles, so compute Yᵀ [P x Kg] = colsᵀ · Wᵀ, where Kg is wide, and transpose it back.
                Span<float> yt = scratch.Slice(rows * P, Kg * P);
                Gemm.Multiply(true, true, P, Kg, rows, cols, P, w, rows, yt, Kg);
                TransposeInto(yt, P, Kg, y, b, relu);
            }
            else
            {
                Gemm.Multiply(false, false, Kg, P, rows, w, rows, cols, P, y, P, accumulate: false, rowBias: b, relu: relu);
            }
        }
    }

    /// <summary>True when the output map is small and the filters many: the transposed product then tiles better.</summary>
    internal static bool UseTransposedProduct(int filters, int pixels) => pixels <= 64 && filters >= 2 * pixels;

    /// <summary>y [Kg x P] = ytᵀ + bias per row, then ReLU.</summary>
    private static void TransposeInto(ReadOnlySpan<float> yt, int p, int kg, Span<float> y, ReadOnlySpan<float> bias, bool relu)
    {
        for (int k = 0; k < kg; k++)
        {
            float add = bias.IsEmpty ? 0f : bias[k];
            Span<float> row = y.Slice(k * p, p);
            for (int i = 0; i < p; i++)
            {
                float v = yt[i * kg + k] + add;
                row[i] = relu ? MathF.Max(v, 0f) : v; // branch-free: the sign of v is data, a branch on it mispredicts
            }
        }
    }

    // ---------------- backward ----------------

    [ThreadStatic] private static float[]? t_maskedGradient;

    /// <summary>
    /// dY of one (image, group) item: the slice of <paramref name="gradOutput"/>, or, after a fused ReLU, that slice zeroed
    /// where the ReLU's output is not positive, in a per-thread buffer (masked per item, while the item is in cache).
    /// </summary>
    private static ReadOnlySpan<float> ItemGradient(ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> reluOutput, int start, int length)
    {
        ReadOnlySpan<float> dy = gradOutput.Slice(start, length);
        if (reluOutput.IsEmpty) return dy;
        float[]? buffer = t_maskedGradient;
        if (buffer is null || buffer.Length < length) t_maskedGradient = buffer = GC.AllocateUninitializedArray<float>(length);
        Span<float> masked = buffer.AsSpan(0, length);
        Activations.ReluBackward(reluOutput.Slice(start, length), dy, masked, accumulate: false);
        return masked;
    }

    private static void BackwardInputFast(in Conv2dShape s, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> reluOutput,
        ReadOnlySpan<float> weight, Span<float> gradInput, bool accumulate)
    {
        int items = s.Batch * s.Groups;
        int parts = PartsFor(items, MacsPerItem(s));
        if (parts <= 1) BackwardInputItems(s, gradOutput, reluOutput, weight, gradInput, accumulate, 0, items);
        else BackwardInputParallel(s, gradOutput, reluOutput, weight, gradInput, accumulate, items, parts);
    }

    private static unsafe void BackwardInputParallel(in Conv2dShape s, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> reluOutput,
        ReadOnlySpan<float> weight, Span<float> gradInput, bool accumulate, int items, int parts)
    {
        fixed (float* pDy = gradOutput, pY = reluOutput, pW = weight, pDx = gradInput)
        {
            Conv2dShape shape = s;
            nint aDy = (nint)pDy, aY = (nint)pY, aW = (nint)pW, aDx = (nint)pDx;
            int lenDy = gradOutput.Length, lenY = reluOutput.Length, lenW = weight.Length, lenDx = gradInput.Length;
            Parallelism.For(parts, part =>
            {
                var (start, end) = PartRange(items, parts, part);
                BackwardInputItems(shape, new ReadOnlySpan<float>((void*)aDy, lenDy), new ReadOnlySpan<float>((void*)aY, lenY),
                    new ReadOnlySpan<float>((void*)aW, lenW), new Span<float>((void*)aDx, lenDx), accumulate, start, end);
            });
        }
    }

    /// <summary>dX_g (+)= col2im(W_gᵀ · dY_g) for items [start, end); each item owns a disjoint slice of dX.</summary>
    private static void BackwardInputItems(in Conv2dShape s, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> reluOutput,
        ReadOnlySpan<float> weight, Span<float> gradInput, bool accumulate, int start, int end)
    {
        int G = s.Groups, Cg = s.InChannelsPerGroup, Kg = s.OutChannelsPerGroup;
        int HW = s.InHeight * s.InWidth, P = s.OutHeight * s.OutWidth;
        int rows = Cg * s.KernelHeight * s.KernelWidth;
        bool pointwise = IsPointwise(s);
        for (int item = start; item < end; item++)
        {
            int n = item / G, g = item % G;
            ReadOnlySpan<float> dy = ItemGradient(gradOutput, reluOutput, (n * s.OutChannels + g * Kg) * P, Kg * P);
            ReadOnlySpan<float> w = weight.Slice(g * Kg * rows, Kg * rows);
            Span<float> dx = gradInput.Slice((n * s.InChannels + g * Cg) * HW, Cg * HW);
            if (pointwise)
            {
                Gemm.Multiply(true, false, Cg, P, Kg, w, Cg, dy, P, dx, P, accumulate: accumulate);
            }
            else
            {
                Span<float> cols = ColumnScratch(rows * P);
                Gemm.Multiply(true, false, rows, P, Kg, w, rows, dy, P, cols, P, accumulate: false);
                if (!accumulate) dx.Clear(); // this item's slice only, while the fold is about to touch it anyway
                Im2Col.FoldAdd(s, cols, dx);
            }
        }
    }

    // ---------------- backward weight ----------------

    private static void BackwardWeightFast(in Conv2dShape s, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> reluOutput,
        ReadOnlySpan<float> input, Span<float> gradWeight, Span<float> gradBias)
    {
        if (s.Batch >= 2)
        {
            int parts = PartsFor(s.Batch, MacsPerItem(s) * s.Groups);
            if (parts > 1)
            {
                BackwardWeightOverImages(s, gradOutput, reluOutput, input, gradWeight, gradBias, parts);
                return;
            }
        }
        else
        {
            // One image: groups own disjoint weight slices, so they can run in parallel without partial buffers.
            int parts = PartsFor(s.Groups, MacsPerItem(s));
            if (parts > 1)
            {
                BackwardWeightOverGroups(s, gradOutput, reluOutput, input, gradWeight, gradBias, parts);
                return;
            }
        }
        BackwardWeightRange(s, gradOutput, reluOutput, input, gradWeight, gradBias, 0, s.Batch, 0, s.Groups);
    }

    /// <summary>One image: groups own disjoint weight slices, so they run in parallel without partial buffers.</summary>
    private static unsafe void BackwardWeightOverGroups(in Conv2dShape s, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> reluOutput,
        ReadOnlySpan<float> input, Span<float> gradWeight, Span<float> gradBias, int parts)
    {
        fixed (float* pDy = gradOutput, pY = reluOutput, pX = input, pDw = gradWeight, pDb = gradBias)
        {
            Conv2dShape shape = s;
            nint aDy = (nint)pDy, aY = (nint)pY, aX = (nint)pX, aDw = (nint)pDw, aDb = (nint)pDb;
            int lenDy = gradOutput.Length, lenY = reluOutput.Length, lenX = input.Length, lenDw = gradWeight.Length, lenDb = gradBias.Length;
            Parallelism.For(parts, part =>
            {
                var (g0, g1) = PartRange(shape.Groups, parts, part);
                BackwardWeightRange(shape, new ReadOnlySpan<float>((void*)aDy, lenDy), new ReadOnlySpan<float>((void*)aY, lenY),
                    new ReadOnlySpan<float>((void*)aX, lenX),
                    new Span<float>((void*)aDw, lenDw), new Span<float>((void*)aDb, lenDb), 0, 1, g0, g1);
            });
        }
    }

    /// <summary>Splits the batch over workers; worker 0 accumulates straight into the result, the others into pooled partials reduced afterwards.</summary>
    private static unsafe void BackwardWeightOverImages(in Conv2dShape s, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> reluOutput,
        ReadOnlySpan<float> input, Span<float> gradWeight, Span<float> gradBias, int parts)
    {
        int lenDw = gradWeight.Length, lenDb = gradBias.Length, partial = lenDw + lenDb;
        float[] partials = ArrayPool<float>.Shared.Rent(partial * (parts - 1));
        try
        {
            Array.Clear(partials, 0, partial * (parts - 1));
            fixed (float* pDy = gradOutput, pY = reluOutput, pX = input, pDw = gradWeight, pDb = gradBias)
            {
                Conv2dShape shape = s;
                nint aDy = (nint)pDy, aY = (nint)pY, aX = (nint)pX, aDw = (nint)pDw, aDb = (nint)pDb;
                int lenDy = gradOutput.Length, lenY = reluOutput.Length, lenX = input.Length;
                Parallelism.For(parts, part =>
                {
                    var (n0, n1) = PartRange(shape.Batch, parts, part);
                    Span<float> dw, db;
                    if (part == 0)
                    {
                        dw = new Span<float>((void*)aDw, lenDw);
                        db = new Span<float>((void*)aDb, lenDb);
                    }
                    else
                    {
                        Span<float> mine = partials.AsSpan((part - 1) * partial, partial);
                        dw = mine[..lenDw];
                        db = mine[lenDw..];
                    }
                    BackwardWeightRange(shape, new ReadOnlySpan<float>((void*)aDy, lenDy), new ReadOnlySpan<float>((void*)aY, lenY),
                        new ReadOnlySpan<float>((void*)aX, lenX), dw, db, n0, n1, 0, shape.Groups);
                });
            }
            // Fixed reduction order: results depend only on the degree of parallelism, not on scheduling.
            for (int p = 1; p < parts; p++)
            {
                ReadOnlySpan<float> mine = partials.AsSpan((p - 1) * partial, partial);
                TensorPrimitives.Add(gradWeight, mine[..lenDw], gradWeight);
                if (lenDb > 0) TensorPrimitives.Add(gradBias, mine[lenDw..], gradBias);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(partials);
        }
    }

    /// <summary>dW_g += dY_g · colsᵀ and dB += row sums of dY_g, for images [n0, n1) and groups [g0, g1).</summary>
    private static void BackwardWeightRange(in Conv2dShape s, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> reluOutput,
        ReadOnlySpan<float> input, Span<float> gradWeight, Span<float> gradBias, int n0, int n1, int g0, int g1)
    {
        int Cg = s.InChannelsPerGroup, Kg = s.OutChannelsPerGroup;
        int HW = s.InHeight * s.InWidth, P = s.OutHeight * s.OutWidth;
        int rows = Cg * s.KernelHeight * s.KernelWidth;
        bool pointwise = IsPointwise(s);
        for (int n = n0; n < n1; n++)
        for (int g = g0; g < g1; g++)
        {
            ReadOnlySpan<float> dy = ItemGradient(gradOutput, reluOutput, (n * s.OutChannels + g * Kg) * P, Kg * P);
            ReadOnlySpan<float> image = input.Slice((n * s.InChannels + g * Cg) * HW, Cg * HW);
            Span<float> dw = gradWeight.Slice(g * Kg * rows, Kg * rows);
            ReadOnlySpan<float> cols = image;
            if (!pointwise)
            {
                Span<float> scratch = ColumnScratch(rows * P);
                Im2Col.Unfold(s, image, scratch);
                cols = scratch;
            }
            Gemm.Multiply(false, true, Kg, rows, P, dy, P, cols, P, dw, rows, accumulate: true);
            if (!gradBias.IsEmpty)
            {
                for (int k = 0; k < Kg; k++) gradBias[g * Kg + k] += TensorPrimitives.Sum(dy.Slice(k * P, P));
            }
        }
    }
}
