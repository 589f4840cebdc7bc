using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Numerics;

namespace Fovea.Kernels;

// Direct forward kernel for stride-1 convolutions with few taps per filter (T = Cg·R·S ≤ 32), e.g. the first layer of an
// image CNN (C = 1 or 3) or a depthwise 3×3. Such a GEMM has a tiny inner dimension, so im2col + GEMM spends its time on
// copying and packing rather than multiplying.
//
// Trick: copy the image into a zero-padded plane of width Wp = W + padLeft + padRight and compute outputs on the flat
// index q = oh·Wp + ow for every ow in [0, Wp). Each tap is then a constant offset in that flat plane, so one vector loop
// runs across row ends with no edge cases; the Wp - OW junk columns per row are simply not copied out.
// Register block: 4 filters × 2 vectors of flat outputs (16 outputs with 256-bit vectors, 8 with ARM64's 128-bit ones)
// = 8 accumulators; per tap 2 loads, 4 broadcasts, 8 FMAs. Vector<float> takes the machine's natural width.

public static partial class Conv2d
{
    private const int DirectMaxTaps = 32;
    private const int DirectFilters = 4;
    /// <summary>Flat outputs per register block: two vectors.</summary>
    private static int DirectWidth => 2 * Vector<float>.Count;
    private static nuint Lane => (nuint)Vector<float>.Count;

    internal static bool UseDirectForward(in Conv2dShape s) =>
        Vector.IsHardwareAccelerated && s.StrideHeight == 1 && s.StrideWidth == 1 &&
        s.InChannelsPerGroup * s.KernelHeight * s.KernelWidth <= DirectMaxTaps;

    private readonly record struct DirectPlan(int Wp, int PlaneLength, int FlatLength, int FilterBlocks)
    {
        public static DirectPlan For(in Conv2dShape s)
        {
            int wp = s.InWidth + s.PadLeft + s.PadRight;
            int hp = s.InHeight + s.PadTop + s.PadBottom;
            int flatLength = (s.OutHeight * wp + DirectWidth - 1) / DirectWidth * DirectWidth;
            int maxOffset = (s.KernelHeight - 1) * s.DilationHeight * wp + (s.KernelWidth - 1) * s.DilationWidth;
            int plane = Math.Max(hp * wp, flatLength + maxOffset);
            return new DirectPlan(wp, plane, flatLength, (s.OutChannelsPerGroup + DirectFilters - 1) / DirectFilters);
        }
    }

    private static void ForwardDirect(in Conv2dShape s, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, bool relu)
    {
        // Work unit = (image, group, block of 4 filters); units write disjoint output planes.
        DirectPlan plan = DirectPlan.For(s);
        int units = s.Batch * s.Groups * plan.FilterBlocks;
        // Waking a second thread costs microseconds: only worth it when there is real work (e.g. not one 28x28 image).
        long macs = (long)s.Batch * s.OutChannels * s.OutHeight * s.OutWidth * s.InChannelsPerGroup * s.KernelHeight * s.KernelWidth;
        int parts = Parallelism.InsideParallelRegion || macs < SmallItemMacs ? 1 : Math.Min(units, Parallelism.Degree);
        if (parts <= 1) ForwardDirectUnits(s, plan, input, weight, bias, output, relu, 0, units);
        else ForwardDirectParallel(s, plan, input, weight, bias, output, relu, units, parts);
    }

    // Separate from ForwardDirect so the lambda's captured state is never allocated on the serial path.
    private static unsafe void ForwardDirectParallel(in Conv2dShape s, DirectPlan plan, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, bool relu, int units, int parts)
    {
        fixed (float* pIn = input, pW = weight, pB = bias, pOut = output)
        {
            Conv2dShape shape = s;
            nint aIn = (nint)pIn, aW = (nint)pW, aB = (nint)pB, aOut = (nint)pOut;
            int lenIn = input.Length, lenW = weight.Length, lenB = bias.Length, lenOut = output.Length;
            Parallelism.For(parts, part =>
            {
                var (start, end) = PartRange(units, parts, part);
                ForwardDirectUnits(shape, plan, new ReadOnlySpan<float>((void*)aIn, lenIn), new ReadOnlySpan<float>((void*)aW, lenW),
                    new ReadOnlySpan<float>((void*)aB, lenB), new Span<float>((void*)aOut, lenOut), relu, start, end);
            });
        }
    }

    private static void ForwardDirectUnits(in Conv2dShape s, DirectPlan plan, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, bool relu, int start, int end)
    {
        int Cg = s.InChannelsPerGroup, Kg = s.OutChannelsPerGroup, H = s.InHeight, W = s.InWidth;
        int OH = s.OutHeight, OW = s.OutWidth, P = OH * OW, Wp = plan.Wp;
        int taps = Cg * s.KernelHeight * s.KernelWidth;

        // Scratch: padded planes of the current image/group, then DirectFilters result planes of FlatLength flat outputs.
        Span<float> scratch = ColumnScratch(Cg * plan.PlaneLength + DirectFilters * plan.FlatLength);
        Span<float> padded = scratch[..(Cg * plan.PlaneLength)];
        Span<float> results = scratch.Slice(Cg * plan.PlaneLength, DirectFilters * plan.FlatLength);

        Span<int> offsets = stackalloc int[DirectMaxTaps];
        for (int c = 0, t = 0; c < Cg; c++)
        for (int r = 0; r < s.KernelHeight; r++)
        for (int x = 0; x < s.KernelWidth; x++, t++)
            offsets[t] = c * plan.PlaneLength + r * s.DilationHeight * Wp + x * s.DilationWidth;

        int loadedItem = -1;
        for (int unit = start; unit < end; unit++)
        {
            int item = unit / plan.FilterBlocks, block = unit % plan.FilterBlocks;
            int n = item / s.Groups, g = item % s.Groups;
            if (item != loadedItem)
            {
                padded.Clear();
                for (int c = 0; c < Cg; c++)
                {
                    ReadOnlySpan<float> src = input.Slice(((n * s.InChannels + g * Cg + c) * H) * W, H * W);
                    Span<float> dst = padded.Slice(c * plan.PlaneLength, plan.PlaneLength);
                    for (int ih = 0; ih < H; ih++)
                        src.Slice(ih * W, W).CopyTo(dst.Slice((ih + s.PadTop) * Wp + s.PadLeft, W));
                }
                loadedItem = item;
            }

            int k0 = block * DirectFilters, kb = Math.Min(DirectFilters, Kg - k0);
            int kFirst = g * Kg + k0; // absolute filter index
            ReadOnlySpan<float> w = weight.Slice(kFirst * taps, kb * taps);
            ReadOnlySpan<float> b = bias.IsEmpty ? default : bias.Slice(kFirst, kb);
            if (OW >= DirectWidth)
            {
                // Wide rows: tiles of DirectWidth outputs stored straight into the output (the last tile of a row overlaps
                // the previous one instead of needing a tail), with ReLU applied in registers.
                Span<float> y = output.Slice((n * s.OutChannels + kFirst) * P, kb * P);
                if (kb == DirectFilters) DirectRows4(padded, offsets[..taps], w, b, relu, y, OH, OW, Wp);
                else
                {
                    for (int j = 0; j < kb; j++)
                        DirectRows1(padded, offsets[..taps], w.Slice(j * taps, taps), b.IsEmpty ? 0f : b[j], relu, y.Slice(j * P, P), OH, OW, Wp);
                }
                continue;
            }
            // Narrow rows: the whole flat plane as one row of FlatLength outputs (a whole number of register blocks).
            int flat = plan.FlatLength;
            if (kb == DirectFilters) DirectRows4(padded, offsets[..taps], w, b, false, results, 1, flat, flat);
            else
            {
                for (int j = 0; j < kb; j++)
                    DirectRows1(padded, offsets[..taps], w.Slice(j * taps, taps), b.IsEmpty ? 0f : b[j], false, results.Slice(j * flat, flat), 1, flat, flat);
            }

            // Copy the valid columns of each flat row out, fusing ReLU.
            for (int j = 0; j < kb; j++)
            {
                Span<float> y = output.Slice((n * s.OutChannels + kFirst + j) * P, P);
                ReadOnlySpan<float> res = results.Slice(j * plan.FlatLength, plan.FlatLength);
                for (int oh = 0; oh < OH; oh++)
                {
                    ReadOnlySpan<float> row = res.Slice(oh * Wp, OW);
                    Span<float> dst = y.Slice(oh * OW, OW);
                    if (relu) TensorPrimitives.Max(row, 0f, dst);
                    else row.CopyTo(dst);
                }
            }
        }
    }

    /// <summary>Four filters straight into their output planes y [4 × OH·OW]; requires OW ≥ DirectWidth.</summary>
    private static void DirectRows4(ReadOnlySpan<float> padded, ReadOnlySpan<int> offsets, ReadOnlySpan<float> w,
        ReadOnlySpan<float> b, bool relu, Span<float> y, int OH, int OW, int Wp)
    {
        int taps = offsets.Length, P = OH * OW;
        if (OW < DirectWidth || w.Length < 4 * taps || y.Length < 4 * P || padded.Length < offsets[taps - 1] + (OH - 1) * Wp + OW)
            throw new InvalidOperationException("Direct convolution block sized wrongly.");
        ref float src = ref MemoryMarshal.GetReference(padded);
        ref float wr = ref MemoryMarshal.GetReference(w);
        ref float dst = ref MemoryMarshal.GetReference(y);
        ref int off = ref MemoryMarshal.GetReference(offsets);
        Vector<float> b0 = b.IsEmpty ? default : Vector.Create(b[0]);
        Vector<float> b1 = b.IsEmpty ? default : Vector.Create(b[1]);
        Vector<float> b2 = b.IsEmpty ? default : Vector.Create(b[2]);
        Vector<float> b3 = b.IsEmpty ? default : Vector.Create(b[3]);
        nuint p1 = (nuint)P, p2 = (nuint)(2 * P), p3 = (nuint)(3 * P);
        for (int oh = 0; oh < OH; oh++)
        {
            for (int ow = 0; ; ow += DirectWidth)
            {
                if (ow > OW - DirectWidth) ow = OW - DirectWidth;
                int at = oh * Wp + ow;
                Vector<float> a00 = b0, a01 = b0, a10 = b1, a11 = b1, a20 = b2, a21 = b2, a30 = b3, a31 = b3;
                for (int t = 0; t < taps; t++)
                {
                    nuint i = (nuint)(Unsafe.Add(ref off, t) + at);
                    Vector<float> v0 = Vector.LoadUnsafe(ref src, i);
                    Vector<float> v1 = Vector.LoadUnsafe(ref src, i + Lane);
                    Vector<float> w0 = Vector.Create(Unsafe.Add(ref wr, t));
                    Vector<float> w1 = Vector.Create(Unsafe.Add(ref wr, taps + t));
                    Vector<float> w2 = Vector.Create(Unsafe.Add(ref wr, 2 * taps + t));
                    Vector<float> w3 = Vector.Create(Unsafe.Add(ref wr, 3 * taps + t));
                    a00 = Vector.MultiplyAddEstimate(w0, v0, a00); a01 = Vector.MultiplyAddEstimate(w0, v1, a01);
                    a10 = Vector.MultiplyAddEstimate(w1, v0, a10); a11 = Vector.MultiplyAddEstimate(w1, v1, a11);
                    a20 = Vector.MultiplyAddEstimate(w2, v0, a20); a21 = Vector.MultiplyAddEstimate(w2, v1, a21);
                    a30 = Vector.MultiplyAddEstimate(w3, v0, a30); a31 = Vector.MultiplyAddEstimate(w3, v1, a31);
                }
                if (relu)
                {
                    a00 = Vector.Max(a00, Vector<float>.Zero); a01 = Vector.Max(a01, Vector<float>.Zero);
                    a10 = Vector.Max(a10, Vector<float>.Zero); a11 = Vector.Max(a11, Vector<float>.Zero);
                    a20 = Vector.Max(a20, Vector<float>.Zero); a21 = Vector.Max(a21, Vector<float>.Zero);
                    a30 = Vector.Max(a30, Vector<float>.Zero); a31 = Vector.Max(a31, Vector<float>.Zero);
                }
                nuint o = (nuint)(oh * OW + ow);
                a00.StoreUnsafe(ref dst, o); a01.StoreUnsafe(ref dst, o + Lane);
                a10.StoreUnsafe(ref dst, o + p1); a11.StoreUnsafe(ref dst, o + p1 + Lane);
                a20.StoreUnsafe(ref dst, o + p2); a21.StoreUnsafe(ref dst, o + p2 + Lane);
                a30.StoreUnsafe(ref dst, o + p3); a31.StoreUnsafe(ref dst, o + p3 + Lane);
                if (ow == OW - DirectWidth) break;
            }
        }
    }

    /// <summary>One filter straight into its output plane y [OH·OW]; requires OW ≥ DirectWidth.</summary>
    private static void DirectRows1(ReadOnlySpan<float> padded, ReadOnlySpan<int> offsets, ReadOnlySpan<float> w,
        float b, bool relu, Span<float> y, int OH, int OW, int Wp)
    {
        int taps = offsets.Length;
        if (OW < DirectWidth || w.Length < taps || y.Length < OH * OW || padded.Length < offsets[taps - 1] + (OH - 1) * Wp + OW)
            throw new InvalidOperationException("Direct convolution block sized wrongly.");
        ref float src = ref MemoryMarshal.GetReference(padded);
        ref float wr = ref MemoryMarshal.GetReference(w);
        ref float dst = ref MemoryMarshal.GetReference(y);
        ref int off = ref MemoryMarshal.GetReference(offsets);
        Vector<float> bias = Vector.Create(b);
        for (int oh = 0; oh < OH; oh++)
        {
            for (int ow = 0; ; ow += DirectWidth)
            {
                if (ow > OW - DirectWidth) ow = OW - DirectWidth;
                int at = oh * Wp + ow;
                Vector<float> a0 = bias, a1 = bias;
                for (int t = 0; t < taps; t++)
                {
                    nuint i = (nuint)(Unsafe.Add(ref off, t) + at);
                    Vector<float> wt = Vector.Create(Unsafe.Add(ref wr, t));
                    a0 = Vector.MultiplyAddEstimate(wt, Vector.LoadUnsafe(ref src, i), a0);
                    a1 = Vector.MultiplyAddEstimate(wt, Vector.LoadUnsafe(ref src, i + Lane), a1);
                }
                if (relu)
                {
                    a0 = Vector.Max(a0, Vector<float>.Zero);
                    a1 = Vector.Max(a1, Vector<float>.Zero);
                }
                nuint o = (nuint)(oh * OW + ow);
                a0.StoreUnsafe(ref dst, o);
                a1.StoreUnsafe(ref dst, o + Lane);
                if (ow == OW - DirectWidth) break;
            }
        }
    }
}
