namespace Fovea.Kernels;

// Legend: C (M x N) = op(A) (M x K) * op(B) (K x N), all row-major.
// op(X) is X or its transpose; lda/ldb/ldc are the row strides of the matrices as stored.
// The fast path is split over partial files: Gemm.Driver.cs (blocking, threads, buffers),
// Gemm.Packing.cs (panel packing, transposes), Gemm.Avx2.cs / Gemm.Avx512.cs / Gemm.Portable.cs (micro-kernels);
// special shapes: Gemm.DotProduct.cs (few columns of a transposed B), Gemm.Shallow.cs (K <= 16), Gemm.Pipeline.cs
// (few rows, B packed under the multiply-adds), Gemm.Lookahead.cs (prefetching what comes next).

/// <summary>Single-precision matrix product on spans (row-major). The fast path and its naive twin live side by side.</summary>
public static partial class Gemm
{
    /// <summary>
    /// C = op(A)·op(B) (or C += op(A)·op(B) when <paramref name="accumulate"/>), then optional bias per row / per column and ReLU.
    /// A is stored M×K (K×M when <paramref name="transposeA"/>), B is stored K×N (N×K when <paramref name="transposeB"/>).
    /// </summary>
    public static unsafe void Multiply(bool transposeA, bool transposeB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc,
        bool accumulate = false, ReadOnlySpan<float> rowBias = default, ReadOnlySpan<float> columnBias = default, bool relu = false)
    {
        Validate(transposeA, transposeB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc, rowBias.Length, columnBias.Length);
        if (m == 0 || n == 0) return;

        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        fixed (float* prb = rowBias)
        fixed (float* pcb = columnBias)
        {
            // fixed on an empty span yields null, which is exactly "no bias" below.
            var job = new Job
            {
                TransposeA = transposeA, TransposeB = transposeB, M = m, N = n, K = k,
                A = pa, Lda = lda, B = pb, Ldb = ldb, C = pc, Ldc = ldc,
                Accumulate = accumulate, RowBias = rowBias.IsEmpty ? null : prb,
                ColumnBias = columnBias.IsEmpty ? null : pcb, Relu = relu,
            };
            if (UseDotProduct(in job)) DotProductNT(in job);
            else if (UseShallow(in job)) Shallow(in job);
            else Execute(in job, SelectKernel());
        }
    }

    /// <summary>Multiply with dense strides (lda = K or M, ldb = N or K, ldc = N).</summary>
    public static void Multiply(bool transposeA, bool transposeB, int m, int n, int k,
        ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, bool accumulate = false)
        => Multiply(transposeA, transposeB, m, n, k, a, transposeA ? m : k, b, transposeB ? k : n, c, n, accumulate);

    /// <summary>Naive triple loop in double precision accumulation order; the exactness oracle for <see cref="Multiply(bool,bool,int,int,int,ReadOnlySpan{float},int,ReadOnlySpan{float},int,Span{float},int,bool,ReadOnlySpan{float},ReadOnlySpan{float},bool)"/>.</summary>
    public static void Reference(bool transposeA, bool transposeB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc,
        bool accumulate = false, ReadOnlySpan<float> rowBias = default, ReadOnlySpan<float> columnBias = default, bool relu = false)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transposeA ? a[p * lda + i] : a[i * lda + p];
                    float bv = transposeB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += (double)av * bv;
                }
                float v = (float)sum + (accumulate ? c[i * ldc + j] : 0f);
                if (!rowBias.IsEmpty) v += rowBias[i];
                if (!columnBias.IsEmpty) v += columnBias[j];
                if (relu && v < 0) v = 0;
                c[i * ldc + j] = v;
            }
        }
    }

    /// <summary>Throws with the received values when a dimension is negative, a stride too small or a span too short.</summary>
    private static void Validate(bool transposeA, bool transposeB, int m, int n, int k,
        int aLength, int lda, int bLength, int ldb, int cLength, int ldc, int rowBiasLength, int columnBiasLength)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentOutOfRangeException(m < 0 ? nameof(m) : n < 0 ? nameof(n) : nameof(k),
                $"GEMM dimensions must be non-negative. Received: m={m}, n={n}, k={k}.");
        // As stored: A is rows x cols with row stride lda (likewise B and C).
        if (transposeA) CheckMatrix("a", "lda", "k", k, "m", m, lda, aLength);
        else CheckMatrix("a", "lda", "m", m, "k", k, lda, aLength);
        if (transposeB) CheckMatrix("b", "ldb", "n", n, "k", k, ldb, bLength);
        else CheckMatrix("b", "ldb", "k", k, "n", n, ldb, bLength);
        CheckMatrix("c", "ldc", "m", m, "n", n, ldc, cLength);
        if (rowBiasLength != 0 && rowBiasLength < m)
            throw new ArgumentException($"Span rowBias has {rowBiasLength} elements but m={m} rows need {m} (pass an empty span for no bias).", "rowBias");
        if (columnBiasLength != 0 && columnBiasLength < n)
            throw new ArgumentException($"Span columnBias has {columnBiasLength} elements but n={n} columns need {n} (pass an empty span for no bias).", "columnBias");
    }

    // The matrix as stored is rows x cols (named rowName/colName); the message strings are only built on failure.
    private static void CheckMatrix(string name, string strideName, string rowName, int rows, string colName, int cols, int stride, int length)
    {
        if (stride < cols || stride < 0)
            throw new ArgumentOutOfRangeException(strideName,
                $"{strideName}={stride} is smaller than the {cols} columns of {name} as stored ({rowName}={rows}, {colName}={cols}).");
        long need = rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * stride + cols;
        if (length < need)
            throw new ArgumentException($"Span {name} has {length} elements but {rowName}={rows}, {colName}={cols}, {strideName}={stride} need {need}.", name);
    }
}
