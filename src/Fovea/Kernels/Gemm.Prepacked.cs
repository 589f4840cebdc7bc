using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fovea.Kernels;

// Legend: C (M x N) = op(A) (M x K) * op(B) (K x N), row-major.
// Inference multiplies the same weights by new activations on every call; packing the weights into the
// micro-kernel's panel layout once saves re-reading and re-writing them each time (for ResNet's 512-filter layers
// the packing alone moves ~19 MB per call). A packed operand holds, for each depth block of BalancedBlock(K, KC)
// rows, the panels exactly as the driver's PackA/PackB would have written them, so the block at depth offset pc
// starts at pc * Padded floats.

/// <summary>One GEMM operand packed once into the micro-kernel layout of the machine's fastest kernel path.</summary>
internal sealed unsafe class PackedMatrix
{
    private readonly float[] _storage;
    private readonly int _offset;

    internal PackedMatrix(GemmKernelPath path, bool isLeft, int extent, int depth, int padded)
    {
        Path = path; IsLeft = isLeft; Extent = extent; Depth = depth; Padded = padded;
        const int AlignFloats = 16;
        _storage = GC.AllocateUninitializedArray<float>(Math.Max(1, padded * depth) + AlignFloats, pinned: true);
        float* p = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_storage));
        _offset = (int)(((((nuint)p + 63) & ~(nuint)63) - (nuint)p) / sizeof(float));
    }

    /// <summary>Kernel path whose panel layout this is.</summary>
    internal GemmKernelPath Path { get; }
    /// <summary>True for a left operand (op(A), M x K), false for a right operand (op(B), K x N).</summary>
    internal bool IsLeft { get; }
    /// <summary>M for a left operand, N for a right one.</summary>
    internal int Extent { get; }
    /// <summary>K.</summary>
    internal int Depth { get; }
    /// <summary>Extent rounded up to the panel size (MR or NR).</summary>
    internal int Padded { get; }
    /// <summary>Panel granularity along the extent: a sub-range of a right operand must start at a multiple of it.</summary>
    internal int PanelSize { get; init; }

    internal float* Pointer => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_storage)) + _offset;
}

public static partial class Gemm
{
    /// <summary>Packs op(A) [m x k] (A stored m x k, or k x m when <paramref name="transposeA"/>) for <see cref="MultiplySerial(PackedMatrix, int, int, int, ReadOnlySpan{float}, int, Span{float}, int, bool, ReadOnlySpan{float}, bool)"/>.</summary>
    internal static PackedMatrix PackLeft(bool transposeA, int m, int k, ReadOnlySpan<float> a, int lda) => SelectKernel() switch
    {
        GemmKernelPath.Avx512 => PackLeft<Avx512Kernel>(GemmKernelPath.Avx512, transposeA, m, k, a, lda),
        GemmKernelPath.Avx2 => PackLeft<Avx2Kernel>(GemmKernelPath.Avx2, transposeA, m, k, a, lda),
        GemmKernelPath.Vector128 => PackLeft<Vector128Kernel>(GemmKernelPath.Vector128, transposeA, m, k, a, lda),
        _ => PackLeft<ScalarKernel>(GemmKernelPath.Scalar, transposeA, m, k, a, lda),
    };

    /// <summary>Packs op(B) [k x n] (B stored k x n, or n x k when <paramref name="transposeB"/>) for <see cref="MultiplySerial(bool, int, ReadOnlySpan{float}, int, PackedMatrix, int, int, Span{float}, int, bool, ReadOnlySpan{float}, bool, PackedMatrix?)"/>.</summary>
    internal static PackedMatrix PackRight(bool transposeB, int k, int n, ReadOnlySpan<float> b, int ldb) => SelectKernel() switch
    {
        GemmKernelPath.Avx512 => PackRight<Avx512Kernel>(GemmKernelPath.Avx512, transposeB, k, n, b, ldb),
        GemmKernelPath.Avx2 => PackRight<Avx2Kernel>(GemmKernelPath.Avx2, transposeB, k, n, b, ldb),
        GemmKernelPath.Vector128 => PackRight<Vector128Kernel>(GemmKernelPath.Vector128, transposeB, k, n, b, ldb),
        _ => PackRight<ScalarKernel>(GemmKernelPath.Scalar, transposeB, k, n, b, ldb),
    };

    private static unsafe PackedMatrix PackLeft<TK>(GemmKernelPath path, bool transposeA, int m, int k, ReadOnlySpan<float> a, int lda)
        where TK : IMicroKernel
    {
        if (transposeA) CheckMatrix("a", "lda", "k", k, "m", m, lda, a.Length);
        else CheckMatrix("a", "lda", "m", m, "k", k, lda, a.Length);
        int padded = (m + TK.MR - 1) / TK.MR * TK.MR, kcMax = BalancedBlock(k, TK.KC, 1);
        var packed = new PackedMatrix(path, isLeft: true, m, k, padded) { PanelSize = TK.MR };
        fixed (float* pa = a)
        {
            for (int pc = 0; pc < k; pc += kcMax)
                PackA<TK>(transposeA, pa, lda, 0, pc, m, Math.Min(kcMax, k - pc), packed.Pointer + (long)pc * padded);
        }
        return packed;
    }

    private static unsafe PackedMatrix PackRight<TK>(GemmKernelPath path, bool transposeB, int k, int n, ReadOnlySpan<float> b, int ldb)
        where TK : IMicroKernel
    {
        if (transposeB) CheckMatrix("b", "ldb", "n", n, "k", k, ldb, b.Length);
        else CheckMatrix("b", "ldb", "k", k, "n", n, ldb, b.Length);
        int padded = (n + TK.NR - 1) / TK.NR * TK.NR, kcMax = BalancedBlock(k, TK.KC, 1);
        var packed = new PackedMatrix(path, isLeft: false, n, k, padded) { PanelSize = TK.NR };
        fixed (float* pb = b)
        {
            for (int pc = 0; pc < k; pc += kcMax)
                PackB<TK>(transposeB, pb, ldb, pc, 0, Math.Min(kcMax, k - pc), n, packed.Pointer + (long)pc * padded);
        }
        return packed;
    }

    /// <summary>
    /// C [rows x n] = (C when <paramref name="accumulate"/>) + A[firstRow .. firstRow + rows, :]·B + rowBias, then ReLU, with A
    /// packed ahead (<see cref="PackLeft"/>); firstRow must be a multiple of the packed panel size, B is stored K x n.
    /// Runs on the calling thread: callers split the work between threads themselves.
    /// </summary>
    internal static unsafe void MultiplySerial(PackedMatrix a, int firstRow, int rows, int n, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate = false, ReadOnlySpan<float> rowBias = default, bool relu = false)
    {
        if (!a.IsLeft) throw new ArgumentException("The packed operand was packed as a right operand (B); expected a left one (A).", nameof(a));
        CheckRange(firstRow, rows, a, "firstRow", "Rows");
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), $"GEMM dimensions must be non-negative. Received: n={n}.");
        CheckMatrix("b", "ldb", "k", a.Depth, "n", n, ldb, b.Length);
        CheckMatrix("c", "ldc", "m", rows, "n", n, ldc, c.Length);
        if (!rowBias.IsEmpty && rowBias.Length < rows)
            throw new ArgumentException($"Span rowBias has {rowBias.Length} elements but {rows} rows need {rows}.", nameof(rowBias));
        if (rows == 0 || n == 0) return;
        fixed (float* pb = b, pc = c, prb = rowBias)
        {
            var job = new Job
            {
                M = rows, N = n, K = a.Depth, B = pb, Ldb = ldb, C = pc, Ldc = ldc, Accumulate = accumulate,
                RowBias = rowBias.IsEmpty ? null : prb, Relu = relu,
                PackedA = a.Pointer, PackedAStride = a.Padded, PackedARow = firstRow,
            };
            RunSerial(in job, a.Path);
        }
    }

    private static void CheckRange(int first, int count, PackedMatrix packed, string name, string what)
    {
        if (first < 0 || count < 0 || first + count > packed.Extent || first % packed.PanelSize != 0)
            throw new ArgumentOutOfRangeException(name, $"{what} [{first}, {first + count}) must lie in [0, {packed.Extent}) and start at a multiple of {packed.PanelSize}.");
    }

    /// <summary>
    /// C [m x columns] = (C when <paramref name="accumulate"/>) + op(A)·B[:, firstColumn .. firstColumn + columns) + columnBias,
    /// then ReLU, with B packed ahead (<see cref="PackRight"/>); firstColumn must be a multiple of the packed panel size.
    /// Runs on the calling thread. <paramref name="next"/>: the packed B of the product this thread runs next (same
    /// kernel path), whose first chunk is prefetched while this product ends; null for none.
    /// </summary>
    internal static unsafe void MultiplySerial(bool transposeA, int m, ReadOnlySpan<float> a, int lda, PackedMatrix b,
        int firstColumn, int columns, Span<float> c, int ldc, bool accumulate = false, ReadOnlySpan<float> columnBias = default, bool relu = false,
        PackedMatrix? next = null)
    {
        if (b.IsLeft) throw new ArgumentException("The packed operand was packed as a left operand (A); expected a right one (B).", nameof(b));
        CheckRange(firstColumn, columns, b, "firstColumn", "Columns");
        if (m < 0) throw new ArgumentOutOfRangeException(nameof(m), $"GEMM dimensions must be non-negative. Received: m={m}.");
        if (transposeA) CheckMatrix("a", "lda", "k", b.Depth, "m", m, lda, a.Length);
        else CheckMatrix("a", "lda", "m", m, "k", b.Depth, lda, a.Length);
        CheckMatrix("c", "ldc", "m", m, "n", columns, ldc, c.Length);
        if (!columnBias.IsEmpty && columnBias.Length < columns)
            throw new ArgumentException($"Span columnBias has {columnBias.Length} elements but {columns} columns need {columns}.", nameof(columnBias));
        if (m == 0 || columns == 0) return;
        fixed (float* pa = a, pc = c, pcb = columnBias)
        {
            var job = new Job
            {
                TransposeA = transposeA, M = m, N = columns, K = b.Depth, A = pa, Lda = lda, C = pc, Ldc = ldc, Accumulate = accumulate,
                ColumnBias = columnBias.IsEmpty ? null : pcb, Relu = relu,
                PackedB = b.Pointer, PackedBStride = b.Padded, PackedBColumn = firstColumn,
            };
            if (next is { IsLeft: false } && next.Path == b.Path)
            {
                job.NextB = next.Pointer; job.NextBStride = next.Padded; job.NextBDepth = next.Depth;
            }
            RunSerial(in job, b.Path);
        }
    }

    private static unsafe void RunSerial(in Job job, GemmKernelPath path)
    {
        if (job.K == 0) { EpilogueOnly(in job); return; }
        switch (path)
        {
            case GemmKernelPath.Avx512: Serial<Avx512Kernel>(in job); break;
            case GemmKernelPath.Avx2: Serial<Avx2Kernel>(in job); break;
            case GemmKernelPath.Vector128: Serial<Vector128Kernel>(in job); break;
            default: Serial<ScalarKernel>(in job); break;
        }
    }
}
