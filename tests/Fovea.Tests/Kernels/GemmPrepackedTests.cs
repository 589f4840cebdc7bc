using Fovea.Kernels;

namespace Fovea.Tests.Kernels;

// Products with one operand packed ahead (inference weights) against the naive Gemm.Reference, on every kernel path,
// under the same rounding bound as GemmTests: |fast - ref| <= 1e-5 * (sum_p |a_ip||b_pj| + |c0| + |bias|) + 1e-6.
public class GemmPrepackedTests
{
    public static TheoryData<string> Paths() => GemmTests.Paths();

    private static float[] Random(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    private static void WithPath(string name, Action body)
    {
        var saved = Gemm.ForcedPath;
        Gemm.ForcedPath = Enum.Parse<GemmKernelPath>(name);
        try { body(); }
        finally { Gemm.ForcedPath = saved; }
    }

    private static void AssertClose(string what, float[] fast, float[] slow, Func<int, double> magnitude)
    {
        for (int i = 0; i < fast.Length; i++)
        {
            double bound = 1e-5 * magnitude(i) + 1e-6, err = Math.Abs(fast[i] - slow[i]);
            if (!(err <= bound)) Assert.Fail($"{what}: element {i} fast={fast[i]} ref={slow[i]} err={err} bound={bound}");
        }
    }

    // Depths cross the KC block (320 for AVX-512, other values for other paths) so multi-block packing is exercised.
    public static TheoryData<string, int, int, int> LeftCases()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (var path in Enum.GetValues<GemmKernelPath>().Where(Gemm.IsSupported).Select(p => p.ToString()))
            foreach (var (m, n, k) in new[] { (1, 1, 1), (8, 48, 9), (13, 50, 27), (64, 200, 576), (130, 97, 700), (512, 49, 1153) })
                data.Add(path, m, n, k);
        return data;
    }

    [Theory]
    [MemberData(nameof(LeftCases))]
    public void PackedLeftOperandMatchesReference(string path, int m, int n, int k) => WithPath(path, () =>
    {
        var rng = new Random(m * 1000 + n + k);
        foreach (bool transposeA in new[] { false, true })
        foreach (bool transposeB in new[] { false, true })
        foreach (bool accumulate in new[] { false, true })
        {
            int lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 1, ldc = n + 2;
            var a = Random(rng, (transposeA ? k : m) * lda);
            var b = Random(rng, (transposeB ? n : k) * ldb);
            var c0 = Random(rng, m * ldc);
            var bias = Random(rng, m);
            var fast = (float[])c0.Clone();
            var slow = (float[])c0.Clone();
            var packed = Gemm.PackLeft(transposeA, m, k, a, lda);
            // op(B) is passed as stored; the prepacked-A entry takes plain (K x N) B, so transpose B by hand when asked.
            var bPlain = transposeB ? Transpose(b, n, k, ldb) : b;
            int ldbPlain = transposeB ? n : ldb;
            // All rows, or two panel-aligned row ranges as threads use them.
            int split = Math.Min(m, packed.PanelSize * Math.Max(1, m / packed.PanelSize / 2));
            if (m > split && split > 0 && accumulate)
            {
                Gemm.MultiplySerial(packed, 0, split, n, bPlain, ldbPlain, fast, ldc, accumulate, bias.AsSpan(0, split), relu: true);
                Gemm.MultiplySerial(packed, split, m - split, n, bPlain, ldbPlain, fast.AsSpan(split * ldc), ldc, accumulate, bias.AsSpan(split), relu: true);
            }
            else Gemm.MultiplySerial(packed, 0, m, n, bPlain, ldbPlain, fast, ldc, accumulate, bias, relu: true);
            Gemm.Reference(transposeA, transposeB, m, n, k, a, lda, b, ldb, slow, ldc, accumulate, bias, default, relu: true);
            AssertClose($"{path} m={m} n={n} k={k} tA={transposeA} tB={transposeB} acc={accumulate}", fast, slow, at =>
            {
                int i = at / ldc, j = at % ldc;
                if (j >= n) return 0; // row padding of C must be untouched: bound 1e-6 against the unchanged reference
                double mag = (accumulate ? Math.Abs(c0[at]) : 0) + Math.Abs(bias[i]);
                for (int p = 0; p < k; p++)
                    mag += Math.Abs(transposeA ? a[p * lda + i] : a[i * lda + p]) * Math.Abs(transposeB ? b[j * ldb + p] : b[p * ldb + j]);
                return mag;
            });
        }
    });

    [Theory]
    [MemberData(nameof(LeftCases))]
    public void PackedRightOperandMatchesReferenceOnEveryPanelAlignedRange(string path, int m, int n, int k) => WithPath(path, () =>
    {
        var rng = new Random(m * 7 + n * 13 + k);
        foreach (bool transposeA in new[] { false, true })
        foreach (bool transposeB in new[] { false, true })
        {
            int lda = (transposeA ? m : k) + 1, ldb = (transposeB ? k : n) + 2;
            var a = Random(rng, (transposeA ? k : m) * lda);
            var b = Random(rng, (transposeB ? n : k) * ldb);
            var bias = Random(rng, n);
            var packed = Gemm.PackRight(transposeB, k, n, b, ldb);
            // Whole range, then a split at a panel boundary as threads use it.
            int split = Math.Min(n, packed.PanelSize * Math.Max(1, n / packed.PanelSize / 2));
            foreach (var (first, count) in new[] { (0, n), (0, split), (split, n - split) })
            {
                if (count == 0) continue;
                var fast = new float[m * count];
                var slow = new float[m * count];
                Gemm.MultiplySerial(transposeA, m, a, lda, packed, first, count, fast, count, false, bias.AsSpan(first, count), relu: false);
                var bSub = SliceColumns(b, transposeB, k, first, count, ldb);
                Gemm.Reference(transposeA, false, m, count, k, a, lda, bSub, count, slow, count, false, default, bias.AsSpan(first, count), false);
                AssertClose($"{path} m={m} n={n} k={k} tA={transposeA} tB={transposeB} cols=[{first},{first + count})", fast, slow, at =>
                {
                    int i = at / count, j = at % count;
                    double mag = Math.Abs(bias[first + j]);
                    for (int p = 0; p < k; p++) mag += Math.Abs(transposeA ? a[p * lda + i] : a[i * lda + p]) * Math.Abs(bSub[p * count + j]);
                    return mag;
                });
            }
        }
    });

    [Fact]
    public void MisusedPackedOperandsThrowNamingTheProblem()
    {
        var left = Gemm.PackLeft(false, 4, 3, new float[12], 3);
        var right = Gemm.PackRight(false, 3, 100, new float[300], 100);
        var e4 = Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.MultiplySerial(left, 1, 3, 5, new float[15], 5, new float[15], 5));
        Assert.Contains("Rows [1, 4)", e4.Message);
        var e1 = Assert.Throws<ArgumentException>(() => Gemm.MultiplySerial(false, 4, new float[12], 3, left, 0, 4, new float[16], 4));
        Assert.Contains("left operand", e1.Message);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.MultiplySerial(false, 4, new float[12], 3, right, 5, 10, new float[40], 10));
        Assert.Contains("multiple of", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => Gemm.MultiplySerial(left, 0, 4, 5, new float[14], 5, new float[20], 5));
        Assert.Contains("b has 14 elements", e3.Message);
    }

    private static float[] Transpose(float[] b, int rows, int cols, int ld)
    {
        var t = new float[cols * rows];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) t[c * rows + r] = b[r * ld + c];
        return t;
    }

    /// <summary>op(B)[:, first .. first+count) as a dense k x count matrix.</summary>
    private static float[] SliceColumns(float[] b, bool transposeB, int k, int first, int count, int ldb)
    {
        var s = new float[k * count];
        for (int p = 0; p < k; p++)
            for (int j = 0; j < count; j++) s[p * count + j] = transposeB ? b[(first + j) * ldb + p] : b[p * ldb + first + j];
        return s;
    }
}
