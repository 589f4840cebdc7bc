using Fovea.Autograd;
using Fovea.Tensors;

namespace Fovea.Tests.Autograd.Double;

/// <summary>
/// Checks Fovea's float32 forward and its tape backward against a double-precision twin of the same function.
/// <para>
/// Loss: L = Σ r_j·y_j with fixed random weights r in [-1, 1] (float values, so the tape seed and the double loss use the
/// very same numbers). The numerical gradient of every input element comes from the DOUBLE twin by central differences
/// with h = 1e-6: truncation error ~h²·|y'''| ≈ 1e-12 and rounding error ~1e-16·|y|/h ≈ 1e-10, both far below the
/// tolerance, so the numerical value is the exact derivative for our purposes.
/// </para>
/// <para>
/// Tolerance |analytic − numeric| ≤ 1e-5·sqrt(m)·max(1, |numeric|), where m (the fan-in) is the number of outputs that
/// depend on the element (found from the twin: the outputs that moved when it was perturbed), i.e. the number of terms the
/// backward pass accumulates for it. Why: Fovea computes in float32 (unit roundoff u = 6e-8) on data and weights of
/// magnitude ≤ 1; a sum of m such terms carries a rounding error that grows like sqrt(m)·u for random signs (m·u worst
/// case), and a few ops in a chain multiply it by a small factor. 1e-5 ≈ 170·u leaves that room (measured: every case here
/// still passes with 2e-7, so the margin is ~50x for other SIMD paths and summation orders). The sqrt(m) factor stays ≤ ~15
/// for the shapes used (m ≤ ~200), so the bound is at most ~1.5e-4·max(1, |g|): a gradient 0.1% off (error 1e-3·|g|)
/// fails on any element with |g| ≳ 0.15, which every table here has — <see cref="DoubleCheckerSelfTests"/> proves it on
/// deliberately wrong backwards. (The float check this replaces, step 1e-2 and 2e-3 + 2%, let a gradient 1.5% off pass.)
/// </para>
/// </summary>
internal static class DoubleGradientCheck
{
    public const double Step = 1e-6;
    public const double GradientUnit = 1e-5;
    /// <summary>Float forward vs double twin: 1e-5·sqrt(m)·max(1, |y|) with m the number of inputs feeding the output (a dot product of m terms).</summary>
    public const double ForwardUnit = 1e-5;

    /// <summary>Asserts that forward and every input gradient agree with the twin.</summary>
    public static void Check(Func<Tensor[], Tensor> fovea, Func<double[][], double[]> twin, Tensor[] inputs, int seed = 1)
    {
        var failures = Mismatches(fovea, twin, inputs, seed);
        Assert.True(failures.Count == 0, $"{failures.Count} mismatch(es); first ones:\n" + string.Join("\n", failures.Take(8)));
    }

    /// <summary>Every disagreement between Fovea and the twin, forward and backward (empty when they agree).</summary>
    public static List<string> Mismatches(Func<Tensor[], Tensor> fovea, Func<double[][], double[]> twin, Tensor[] inputs, int seed = 1)
    {
        var failures = new List<string>();
        foreach (var x in inputs) { x.RequiresGrad = true; x.Grad = null; }
        var tape = new Tape();
        Tensor y;
        using (tape.Record()) y = fovea(inputs);

        var d = inputs.Select(x => Array.ConvertAll(x.ToArray(), v => (double)v)).ToArray();
        var yd = (double[])twin(d).Clone();
        Assert.True(yd.Length == y.Length, $"The twin gives {yd.Length} outputs, Fovea {y.Length} {Tensor.ShapeToString(y.Shape)}.");

        var rng = new Random(seed);
        var r = new float[y.Length];
        for (int i = 0; i < r.Length; i++) r[i] = rng.NextSingle() * 2 - 1;
        if (y.RequiresGrad) tape.Backward(y, r); else tape.Clear();

        // Forward fan-in per output: how many input elements move it (collected during the perturbations below).
        var forwardFanIn = new int[y.Length];
        var analytic = inputs.Select(x => x.Grad?.ToArray() ?? new float[x.Length]).ToArray();
        for (int k = 0; k < inputs.Length; k++)
        {
            var v = d[k];
            for (int i = 0; i < v.Length; i++)
            {
                double saved = v[i];
                v[i] = saved + Step;
                // Copies: a twin may hand back its input (reshape) or a buffer it reuses.
                var plus = (double[])twin(d).Clone();
                v[i] = saved - Step;
                var minus = (double[])twin(d).Clone();
                v[i] = saved;
                // Σ r·(y+ − y−) term by term: no cancellation between two large loss values.
                double numeric = 0;
                int fanIn = 0;
                for (int j = 0; j < plus.Length; j++)
                {
                    double dy = plus[j] - minus[j];
                    if (dy == 0) continue;
                    numeric += r[j] * dy;
                    fanIn++;
                    forwardFanIn[j]++;
                }
                numeric /= 2 * Step;
                double a = analytic[k][i];
                double tolerance = GradientUnit * Math.Sqrt(Math.Max(1, fanIn)) * Math.Max(1, Math.Abs(numeric));
                if (!(Math.Abs(a - numeric) <= tolerance))
                    failures.Add($"d/d input {k} {Tensor.ShapeToString(inputs[k].Shape)} [{i}]: Fovea {a:G9}, double twin {numeric:G9} (tolerance {tolerance:G3}, fan-in {fanIn}).");
            }
        }

        var ys = y.Span;
        for (int j = 0; j < yd.Length; j++)
        {
            double tolerance = ForwardUnit * Math.Sqrt(Math.Max(1, forwardFanIn[j])) * Math.Max(1, Math.Abs(yd[j]));
            if (!(Math.Abs(ys[j] - yd[j]) <= tolerance))
                failures.Add($"forward output [{j}]: Fovea {ys[j]:G9}, double twin {yd[j]:G9} (tolerance {tolerance:G3}).");
        }
        return failures;
    }

    // ---------- inputs ----------

    public static Tensor Random(int seed, params int[] shape) => Uniform(new Random(seed), -1f, 1f, shape);

    public static Tensor Uniform(Random rng, float low, float high, params int[] shape)
    {
        var t = new Tensor(shape);
        for (int i = 0; i < t.Length; i++) t.Span[i] = low + (high - low) * rng.NextSingle();
        return t;
    }

    /// <summary>
    /// Distinct values in (-1, 1), at least 1e-3 apart and never 0, in random order: no ties for a max, no kink of
    /// ReLU/clip within the step h = 1e-6, and float32 makes the same max/sign decisions as double.
    /// </summary>
    public static Tensor Distinct(int seed, params int[] shape)
    {
        var rng = new Random(seed);
        var t = new Tensor(shape);
        int n = t.Length;
        var order = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).ToArray();
        for (int i = 0; i < n; i++) t.Span[order[i]] = (float)((i - (n - 1) / 2.0) / (n / 2.0 + 1) * 0.98 + (i % 2 == 0 ? 1e-4 : -1e-4));
        return t;
    }

    public static double[] ToDouble(Tensor t) => Array.ConvertAll(t.ToArray(), v => (double)v);
}

/// <summary>Row-major index helpers for the twins.</summary>
internal static class Nd
{
    public static int Size(int[] shape) => shape.Aggregate(1, (a, b) => a * b);

    public static int[] Unravel(int flat, int[] shape)
    {
        var idx = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--) { idx[d] = flat % shape[d]; flat /= shape[d]; }
        return idx;
    }

    public static int Ravel(int[] idx, int[] shape)
    {
        int off = 0;
        for (int d = 0; d < shape.Length; d++) off = off * shape[d] + idx[d];
        return off;
    }

    /// <summary>Offset in a tensor of shape <paramref name="small"/> of the element that NumPy broadcasting reads for output index <paramref name="idx"/>.</summary>
    public static int BroadcastOffset(int[] idx, int[] small)
    {
        int off = 0, lead = idx.Length - small.Length;
        for (int d = 0; d < small.Length; d++) off = off * small[d] + (small[d] == 1 ? 0 : idx[lead + d]);
        return off;
    }

    public static int[] BroadcastShape(int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var s = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            s[i] = Math.Max(da, db);
        }
        return s;
    }
}
