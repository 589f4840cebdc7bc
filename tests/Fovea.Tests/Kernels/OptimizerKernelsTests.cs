using Fovea.Kernels;
using static Fovea.Tests.Kernels.NumericKernelTestKit;

namespace Fovea.Tests.Kernels;

[Collection(DegreeCollection.Name)]
public class OptimizerKernelsTests : TwoThreadKernelTests
{
    [Theory]
    [InlineData(0f, 0f, false)]
    [InlineData(0f, 0.01f, false)]
    [InlineData(0.9f, 0f, false)]
    [InlineData(0.9f, 0.05f, false)]
    [InlineData(0.9f, 0.05f, true)]
    public void SgdMatchesReferenceOverSeveralSteps(float momentum, float wd, bool nesterov)
    {
        // Every short length (vector body and tail), and one long enough to be split over the threads (odd length).
        foreach (int len in Enumerable.Range(0, 68).Append(2 * (1 << 16) + 13))
        {
            var p1 = Uniform(len, len); var p2 = (float[])p1.Clone();
            var v1 = momentum == 0f ? [] : new float[len]; var v2 = (float[])v1.Clone();
            for (int step = 0; step < 3; step++)
            {
                var g = Uniform(len, 100 * step + len);
                OptimizerKernels.SgdStep(p1, g, v1, 0.1f, momentum, wd, nesterov);
                OptimizerKernels.SgdStepReference(p2, g, v2, 0.1f, momentum, wd, nesterov);
            }
            Close(p2, p1, 1e-6, 1e-5, $"param len={len}");
            Close(v2, v1, 1e-6, 1e-5, $"velocity len={len}");
        }
    }

    [Fact]
    public void SgdHandComputedNesterov()
    {
        float[] p = [1f], v = [0.5f];
        OptimizerKernels.SgdStep(p, [2f], v, 0.1f, 0.9f, 0.1f, nesterov: true);
        // g' = 2 + 0.1·1 = 2.1; v = 0.9·0.5 + 2.1 = 2.55; update = 2.1 + 0.9·2.55 = 4.395; p = 1 − 0.4395
        Assert.Equal(2.55f, v[0], 5);
        Assert.Equal(0.5605f, p[0], 5);
    }

    [Fact]
    public void SgdHandComputedMomentumTwoSteps()
    {
        float[] p = [1f], v = [0f];
        // Step 1, g = 2: v = 0.9·0 + 2 = 2; p = 1 − 0.1·2 = 0.8
        OptimizerKernels.SgdStep(p, [2f], v, 0.1f, 0.9f, 0f, nesterov: false);
        Assert.Equal(2f, v[0], 6);
        Assert.Equal(0.8f, p[0], 6);
        // Step 2, g = −1: v = 0.9·2 − 1 = 0.8; p = 0.8 − 0.1·0.8 = 0.72
        OptimizerKernels.SgdStep(p, [-1f], v, 0.1f, 0.9f, 0f, nesterov: false);
        Assert.Equal(0.8f, v[0], 6);
        Assert.Equal(0.72f, p[0], 6);
    }

    [Fact]
    public void SgdHandComputedWeightDecayTwoSteps()
    {
        // Without momentum (the velocity is not used): coupled decay, g' = g + wd·p.
        float[] p = [1f];
        // Step 1, g = 2: g' = 2 + 0.5·1 = 2.5; p = 1 − 0.1·2.5 = 0.75
        OptimizerKernels.SgdStep(p, [2f], [], 0.1f, 0f, 0.5f, nesterov: false);
        Assert.Equal(0.75f, p[0], 6);
        // Step 2, g = 0: g' = 0.5·0.75 = 0.375; p = 0.75 − 0.1·0.375 = 0.7125
        OptimizerKernels.SgdStep(p, [0f], [], 0.1f, 0f, 0.5f, nesterov: false);
        Assert.Equal(0.7125f, p[0], 6);

        // With momentum 0.9 the decayed gradient enters the velocity.
        float[] q = [1f], v = [0f];
        // Step 1, g = 2: g' = 2.5; v = 2.5; q = 1 − 0.25 = 0.75
        OptimizerKernels.SgdStep(q, [2f], v, 0.1f, 0.9f, 0.5f, nesterov: false);
        Assert.Equal(2.5f, v[0], 6);
        Assert.Equal(0.75f, q[0], 6);
        // Step 2, g = 0: g' = 0.5·0.75 = 0.375; v = 0.9·2.5 + 0.375 = 2.625; q = 0.75 − 0.1·2.625 = 0.4875
        OptimizerKernels.SgdStep(q, [0f], v, 0.1f, 0.9f, 0.5f, nesterov: false);
        Assert.Equal(2.625f, v[0], 5);
        Assert.Equal(0.4875f, q[0], 5);
    }

    [Fact]
    public void AdamHandComputedBiasCorrectionAtStepTwo()
    {
        float[] p = [1f], m = [0f], v = [0f];
        // Step 1, g = 1: m = 0.1, v = 0.001; m̂ = 0.1/0.1 = 1, v̂ = 0.001/0.001 = 1; p = 1 − 0.01·1/1 = 0.99
        OptimizerKernels.AdamStep(p, [1f], m, v, 0.01f, 0.9f, 0.999f, 1e-8f, 0f, false, 1);
        Assert.Equal(0.99f, p[0], 6);
        // Step 2, g = 3: m = 0.9·0.1 + 0.1·3 = 0.39; v = 0.999·0.001 + 0.001·9 = 0.009999
        // 1 − 0.9² = 0.19, 1 − 0.999² = 0.001999; m̂ = 0.39/0.19 = 2.052632, v̂ = 0.009999/0.001999 = 5.002001, sqrt = 2.236515
        // p = 0.99 − 0.01·2.052632/2.236515 = 0.99 − 0.01·0.917781 = 0.980822
        // (no bias correction would give 0.951, step-1 correction reused 0.9777: both fail this assertion)
        OptimizerKernels.AdamStep(p, [3f], m, v, 0.01f, 0.9f, 0.999f, 1e-8f, 0f, false, 2);
        Assert.Equal(0.39f, m[0], 6);
        Assert.Equal(0.009999f, v[0], 6); // in float32 1 − 0.999f = 0.00099999, so v = 0.0099989: 6 places
        Assert.Equal(0.980822f, p[0], 5);
    }

    [Theory]
    [InlineData(0f, false)]
    [InlineData(0.01f, false)]
    [InlineData(0.01f, true)]
    public void AdamMatchesReferenceOverSeveralSteps(float wd, bool decoupled)
    {
        // Every short length (vector body and tail), and one long enough to be split over the threads (odd length).
        foreach (int len in Enumerable.Range(0, 68).Append(2 * (1 << 16) + 13))
        {
            var p1 = Uniform(len, len); var p2 = (float[])p1.Clone();
            var m1 = new float[len]; var m2 = new float[len];
            var v1 = new float[len]; var v2 = new float[len];
            for (int step = 1; step <= 4; step++)
            {
                var g = Uniform(len, 100 * step + len);
                OptimizerKernels.AdamStep(p1, g, m1, v1, 1e-2f, 0.9f, 0.999f, 1e-8f, wd, decoupled, step);
                OptimizerKernels.AdamStepReference(p2, g, m2, v2, 1e-2f, 0.9f, 0.999f, 1e-8f, wd, decoupled, step);
            }
            Close(p2, p1, 2e-6, 1e-5, $"param len={len}");
            Close(m2, m1, 1e-6, 1e-5, $"m len={len}");
            Close(v2, v1, 1e-7, 1e-5, $"v len={len}");
        }
    }

    [Fact]
    public void AdamFirstStepMovesByLearningRateTimesSign()
    {
        float[] p = [1f, -1f], m = new float[2], v = new float[2];
        OptimizerKernels.AdamStep(p, [0.3f, -7f], m, v, 0.01f, 0.9f, 0.999f, 1e-8f, 0f, false, 1);
        Assert.Equal(0.99f, p[0], 5);
        Assert.Equal(-0.99f, p[1], 5);
    }

    [Fact]
    public void AdamWDecaysTheParameterNotTheGradient()
    {
        // Zero gradient: Adam with L2 still sees g' = wd·p and moves by ≈ lr; AdamW only shrinks p by (1 − lr·wd).
        float[] pw = [2f], mw = [0f], vw = [0f];
        OptimizerKernels.AdamStep(pw, [0f], mw, vw, 0.1f, 0.9f, 0.999f, 1e-8f, 0.5f, decoupled: true, step: 1);
        Assert.Equal(2f * (1 - 0.1f * 0.5f), pw[0], 6);
        float[] pa = [2f], ma = [0f], va = [0f];
        OptimizerKernels.AdamStep(pa, [0f], ma, va, 0.1f, 0.9f, 0.999f, 1e-8f, 0.5f, decoupled: false, step: 1);
        Assert.Equal(1.9f, pa[0], 5);
    }

    [Fact]
    public void BadArgumentsNameTheReceivedValues()
    {
        var ex = Assert.Throws<ArgumentException>(() => OptimizerKernels.SgdStep(new float[4], new float[3], new float[4], 0.1f, 0.9f, 0f, false));
        Assert.Contains("3", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => OptimizerKernels.SgdStep(new float[4], new float[4], new float[2], 0.1f, 0.9f, 0f, false));
        Assert.Contains("2 elements", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => OptimizerKernels.SgdStep(new float[4], new float[4], [], 0.1f, 0f, 0f, true));
        Assert.Contains("momentum=0", ex.Message);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => OptimizerKernels.AdamStep(new float[4], new float[4], new float[4], new float[4], 0.1f, 0.9f, 0.999f, 1e-8f, 0f, false, 0));
        Assert.Contains("Received: 0", ex.Message);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => OptimizerKernels.AdamStep(new float[4], new float[4], new float[4], new float[4], 0.1f, 1.5f, 0.999f, 1e-8f, 0f, false, 1));
        Assert.Contains("1.5", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => OptimizerKernels.AdamStep(new float[4], new float[4], new float[5], new float[4], 0.1f, 0.9f, 0.999f, 1e-8f, 0f, false, 1));
        Assert.Contains("5", ex.Message);
    }
}
