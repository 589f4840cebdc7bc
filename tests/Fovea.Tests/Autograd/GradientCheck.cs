using Fovea.Autograd;
using Fovea.Tensors;

namespace Fovea.Tests.Autograd;

/// <summary>
/// Central-difference gradient check: L = Σ f(x)·R for fixed random R, evaluated in double; the analytic
/// gradient comes from the tape seeded with R. Inputs are float32 (the kernels' type), so the step is
/// moderate (1e-2) and the comparison allows for float rounding.
/// </summary>
internal static class GradientCheck
{
    public static Tensor Random(Random rng, params int[] shape) => Random(rng, -1f, 1f, shape);

    public static Tensor Random(Random rng, float low, float high, params int[] shape)
    {
        var t = new Tensor(shape);
        for (int i = 0; i < t.Length; i++) t.Span[i] = low + (high - low) * rng.NextSingle();
        return t;
    }

    /// <summary>Values spread apart by at least <paramref name="gap"/> in random order, so max/ReLU kinks are never within the step.</summary>
    public static Tensor Distinct(Random rng, float gap, params int[] shape)
    {
        var t = new Tensor(shape);
        var order = Enumerable.Range(0, t.Length).OrderBy(_ => rng.Next()).ToArray();
        for (int i = 0; i < t.Length; i++) t.Span[order[i]] = (i - t.Length / 2 + 0.5f) * gap; // never 0
        return t;
    }

    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, int seed = 1, float step = 1e-2f,
        double absoluteTolerance = 2e-3, double relativeTolerance = 2e-2, int maxChecksPerInput = 60)
    {
        var rng = new Random(seed);
        foreach (var x in inputs) { x.RequiresGrad = true; x.Grad = null; }

        var tape = new Tape();
        Tensor y;
        using (tape.Record()) y = f(inputs);
        var r = new float[y.Length];
        for (int i = 0; i < r.Length; i++) r[i] = rng.NextSingle() * 2 - 1;
        tape.Backward(y, r);

        for (int k = 0; k < inputs.Length; k++)
        {
            var x = inputs[k];
            var analytic = x.Grad?.ToArray() ?? new float[x.Length];
            var positions = x.Length <= maxChecksPerInput ? Enumerable.Range(0, x.Length) : Enumerable.Range(0, maxChecksPerInput).Select(_ => rng.Next(x.Length));
            foreach (int i in positions)
            {
                float original = x.Span[i];
                x.Span[i] = original + step;
                double plus = Objective(f, inputs, r);
                x.Span[i] = original - step;
                double minus = Objective(f, inputs, r);
                x.Span[i] = original;
                double numeric = (plus - minus) / (2.0 * step);
                double a = analytic[i];
                double tolerance = absoluteTolerance + relativeTolerance * Math.Max(Math.Abs(a), Math.Abs(numeric));
                Assert.True(Math.Abs(a - numeric) <= tolerance,
                    $"Input {k} {Tensor.ShapeToString(x.Shape)}, element {i}: analytic {a:G6} vs numeric {numeric:G6} (tolerance {tolerance:G3}).");
            }
        }
    }

    private static double Objective(Func<Tensor[], Tensor> f, Tensor[] inputs, float[] r)
    {
        // Same code path as the analytic pass (a recording tape), then the steps are dropped.
        var tape = new Tape();
        Tensor y;
        using (tape.Record()) y = f(inputs);
        tape.Clear();
        double sum = 0;
        for (int i = 0; i < r.Length; i++) sum += (double)y.Span[i] * r[i];
        return sum;
    }
}
