using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

// Legend as in PackedConv2d.cs; Hp Wp the padded input, sh sw strides, dh dw dilations.
// Few input channels with a large or strided kernel (ResNet's 7x7 stride-2 stem: C = 3, 147 taps per filter). im2col
// would copy every input value ~12 times into a matrix that the GEMM then copies once more into its panels. Instead the
// padded image is split once into its stride phases: phase plane (c, py, px) holds padded pixel (i·sh + py, j·sw + px)
// of channel c at (i, j), in a plane of Hq x Wq = ceil(Hp / sh) x ceil(Wp / sw). Output (oy, ox) through tap (c, r, s)
// reads phase plane (c, r·dh mod sh, s·dw mod sw) at (oy + r·dh / sh, ox + s·dw / sw), so on the flat index
// q = oy·Wq + ox every tap is one constant offset. The product then runs like a GEMM whose right-operand rows are read
// straight from the planes: register tiles of 8 filters x 48 flat outputs, no unfolding and no packing. The price is
// Wq − OW junk columns per output row (3 of 115 for the stem), dropped when a tile is copied out with bias, residual
// and ReLU.
// With 256-bit vectors (AVX2 + FMA, 16 registers) the tile is 4 filters x 24 flat outputs: 12 accumulators, 3 output
// vectors and one broadcast. Same plan, offsets, chunks, thread split and copy-out. Measured with AVX-512 disabled,
// 1 / 2 threads, batch 1, against im2col + GEMM: the stem (3 -> 64, 224x224) 2.44 / 1.21 ms -> 1.99 / 1.03; 5x5 stride 2
// on 1 channel (224x224, 32 filters) 0.301 / 0.153 -> 0.212 / 0.115; 3x3 stride 2 on 3 channels (32x32, 16 filters)
// 5.5 -> 4.5 us; 7x7 stride 1 on 1 channel (64x64, 16 filters) 0.123 -> 0.063 ms. 6 filters x 16 outputs (2.12 ms on
// the stem) and 3 x 32 (2.08) were slower. In ResNet-18 at batch 1 on 1 thread (resnet-profile) the stem took 2.07-2.09
// ms against 2.49-2.59; alone at batch 32, 2.04-2.12 ms an image against 2.48 (1 thread), 1.05 against 1.24-1.26 (2).
// Other hardware (128-bit vectors) keeps im2col + GEMM for these shapes.

public sealed unsafe partial class PackedConv2d
{
    /// <summary>Flat outputs per chunk: whole tiles of either width (48 or 24). 240 and 960 were no faster with 4 x 24.</summary>
    private const int PolyChunk = 480;

    private sealed class PolyphasePlan
    {
        public int PlaneWidth, PlaneLength, Taps, FlatOutputs, BufferLength, FilterBlocks;
        /// <summary>The register tile, filters x flat outputs: 8 x 48 with 512-bit vectors, 4 x 24 with 256-bit ones.</summary>
        public int Filters, Tile;
        /// <summary>The largest tap offset within a plane: flat output q reads plane positions up to q + this.</summary>
        public int MaxOffsetInPlane;
        public int[] Offsets = [];
        /// <summary>[filter block][tap][Filters], zero for filters past K.</summary>
        public float[] Weights = [];
    }

    private PolyphasePlan? _polyphase;

    [ThreadStatic] private static float[]? t_planes, t_flat;

    /// <summary>
    /// Few input channels (≤ 4) with a strided kernel or more than 32 taps, at least 8 filters, one group, on hardware
    /// with 512-bit vectors or AVX2 + FMA. Stride-1 kernels of ≤ 32 taps keep the general direct kernel.
    /// </summary>
    internal static bool UsePolyphase(in Conv2dShape s)
    {
        int taps = s.InChannels * s.KernelHeight * s.KernelWidth;
        return (Avx512F.IsSupported || (Avx2.IsSupported && Fma.IsSupported)) &&
               s.Groups == 1 && s.InChannels <= 4 && s.OutChannels >= 8 && taps <= 1024 &&
               (s.StrideHeight > 1 || s.StrideWidth > 1 || taps > 32);
    }

    private void PreparePolyphase(ReadOnlySpan<float> weight)
    {
        var s = _shape;
        int sh = s.StrideHeight, sw = s.StrideWidth;
        int hq = (s.InHeight + s.PadTop + s.PadBottom + sh - 1) / sh, wq = (s.InWidth + s.PadLeft + s.PadRight + sw - 1) / sw;
        var (blockFilters, tile) = Avx512F.IsSupported ? (8, 48) : (4, 24);
        int taps = _rows, filters = s.OutChannels, blocks = (filters + blockFilters - 1) / blockFilters;
        var plan = new PolyphasePlan
        {
            PlaneWidth = wq, PlaneLength = hq * wq, Taps = taps, FilterBlocks = blocks, Filters = blockFilters, Tile = tile,
            FlatOutputs = (s.OutHeight * wq + tile - 1) / tile * tile,
            Offsets = new int[taps], Weights = new float[blocks * taps * blockFilters],
        };
        // Tap t = (c·R + r)·S + x, the order of a filter's weights.
        for (int c = 0, t = 0; c < s.InChannels; c++)
            for (int r = 0; r < s.KernelHeight; r++)
                for (int x = 0; x < s.KernelWidth; x++, t++)
                {
                    int dy = r * s.DilationHeight, dx = x * s.DilationWidth;
                    int phase = (c * sh + dy % sh) * sw + dx % sw;
                    plan.Offsets[t] = phase * plan.PlaneLength + dy / sh * wq + dx / sw;
                }
        plan.MaxOffsetInPlane = plan.Offsets.Max(o => o % plan.PlaneLength);
        // Junk outputs past the last row read up to a full tile beyond the planes: room for that, kept zero.
        plan.BufferLength = Math.Max(s.InChannels * sh * sw * plan.PlaneLength, plan.Offsets.Max() + plan.FlatOutputs) + tile;
        for (int k = 0; k < filters; k++)
            for (int t = 0; t < taps; t++)
                plan.Weights[((k / blockFilters) * taps + t) * blockFilters + k % blockFilters] = weight[k * taps + t];
        _polyphase = plan;
    }

    /// <summary>Image n through the polyphase kernel, its flat outputs shared by <paramref name="parts"/> threads.</summary>
    private void PolyphaseImage(Buffers io, int n, int parts)
    {
        var plan = _polyphase!;
        int tile = plan.Tile, tiles = plan.FlatOutputs / tile;
        parts = Math.Min(parts, tiles);
        if (parts <= 1) { PolyphasePart(io, n, 0, plan.FlatOutputs); return; }
        Parallelism.For(parts, part => PolyphasePart(io, n, tiles * part / parts * tile, tiles * (part + 1) / parts * tile));
    }

    /// <summary>
    /// Flat outputs [q0, q1) of image n. The thread splits the plane rows these outputs read into its own buffer: one
    /// shared split, made by one thread, would put what the other core reads in the wrong cache (and run serially).
    /// </summary>
    private void PolyphasePart(Buffers io, int n, int q0, int q1)
    {
        var plan = _polyphase!;
        int wq = plan.PlaneWidth, hq = plan.PlaneLength / wq;
        int firstRow = Math.Min(hq, q0 / wq), endRow = Math.Min(hq, (q1 - 1 + plan.MaxOffsetInPlane) / wq + 1);
        PolyphaseRange(io, n, SplitPhases(io, n, firstRow, endRow), q0, q1);
    }

    /// <summary>
    /// Rows [firstRow, endRow) of image n's padded phase planes, in this thread's buffer (valid until its next use). Other
    /// rows keep whatever they held: only junk outputs (past a row's end or the last row) read them.
    /// </summary>
    private float* SplitPhases(Buffers io, int n, int firstRow, int endRow)
    {
        var s = _shape;
        var plan = _polyphase!;
        int sh = s.StrideHeight, sw = s.StrideWidth, H = s.InHeight, W = s.InWidth, wq = plan.PlaneWidth;
        float* planes = Scratch(ref t_planes, plan.BufferLength);
        int planeCount = s.InChannels * sh * sw;
        for (int plane = 0; plane < planeCount; plane++)
            new Span<float>(planes + (long)plane * plan.PlaneLength + (long)firstRow * wq, (endRow - firstRow) * wq).Clear();
        // The room past the planes that the last junk outputs read: zero, so no stale NaN or denormal slows the FMAs.
        long planesEnd = (long)planeCount * plan.PlaneLength;
        new Span<float>(planes + planesEnd, (int)(plan.BufferLength - planesEnd)).Clear();
        float* image = (float*)io.Input + (long)n * ImageLength;
        int yFirst = Math.Max(0, firstRow * sh - s.PadTop), yEnd = Math.Min(H, endRow * sh - s.PadTop);
        for (int c = 0; c < s.InChannels; c++)
            for (int y = yFirst; y < yEnd; y++)
            {
                int py = (y + s.PadTop) % sh, i = (y + s.PadTop) / sh;
                float* src = image + ((long)c * H + y) * W;
                for (int px = 0; px < sw; px++)
                {
                    // Plane column j holds input column x = j·sw + px − padLeft: the first j with x ≥ 0, then every one below W.
                    int j0 = s.PadLeft - px <= 0 ? 0 : (s.PadLeft - px + sw - 1) / sw, x0 = j0 * sw + px - s.PadLeft;
                    if (x0 >= W) continue;
                    int count = (W - 1 - x0) / sw + 1;
                    float* dst = planes + (long)((c * sh + py) * sw + px) * plan.PlaneLength + (long)i * wq + j0;
                    if (sw == 1) new ReadOnlySpan<float>(src + x0, count).CopyTo(new Span<float>(dst, count));
                    else if (sw == 2) Im2Col.CopyEveryOther(src + x0, dst, count);
                    else for (int j = 0; j < count; j++) dst[j] = src[x0 + (long)j * sw];
                }
            }
        return planes;
    }

    /// <summary>Flat outputs [q0, q1) (whole tiles) of image n, every filter, a cache-sized chunk at a time.</summary>
    private void PolyphaseRange(Buffers io, int n, float* planes, int q0, int q1)
    {
        var plan = _polyphase!;
        float* flat = Scratch(ref t_flat, plan.Filters * PolyChunk);
        fixed (float* weights = plan.Weights)
        fixed (int* offsets = plan.Offsets)
        {
            for (int c0 = q0; c0 < q1; c0 += PolyChunk)
            {
                int length = Math.Min(PolyChunk, q1 - c0);
                for (int block = 0; block < plan.FilterBlocks; block++)
                {
                    float* w = weights + (long)block * plan.Taps * plan.Filters;
                    if (plan.Tile == 48)
                        for (int t0 = 0; t0 < length; t0 += 48) Tile8x48(w, planes + c0 + t0, offsets, plan.Taps, flat + t0, PolyChunk);
                    else
                        for (int t0 = 0; t0 < length; t0 += 24) Tile4x24(w, planes + c0 + t0, offsets, plan.Taps, flat + t0, PolyChunk);
                    CopyOut(io, n, block, flat, c0, length);
                }
            }
        }
    }

    /// <summary>dst[f·ldd + j] = Σ_t w[t·8 + f] · x[offsets[t] + j] for 8 filters f and 48 flat outputs j.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile8x48(float* w, float* x, int* offsets, int taps, float* dst, int ldd)
    {
        var zero = Vector512<float>.Zero;
        Vector512<float> c00 = zero, c01 = zero, c02 = zero, c10 = zero, c11 = zero, c12 = zero;
        Vector512<float> c20 = zero, c21 = zero, c22 = zero, c30 = zero, c31 = zero, c32 = zero;
        Vector512<float> c40 = zero, c41 = zero, c42 = zero, c50 = zero, c51 = zero, c52 = zero;
        Vector512<float> c60 = zero, c61 = zero, c62 = zero, c70 = zero, c71 = zero, c72 = zero;
        for (int t = 0; t < taps; t++, w += 8)
        {
            float* b = x + offsets[t];
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16); var b2 = Vector512.Load(b + 32);
            var a = Vector512.Create(w[0]);
            c00 = Avx512F.FusedMultiplyAdd(a, b0, c00); c01 = Avx512F.FusedMultiplyAdd(a, b1, c01); c02 = Avx512F.FusedMultiplyAdd(a, b2, c02);
            a = Vector512.Create(w[1]);
            c10 = Avx512F.FusedMultiplyAdd(a, b0, c10); c11 = Avx512F.FusedMultiplyAdd(a, b1, c11); c12 = Avx512F.FusedMultiplyAdd(a, b2, c12);
            a = Vector512.Create(w[2]);
            c20 = Avx512F.FusedMultiplyAdd(a, b0, c20); c21 = Avx512F.FusedMultiplyAdd(a, b1, c21); c22 = Avx512F.FusedMultiplyAdd(a, b2, c22);
            a = Vector512.Create(w[3]);
            c30 = Avx512F.FusedMultiplyAdd(a, b0, c30); c31 = Avx512F.FusedMultiplyAdd(a, b1, c31); c32 = Avx512F.FusedMultiplyAdd(a, b2, c32);
            a = Vector512.Create(w[4]);
            c40 = Avx512F.FusedMultiplyAdd(a, b0, c40); c41 = Avx512F.FusedMultiplyAdd(a, b1, c41); c42 = Avx512F.FusedMultiplyAdd(a, b2, c42);
            a = Vector512.Create(w[5]);
            c50 = Avx512F.FusedMultiplyAdd(a, b0, c50); c51 = Avx512F.FusedMultiplyAdd(a, b1, c51); c52 = Avx512F.FusedMultiplyAdd(a, b2, c52);
            a = Vector512.Create(w[6]);
            c60 = Avx512F.FusedMultiplyAdd(a, b0, c60); c61 = Avx512F.FusedMultiplyAdd(a, b1, c61); c62 = Avx512F.FusedMultiplyAdd(a, b2, c62);
            a = Vector512.Create(w[7]);
            c70 = Avx512F.FusedMultiplyAdd(a, b0, c70); c71 = Avx512F.FusedMultiplyAdd(a, b1, c71); c72 = Avx512F.FusedMultiplyAdd(a, b2, c72);
        }
        c00.Store(dst); c01.Store(dst + 16); c02.Store(dst + 32); dst += ldd;
        c10.Store(dst); c11.Store(dst + 16); c12.Store(dst + 32); dst += ldd;
        c20.Store(dst); c21.Store(dst + 16); c22.Store(dst + 32); dst += ldd;
        c30.Store(dst); c31.Store(dst + 16); c32.Store(dst + 32); dst += ldd;
        c40.Store(dst); c41.Store(dst + 16); c42.Store(dst + 32); dst += ldd;
        c50.Store(dst); c51.Store(dst + 16); c52.Store(dst + 32); dst += ldd;
        c60.Store(dst); c61.Store(dst + 16); c62.Store(dst + 32); dst += ldd;
        c70.Store(dst); c71.Store(dst + 16); c72.Store(dst + 32);
    }

    /// <summary>dst[f·ldd + j] = Σ_t w[t·4 + f] · x[offsets[t] + j] for 4 filters f and 24 flat outputs j (AVX2 + FMA).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x24(float* w, float* x, int* offsets, int taps, float* dst, int ldd)
    {
        var zero = Vector256<float>.Zero;
        Vector256<float> c00 = zero, c01 = zero, c02 = zero, c10 = zero, c11 = zero, c12 = zero;
        Vector256<float> c20 = zero, c21 = zero, c22 = zero, c30 = zero, c31 = zero, c32 = zero;
        for (int t = 0; t < taps; t++, w += 4)
        {
            float* b = x + offsets[t];
            var b0 = Avx.LoadVector256(b); var b1 = Avx.LoadVector256(b + 8); var b2 = Avx.LoadVector256(b + 16);
            var a = Vector256.Create(w[0]);
            c00 = Fma.MultiplyAdd(a, b0, c00); c01 = Fma.MultiplyAdd(a, b1, c01); c02 = Fma.MultiplyAdd(a, b2, c02);
            a = Vector256.Create(w[1]);
            c10 = Fma.MultiplyAdd(a, b0, c10); c11 = Fma.MultiplyAdd(a, b1, c11); c12 = Fma.MultiplyAdd(a, b2, c12);
            a = Vector256.Create(w[2]);
            c20 = Fma.MultiplyAdd(a, b0, c20); c21 = Fma.MultiplyAdd(a, b1, c21); c22 = Fma.MultiplyAdd(a, b2, c22);
            a = Vector256.Create(w[3]);
            c30 = Fma.MultiplyAdd(a, b0, c30); c31 = Fma.MultiplyAdd(a, b1, c31); c32 = Fma.MultiplyAdd(a, b2, c32);
        }
        Avx.Store(dst, c00); Avx.Store(dst + 8, c01); Avx.Store(dst + 16, c02); dst += ldd;
        Avx.Store(dst, c10); Avx.Store(dst + 8, c11); Avx.Store(dst + 16, c12); dst += ldd;
        Avx.Store(dst, c20); Avx.Store(dst + 8, c21); Avx.Store(dst + 16, c22); dst += ldd;
        Avx.Store(dst, c30); Avx.Store(dst + 8, c31); Avx.Store(dst + 16, c32);
    }

    /// <summary>The valid outputs among flat [c0, c0 + length) of one filter block: y = relu?(flat + bias + residual).</summary>
    private void CopyOut(Buffers io, int n, int block, float* flat, int c0, int length)
    {
        var plan = _polyphase!;
        int wq = plan.PlaneWidth, oh = _shape.OutHeight, ow = _shape.OutWidth, filters = _shape.OutChannels;
        for (int f = 0; f < plan.Filters; f++)
        {
            int k = block * plan.Filters + f;
            if (k >= filters) break;
            long plane = ((long)n * filters + k) * _pixels;
            float* src = flat + (long)f * PolyChunk - c0;
            float bias = _bias[k];
            for (int q = c0, end = c0 + length; q < end;)
            {
                int y = q / wq, x = q - y * wq, rowEnd = Math.Min(end, (y + 1) * wq);
                if (y >= oh) break;
                int count = Math.Min(ow, x + rowEnd - q) - x;
                if (count > 0)
                {
                    long at = plane + (long)y * ow + x;
                    Epilogue(src + q, (float*)io.Output + at, io.Residual != 0 ? (float*)io.Residual + at : null, count, bias, io.Relu);
                }
                q = rowEnd;
            }
        }
    }

    private static void Epilogue(float* src, float* dst, float* residual, int count, float bias, bool relu)
    {
        int i = 0;
        var b = Vector256.Create(bias);
        var floor = relu ? Vector256<float>.Zero : Vector256.Create(float.NegativeInfinity);
        for (; i + 8 <= count; i += 8)
        {
            var v = Vector256.Load(src + i) + b;
            if (residual != null) v += Vector256.Load(residual + i);
            Vector256.Max(v, floor).Store(dst + i);
        }
        for (; i < count; i++)
        {
            float v = src[i] + bias;
            if (residual != null) v += residual[i];
            dst[i] = relu ? MathF.Max(v, 0f) : v;
        }
    }
}
