using Fovea.Kernels;
using static Fovea.Tests.Kernels.NumericKernelTestKit;

namespace Fovea.Tests.Kernels;

[Collection(DegreeCollection.Name)]
public class ActivationsTests : TwoThreadKernelTests
{
    private delegate void Fwd(ReadOnlySpan<float> x, Span<float> y);
    private delegate void Bwd(ReadOnlySpan<float> saved, ReadOnlySpan<float> gy, Span<float> gx, bool accumulate);
    private delegate void BwdRef(ReadOnlySpan<float> saved, ReadOnlySpan<float> gy, Span<float> gx);

    /// <summary>name, fast forward, reference forward, fast backward, reference backward, backward takes output y (else input x).</summary>
    private static readonly (string Name, Fwd F, Fwd FRef, Bwd B, BwdRef BRef, bool TakesOutput)[] All =
    [
        ("relu", Activations.ReluForward, Activations.ReluForwardReference, Activations.ReluBackward, Activations.ReluBackwardReference, false),
        ("leaky", (x, y) => Activations.LeakyReluForward(x, y, 0.1f), (x, y) => Activations.LeakyReluForwardReference(x, y, 0.1f),
            (s, g, d, acc) => Activations.LeakyReluBackward(s, g, d, 0.1f, acc), (s, g, d) => Activations.LeakyReluBackwardReference(s, g, d, 0.1f), false),
        ("sigmoid", Activations.SigmoidForward, Activations.SigmoidForwardReference, Activations.SigmoidBackward, Activations.SigmoidBackwardReference, true),
        ("tanh", Activations.TanhForward, Activations.TanhForwardReference, Activations.TanhBackward, Activations.TanhBackwardReference, true),
        ("elu", (x, y) => Activations.EluForward(x, y, 0.7f), (x, y) => Activations.EluForwardReference(x, y, 0.7f),
            (s, g, d, acc) => Activations.EluBackward(s, g, d, 0.7f, acc), (s, g, d) => Activations.EluBackwardReference(s, g, d, 0.7f), true),
        ("clip", (x, y) => Activations.ClipForward(x, y, -0.5f, 1.5f), (x, y) => Activations.ClipForwardReference(x, y, -0.5f, 1.5f),
            (s, g, d, acc) => Activations.ClipBackward(s, g, d, -0.5f, 1.5f, acc), (s, g, d) => Activations.ClipBackwardReference(s, g, d, -0.5f, 1.5f), false),
    ];

    [Fact]
    public void FastMatchesReferenceForEveryLengthAndTail()
    {
        foreach (var a in All)
            for (int len = 0; len <= 67; len++)
            {
                var x = Uniform(len, len, -6f, 6f);
                if (len > 3) { x[1] = 0f; x[2] = -0f; x[3] = 40f; }
                if (len > 5) x[5] = -40f;
                var y1 = new float[len]; var y2 = new float[len];
                a.F(x, y1); a.FRef(x, y2);
                Close(y2, y1, 2e-6, 2e-6, $"{a.Name} forward len={len}");
                var saved = a.TakesOutput ? y2 : x;
                var gy = Uniform(len, 1000 + len);
                var g1 = Uniform(len, 2000 + len); var g2 = (float[])g1.Clone();
                a.B(saved, gy, g1, true); a.BRef(saved, gy, g2);
                Close(g2, g1, 1e-6, 1e-6, $"{a.Name} backward len={len}");
                // Overwrite mode ignores what the gradient held (NaN here) and equals the reference on zeros.
                var g3 = new float[len]; Array.Fill(g3, float.NaN);
                var g4 = new float[len];
                a.B(saved, gy, g3, false); a.BRef(saved, gy, g4);
                Close(g4, g3, 1e-6, 1e-6, $"{a.Name} overwriting backward len={len}");
            }
    }

    [Fact]
    public void SpansLongEnoughToSplitOverThreadsMatchTheReference()
    {
        // Split into Parallelism.Degree parts (two on the CI machine); the length is no multiple of the vector width.
        int len = 2 * (1 << 17) + 5;
        var x = Uniform(len, 5, -4f, 4f);
        var gy = Uniform(len, 6);
        foreach (var a in All)
        {
            var y1 = new float[len]; var y2 = new float[len];
            a.F(x, y1); a.FRef(x, y2);
            Close(y2, y1, 2e-6, 2e-6, $"{a.Name} forward, split");
            var saved = a.TakesOutput ? y2 : x;
            var g1 = new float[len]; Array.Fill(g1, float.NaN);
            var g2 = new float[len];
            a.B(saved, gy, g1, false); a.BRef(saved, gy, g2);
            Close(g2, g1, 1e-6, 1e-6, $"{a.Name} backward, split");
        }
    }

    [Fact]
    public void NaNPropagatesThroughEveryForward()
    {
        foreach (var a in All)
        {
            var x = Uniform(19, 7, -3, 3);
            x[2] = float.NaN; x[17] = float.NaN;
            var y = new float[19];
            a.F(x, y);
            Assert.True(float.IsNaN(y[2]) && float.IsNaN(y[17]), a.Name);
            var yr = new float[19];
            a.FRef(x, yr);
            Assert.True(float.IsNaN(yr[2]) && float.IsNaN(yr[17]), a.Name + " reference");
        }
    }

    [Fact]
    public void ForwardMayRunInPlace()
    {
        foreach (var a in All)
        {
            var x = Uniform(37, 3, -3, 3);
            var y = new float[37];
            a.F(x, y);
            a.F(x, x);
            Assert.Equal(y, x);
        }
    }

    [Fact]
    public void BackwardsMatchFiniteDifferences()
    {
        foreach (var a in All)
        {
            int len = 41;
            var x = AwayFromZero(len, 11, 0.05f, 3f);
            if (a.Name == "clip") for (int i = 0; i < len; i++) if (MathF.Abs(x[i] - 1.5f) < 0.05f || MathF.Abs(x[i] + 0.5f) < 0.05f) x[i] += 0.1f;
            var w = Uniform(len, 12);
            var y = new float[len];
            a.F(x, y);
            var g = new float[len];
            a.B(a.TakesOutput ? y : x, w, g, true);
            GradientCheck(x, () => { a.F(x, y); return Loss(y, w); }, g, 1e-2f, 1e-3, 2e-3, a.Name);
        }
    }

    [Fact]
    public void EluBackwardFromInputMatchesTheOutputBasedReferenceAndTheDefinition()
    {
        // The input-based backward (taken for a negative alpha) has no twin of its own: against the output-based reference
        // where both apply (alpha ≥ 0: alpha·e^x = y + alpha), and against alpha·e^x in double for negative alphas.
        foreach (float alpha in new[] { 0.7f, 0f, -0.6f, -1.5f })
            foreach (int len in new[] { 0, 1, 7, 8, 9, 33, 67 })
            {
                var x = Uniform(len, 300 + len, -4f, 4f);
                if (len > 3) { x[1] = 0f; x[2] = -0f; }
                var gy = Uniform(len, 400 + len);
                var start = Uniform(len, 500 + len);
                var expected = (float[])start.Clone();
                if (alpha >= 0)
                {
                    var y = new float[len];
                    Activations.EluForwardReference(x, y, alpha);
                    Activations.EluBackwardReference(y, gy, expected, alpha);
                }
                else
                    for (int i = 0; i < len; i++) expected[i] += (float)((x[i] > 0 ? 1.0 : alpha * Math.Exp(x[i])) * gy[i]);
                var accumulated = (float[])start.Clone();
                Activations.EluBackwardFromInput(x, gy, accumulated, alpha);
                Close(expected, accumulated, 1e-6, 1e-5, $"elu from input alpha={alpha} len={len}");
                // Overwriting: what the gradient held (NaN) is ignored.
                var overwritten = new float[len]; Array.Fill(overwritten, float.NaN);
                Activations.EluBackwardFromInput(x, gy, overwritten, alpha, accumulate: false);
                for (int i = 0; i < len; i++) accumulated[i] -= start[i];
                Close(accumulated, overwritten, 1e-6, 1e-5, $"elu from input, overwriting, alpha={alpha} len={len}");
            }
    }

    [Fact]
    public void BadArgumentsNameTheReceivedValues()
    {
        var ex = Assert.Throws<ArgumentException>(() => Activations.ReluForward(new float[5], new float[4]));
        Assert.Contains("4", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Activations.SigmoidBackward(new float[5], new float[6], new float[5]));
        Assert.Contains("6", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Activations.TanhBackward(new float[5], new float[5], new float[3]));
        Assert.Contains("3", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Activations.ClipForward(new float[5], new float[5], 2f, 1f));
        Assert.Contains("min=2", ex.Message);
        var ar = Assert.Throws<ArgumentOutOfRangeException>(() => Activations.EluForward(new float[5], new float[5], float.NaN));
        Assert.Contains("NaN", ar.Message);
        // The output-based backward cannot tell the sides of 0 apart with a negative alpha.
        ar = Assert.Throws<ArgumentOutOfRangeException>(() => Activations.EluBackward(new float[5], new float[5], new float[5], -0.25f));
        Assert.Contains("-0.25", ar.Message);
        ar = Assert.Throws<ArgumentOutOfRangeException>(() => Activations.EluBackwardFromInput(new float[5], new float[5], new float[5], float.PositiveInfinity));
        Assert.Contains("∞", ar.Message.Replace("Infinity", "∞"));
    }
}
