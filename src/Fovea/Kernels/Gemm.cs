namespace Fovea.Kernels;

// Legend: C (M x N) = op(A) (M x K) * op(B) (K x N), all row-major.
// op(X) is X or its transpose; lda/ldb/ldc are the row strides of the matrices as stored.

/// <summary>Single-precision matrix product on spans (row-major). The fast path and its naive twin live side by side.</summary>
public static partial class Gemm
{
    /// <summary>
    /// C = op(A)·op(B) (or C += op(A)·op(B) when <paramref name="accumulate"/>), then optional bias per row / per column and ReLU.
    /// A is stored M×K (K×M when <paramref name="transposeA"/>), B is stored K×N (N×K when <paramref name="transposeB"/>).
    /// </summary>
    public static void Multiply(bool transposeA, bool transposeB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc,
        bool accumulate = false, ReadOnlySpan<float> rowBias = default, ReadOnlySpan<float> columnBias = default, bool relu = false)
    {
        // Placeholder until the packed SIMD kernel lands: same contract as the reference.
        Reference(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, rowBias, columnBias, relu);
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
}
