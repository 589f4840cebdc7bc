using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Fovea.Kernels;

// The vectorised plane kernels of MaxPool2d: the separable inference path and the 2x2 stride-2 path.
public static unsafe partial class MaxPool2d
{
    // Inference only (no argmax): the max over a window is the max over its columns of the max over its rows, so
    // each output row first reduces its window's input rows into one row (vectorised, all W columns at once), then
    // slides the window along that row. For ResNet's 3x3 stride-2 stem pool this reads each input value ~1.5 times
    // instead of 9. NaN still wins: a lane takes the candidate when it is greater or is NaN.
    [ThreadStatic] private static float[]? t_rowMax, t_phases;

    private static void PlaneSeparable(in Pool2dShape s, PoolAxis rows, PoolAxis cols, ReadOnlySpan<float> inp, Span<float> outp)
    {
        int w = s.InWidth, ow = s.OutWidth, dh = s.DilationHeight, stride = s.StrideWidth;
        var rowMax = Buffer(ref t_rowMax, w);
        // Sliding the window along a row reads rowMax at x·stride + tap offset. Split into `stride` phases
        // (phase q holds rowMax[q], rowMax[q + stride], ...), each tap reads one phase contiguously: vector loads.
        int phaseLength = (w + stride - 1) / stride;
        var phases = Buffer(ref t_phases, phaseLength * stride);
        var (interiorStart, interiorEnd) = InteriorOutputs(cols, s.KernelWidth);
        float** taps = stackalloc float*[s.KernelWidth];
        for (int y = 0; y < rows.OutSize; y++)
        {
            int y0 = rows.Start[y], kyBegin = rows.Begin[y], kyEnd = rows.End[y];
            Span<float> o = outp.Slice(y * ow, ow);
            if (kyBegin == kyEnd) { o.Fill(float.NegativeInfinity); continue; }
            if (stride == 2 && Vector256.IsHardwareAccelerated)
            {
                // The rows' max and the split into phases in one pass, no row copy; with the taps below, ResNet's stem pool
                // (64x112x112, 1 thread) went from 0.26 to 0.18 ms.
                VerticalMaxSplit2(inp, w, y0, kyBegin, kyEnd, dh, phases, phaseLength);
                for (int x = 0; x < interiorStart; x++) o[x] = WindowMaxOfPhases(phases, phaseLength, cols, x, s.DilationWidth);
                for (int x = interiorEnd; x < ow; x++) o[x] = WindowMaxOfPhases(phases, phaseLength, cols, x, s.DilationWidth);
            }
            else
            {
                inp.Slice((y0 + kyBegin * dh) * w, w).CopyTo(rowMax);
                for (int ky = kyBegin + 1; ky < kyEnd; ky++) MaxInto(rowMax, inp.Slice((y0 + ky * dh) * w, w));
                SplitPhases(rowMax, stride, phases, phaseLength);
                for (int x = 0; x < interiorStart; x++) o[x] = WindowMax(rowMax, cols, x, s.DilationWidth);
                for (int x = interiorEnd; x < ow; x++) o[x] = WindowMax(rowMax, cols, x, s.DilationWidth);
            }
            if (interiorEnd <= interiorStart) continue;
            Span<float> interior = o[interiorStart..interiorEnd];
            fixed (float* phaseBase = phases)
            {
                for (int kx = 0; kx < s.KernelWidth; kx++)
                {
                    // Input column of output x, tap kx: x·stride + d with d = kx·dilation − padLeft.
                    int d = kx * s.DilationWidth - s.PadLeft;
                    int phase = ((d % stride) + stride) % stride, shift = (d - phase) / stride;
                    taps[kx] = phaseBase + phase * phaseLength + interiorStart + shift;
                }
                fixed (float* dst = interior) MaxOfTaps(taps, s.KernelWidth, dst, interior.Length);
            }
        }
    }

    /// <summary>
    /// Stride 2: the max over input rows y0 + ky·dh (ky in [kyBegin, kyEnd)) of every column, written split into its two
    /// phases (even columns at phases[j], odd ones at phases[phaseLength + j]), 16 columns per step.
    /// </summary>
    private static void VerticalMaxSplit2(ReadOnlySpan<float> inp, int w, int y0, int kyBegin, int kyEnd, int dh, Span<float> phases, int phaseLength)
    {
        fixed (float* plane = inp, even = phases)
        {
            float* odd = even + phaseLength, first = plane + (long)(y0 + kyBegin * dh) * w;
            int i = 0;
            for (; i + 16 <= w; i += 16)
            {
                var a = Vector256.Load(first + i);
                var b = Vector256.Load(first + i + 8);
                for (int ky = kyBegin + 1; ky < kyEnd; ky++)
                {
                    float* row = plane + (long)(y0 + ky * dh) * w + i;
                    var ca = Vector256.Load(row);
                    var cb = Vector256.Load(row + 8);
                    a = NaNWinsMax(a, ca);
                    b = NaNWinsMax(b, cb);
                }
                Lanes.Deinterleave(a, b, out var e, out var o);
                e.Store(even + i / 2);
                o.Store(odd + i / 2);
            }
            for (; i < w; i++)
            {
                float best = first[i];
                for (int ky = kyBegin + 1; ky < kyEnd; ky++)
                {
                    float v = plane[(long)(y0 + ky * dh) * w + i];
                    if (v > best || (float.IsNaN(v) && !float.IsNaN(best))) best = v;
                }
                ((i & 1) == 0 ? even : odd)[i >> 1] = best;
            }
        }
    }

    /// <summary>As <see cref="WindowMax"/>, reading the row's column maxima from their two stride-2 phases.</summary>
    private static float WindowMaxOfPhases(ReadOnlySpan<float> phases, int phaseLength, PoolAxis cols, int x, int dilation)
    {
        int x0 = cols.Start[x];
        float best = float.NegativeInfinity;
        for (int kx = cols.Begin[x]; kx < cols.End[x]; kx++)
        {
            int j = x0 + kx * dilation;
            float v = phases[(j & 1) * phaseLength + (j >> 1)];
            if (v > best || float.IsNaN(v)) best = v;
            if (float.IsNaN(best)) break;
        }
        return best;
    }

    /// <summary>dst[i] = the NaN-wins max over taps t of taps[t][i], i &lt; count: one pass, every tap read at once.</summary>
    private static void MaxOfTaps(float** taps, int tapCount, float* dst, int count)
    {
        int i = 0, width = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated && count >= width)
        {
            // The last step may overlap the previous one: it recomputes from the sources, so no scalar tail.
            for (; ; i += width)
            {
                if (i > count - width) i = count - width;
                var best = Vector.Load(taps[0] + i);
                for (int t = 1; t < tapCount; t++) best = NaNWinsMax(best, Vector.Load(taps[t] + i));
                best.Store(dst + i);
                if (i + width >= count) return;
            }
        }
        for (; i < count; i++)
        {
            float best = taps[0][i];
            for (int t = 1; t < tapCount; t++)
            {
                float v = taps[t][i];
                if (v > best || (float.IsNaN(v) && !float.IsNaN(best))) best = v;
            }
            dst[i] = best;
        }
    }

    /// <summary>phases[q·phaseLength + j] = row[q + j·stride]; stride 2 (the common case) through vector deinterleaving.</summary>
    private static void SplitPhases(ReadOnlySpan<float> row, int stride, Span<float> phases, int phaseLength)
    {
        int w = row.Length, i = 0;
        if (stride == 2 && Vector256.IsHardwareAccelerated)
        {
            fixed (float* r = row, even = phases, odd = phases.Slice(phaseLength))
            {
                for (; i + 16 <= w; i += 16)
                {
                    Lanes.Deinterleave(Vector256.Load(r + i), Vector256.Load(r + i + 8), out var e, out var o);
                    e.Store(even + i / 2);
                    o.Store(odd + i / 2);
                }
            }
        }
        for (int q = 0; q < stride; q++)
        {
            Span<float> phase = phases.Slice(q * phaseLength, phaseLength);
            // i is a multiple of the stride here: the scalar rest starts at phase index i / stride.
            for (int j = i + q, k = i / stride; j < w; j += stride, k++) phase[k] = row[j];
        }
    }

    private static Span<float> Buffer(ref float[]? buffer, int length) =>
        (buffer is { } b && b.Length >= length ? b : buffer = new float[Math.Max(length, 64)]).AsSpan(0, length);

    /// <summary>The outputs [start, end) whose window lies wholly inside the input (all kernel taps valid).</summary>
    private static (int Start, int End) InteriorOutputs(PoolAxis cols, int kernel)
    {
        int start = 0;
        while (start < cols.OutSize && !(cols.Begin[start] == 0 && cols.End[start] == kernel)) start++;
        int end = start;
        while (end < cols.OutSize && cols.Begin[end] == 0 && cols.End[end] == kernel) end++;
        return (start, end);
    }

    /// <summary>Max of rowMax over output x's window taps (padding skipped; NaN wins; no tap gives −∞).</summary>
    private static float WindowMax(ReadOnlySpan<float> rowMax, PoolAxis cols, int x, int dilation)
    {
        int x0 = cols.Start[x];
        float best = float.NegativeInfinity;
        for (int kx = cols.Begin[x]; kx < cols.End[x]; kx++)
        {
            float v = rowMax[x0 + kx * dilation];
            if (v > best || float.IsNaN(v)) best = v;
            if (float.IsNaN(best)) break;
        }
        return best;
    }

    /// <summary>best[i] = candidate[i] where candidate[i] &gt; best[i] or is NaN (NaN wins, as in the window scan).</summary>
    private static void MaxInto(Span<float> best, ReadOnlySpan<float> candidate)
    {
        int i = 0, n = best.Length;
        fixed (float* b = best, c = candidate)
        {
            int width = Vector<float>.Count; // 8 with AVX, 4 on ARM64 AdvSimd
            if (Vector.IsHardwareAccelerated && n >= width)
            {
                // Taking the max twice changes nothing, so the last step may overlap the previous one: no scalar tail.
                for (; ; i += width)
                {
                    if (i > n - width) i = n - width;
                    var vb = Vector.Load(b + i);
                    var vc = Vector.Load(c + i);
                    NaNWinsMax(vb, vc).Store(b + i);
                    if (i + width >= n) return;
                }
            }
            for (; i < n; i++)
            {
                if (c[i] > b[i] || (float.IsNaN(c[i]) && !float.IsNaN(b[i]))) b[i] = c[i];
            }
        }
    }

    /// <summary>
    /// 2x2 window, stride 2, no padding, every window inside the input: 8 (or 4) outputs per vector step. Rows shorter
    /// than a multiple of the vector end with an overlapping last step rather than a scalar loop, whose data-dependent
    /// branches mispredict on real activations (output rows are often only 7 or 14 wide).
    /// </summary>
    private static void Plane2x2(ReadOnlySpan<float> inp, int w, Span<float> outp, int oh, int ow, Span<int> arg, int planeBase)
    {
        bool withArg = !arg.IsEmpty;
        Span<float> rows = stackalloc float[32 + 8]; // narrow rows' last step: two padded input rows, eight outputs
        Span<int> args = stackalloc int[8];
        for (int y = 0; y < oh; y++)
        {
            ReadOnlySpan<float> r0 = inp.Slice(2 * y * w, w);
            ReadOnlySpan<float> r1 = inp.Slice((2 * y + 1) * w, w);
            Span<float> o = outp.Slice(y * ow, ow);
            Span<int> a = withArg ? arg.Slice(y * ow, ow) : default;
            int rowIndex = planeBase + 2 * y * w;
            if (Vector256.IsHardwareAccelerated && ow >= 4 && ow < 8)
            {
                // Narrow rows (14 -> 7): one 8-wide step. It reads into the next input rows and writes spare outputs
                // into the start of the next output row, which that row then overwrites; the plane's last row has no
                // next row to borrow, so it goes through a padded copy on the stack.
                if (y < oh - 1)
                {
                    Step8(inp.Slice(2 * y * w, 16), inp.Slice((2 * y + 1) * w, 16), outp.Slice(y * ow, 8),
                        withArg ? arg.Slice(y * ow, 8) : default, 0, w, rowIndex, withArg);
                }
                else
                {
                    r0.CopyTo(rows);
                    r1.CopyTo(rows.Slice(16));
                    Step8(rows[..16], rows.Slice(16, 16), rows.Slice(32, 8), args, 0, w, rowIndex, withArg);
                    rows.Slice(32, ow).CopyTo(o);
                    if (withArg) args[..ow].CopyTo(a);
                }
            }
            else if (Vector256.IsHardwareAccelerated && ow >= 8)
            {
                for (int x = 0; ; x += 8)
                {
                    if (x > ow - 8) x = ow - 8;
                    Step8(r0, r1, o, a, x, w, rowIndex, withArg);
                    if (x == ow - 8) break;
                }
            }
            else if (Vector128.IsHardwareAccelerated && ow >= 4)
            {
                for (int x = 0; ; x += 4)
                {
                    if (x > ow - 4) x = ow - 4;
                    Step4(r0, r1, o, a, x, w, rowIndex, withArg);
                    if (x == ow - 4) break;
                }
            }
            else
            {
                for (int x = 0; x < ow; x++)
                {
                    int j = 2 * x;
                    float best = r0[j];
                    int bi = j;
                    float v = r0[j + 1];
                    if (v > best || (float.IsNaN(v) && !float.IsNaN(best))) { best = v; bi = j + 1; }
                    v = r1[j];
                    if (v > best || (float.IsNaN(v) && !float.IsNaN(best))) { best = v; bi = j + w; }
                    v = r1[j + 1];
                    if (v > best || (float.IsNaN(v) && !float.IsNaN(best))) { best = v; bi = j + w + 1; }
                    o[x] = best;
                    if (withArg) a[x] = rowIndex + bi;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step8(ReadOnlySpan<float> r0, ReadOnlySpan<float> r1, Span<float> o, Span<int> a, int x, int w, int rowIndex, bool withArg)
    {
        Lanes.Deinterleave(Vector256.Create(r0.Slice(2 * x, 8)), Vector256.Create(r0.Slice(2 * x + 8, 8)), out var c00, out var c01);
        Lanes.Deinterleave(Vector256.Create(r1.Slice(2 * x, 8)), Vector256.Create(r1.Slice(2 * x + 8, 8)), out var c10, out var c11);
        Vector256<float> best = c00;
        Vector256<float> m01 = Wins(c01, best);
        best = Vector256.ConditionalSelect(m01, c01, best);
        Vector256<float> m10 = Wins(c10, best);
        best = Vector256.ConditionalSelect(m10, c10, best);
        Vector256<float> m11 = Wins(c11, best);
        best = Vector256.ConditionalSelect(m11, c11, best);
        best.CopyTo(o.Slice(x, 8));
        if (!withArg) return;
        Vector256<int> i00 = Vector256.Create(rowIndex + 2 * x) + Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
        Vector256<int> idx = i00;
        idx = Vector256.ConditionalSelect(m01.AsInt32(), i00 + Vector256.Create(1), idx);
        idx = Vector256.ConditionalSelect(m10.AsInt32(), i00 + Vector256.Create(w), idx);
        idx = Vector256.ConditionalSelect(m11.AsInt32(), i00 + Vector256.Create(w + 1), idx);
        idx.CopyTo(a.Slice(x, 8));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step4(ReadOnlySpan<float> r0, ReadOnlySpan<float> r1, Span<float> o, Span<int> a, int x, int w, int rowIndex, bool withArg)
    {
        Deinterleave(Vector128.Create(r0.Slice(2 * x, 4)), Vector128.Create(r0.Slice(2 * x + 4, 4)), out var c00, out var c01);
        Deinterleave(Vector128.Create(r1.Slice(2 * x, 4)), Vector128.Create(r1.Slice(2 * x + 4, 4)), out var c10, out var c11);
        Vector128<float> best = c00;
        Vector128<float> m01 = Wins(c01, best);
        best = Vector128.ConditionalSelect(m01, c01, best);
        Vector128<float> m10 = Wins(c10, best);
        best = Vector128.ConditionalSelect(m10, c10, best);
        Vector128<float> m11 = Wins(c11, best);
        best = Vector128.ConditionalSelect(m11, c11, best);
        best.CopyTo(o.Slice(x, 4));
        if (!withArg) return;
        Vector128<int> i00 = Vector128.Create(rowIndex + 2 * x) + Vector128.Create(0, 2, 4, 6);
        Vector128<int> idx = i00;
        idx = Vector128.ConditionalSelect(m01.AsInt32(), i00 + Vector128.Create(1), idx);
        idx = Vector128.ConditionalSelect(m10.AsInt32(), i00 + Vector128.Create(w), idx);
        idx = Vector128.ConditionalSelect(m11.AsInt32(), i00 + Vector128.Create(w + 1), idx);
        idx.CopyTo(a.Slice(x, 4));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Wins(Vector128<float> c, Vector128<float> best)
        => Vector128.GreaterThan(c, best) | (~Vector128.Equals(c, c) & Vector128.Equals(best, best));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Deinterleave(Vector128<float> a, Vector128<float> b, out Vector128<float> even, out Vector128<float> odd)
    {
        Vector128<float> pa = Vector128.Shuffle(a, Vector128.Create(0, 2, 1, 3));
        Vector128<float> pb = Vector128.Shuffle(b, Vector128.Create(0, 2, 1, 3));
        even = Vector128.Create(pa.GetLower(), pb.GetLower());
        odd = Vector128.Create(pa.GetUpper(), pb.GetUpper());
    }

    // The values a window scan keeps (NaN wins, the first NaN stays), without its tie rule: inference keeps no argmax, and
    // between equal values only ±0 could differ, which compare equal. Three instructions instead of Wins' six: the
    // native max returns its second operand when either is NaN (x64) or a NaN (ARM64), so a NaN candidate wins; a NaN
    // best is kept by the select.

    /// <summary>Per lane: best if it is NaN, else candidate if it is greater or NaN, else best (up to the sign of zero).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> NaNWinsMax(Vector256<float> best, Vector256<float> candidate)
        => Vector256.ConditionalSelect(Vector256.Equals(best, best), Vector256.MaxNative(best, candidate), best);

    /// <inheritdoc cref="NaNWinsMax(Vector256{float}, Vector256{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> NaNWinsMax(Vector<float> best, Vector<float> candidate)
        => Vector.ConditionalSelect(Vector.Equals(best, best), Vector.MaxNative(best, candidate), best);

    /// <summary>All-ones lanes where candidate c replaces the current best (strictly greater, or the first NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Wins(Vector256<float> c, Vector256<float> best)
        => Vector256.GreaterThan(c, best) | (~Vector256.Equals(c, c) & Vector256.Equals(best, best));

    /// <inheritdoc cref="Wins(Vector256{float}, Vector256{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<int> Wins(Vector<float> c, Vector<float> best)
        => Vector.GreaterThan(c, best) | (~Vector.Equals(c, c) & Vector.Equals(best, best));
}
