using Fovea.Kernels;
using static Fovea.Tests.Kernels.NumericKernelTestKit;

namespace Fovea.Tests.Kernels;

[Collection(DegreeCollection.Name)]
public class BatchNorm2dTests : TwoThreadKernelTests
{
    // Plane lengths below, at and above a 4- and an 8-lane vector, odd tails, and a long odd plane.
    public static TheoryData<int, int, int> Sizes => new()
    {
        { 1, 1, 2 }, { 2, 1, 1 }, { 1, 2, 3 }, { 2, 3, 5 }, { 2, 3, 13 }, { 4, 2, 17 }, { 3, 5, 67 }, { 8, 16, 1024 }, { 2, 3, 4099 },
    };

    private sealed class Run
    {
        public float[] Y = [], RunningMean = [], RunningVar = [], SavedMean = [], SavedInvStd = [];
    }

    private static Run Train(bool reference, int n, int c, int hw, float[] x, float[] gamma, float[] beta)
    {
        var r = new Run
        {
            Y = new float[x.Length], SavedMean = new float[c], SavedInvStd = new float[c],
            RunningMean = Uniform(c, 77, -0.1f, 0.1f), RunningVar = Uniform(c, 78, 0.9f, 1.1f),
        };
        if (reference)
            BatchNorm2d.ForwardTrainingReference(n, c, hw, x, gamma, beta, BatchNorm2d.DefaultEpsilon, BatchNorm2d.DefaultMomentum, r.RunningMean, r.RunningVar, r.Y, r.SavedMean, r.SavedInvStd);
        else
            BatchNorm2d.ForwardTraining(n, c, hw, x, gamma, beta, BatchNorm2d.DefaultEpsilon, BatchNorm2d.DefaultMomentum, r.RunningMean, r.RunningVar, r.Y, r.SavedMean, r.SavedInvStd);
        return r;
    }

    [Theory, MemberData(nameof(Sizes))]
    public void MatchesReference(int n, int c, int hw)
    {
        var x = Uniform(n * c * hw, hw, -2, 3);
        var gamma = Uniform(c, 1, 0.5f, 1.5f);
        var beta = Uniform(c, 2);
        var fast = Train(false, n, c, hw, x, gamma, beta);
        var slow = Train(true, n, c, hw, x, gamma, beta);
        Close(slow.Y, fast.Y, 1e-5, 1e-4, "output");
        Close(slow.SavedMean, fast.SavedMean, 1e-6, 1e-5, "saved mean");
        Close(slow.SavedInvStd, fast.SavedInvStd, 1e-6, 1e-5, "saved invstd");
        Close(slow.RunningMean, fast.RunningMean, 1e-6, 1e-5, "running mean");
        Close(slow.RunningVar, fast.RunningVar, 1e-6, 1e-5, "running var");

        var gy = Uniform(x.Length, 3);
        var gx1 = Uniform(x.Length, 4); var gx2 = (float[])gx1.Clone();
        var gg1 = Uniform(c, 5); var gg2 = (float[])gg1.Clone();
        var gb1 = Uniform(c, 6); var gb2 = (float[])gb1.Clone();
        BatchNorm2d.Backward(n, c, hw, x, gy, gamma, slow.SavedMean, slow.SavedInvStd, gx1, gg1, gb1);
        BatchNorm2d.BackwardReference(n, c, hw, x, gy, gamma, slow.SavedMean, slow.SavedInvStd, gx2, gg2, gb2);
        Close(gx2, gx1, 1e-5, 1e-4, "grad input");
        Close(gg2, gg1, 1e-4, 1e-4, "grad gamma");
        Close(gb2, gb1, 1e-4, 1e-4, "grad beta");
        // Overwriting the input gradient ignores its previous contents (NaN here) and equals the reference on zeros.
        var gx3 = new float[x.Length]; Array.Fill(gx3, float.NaN);
        var gx4 = new float[x.Length];
        BatchNorm2d.Backward(n, c, hw, x, gy, gamma, slow.SavedMean, slow.SavedInvStd, gx3, new float[c], new float[c], accumulateInput: false);
        BatchNorm2d.BackwardReference(n, c, hw, x, gy, gamma, slow.SavedMean, slow.SavedInvStd, gx4, new float[c], new float[c]);
        Close(gx4, gx3, 1e-5, 1e-4, "overwritten grad input");

        var y1 = new float[x.Length]; var y2 = new float[x.Length];
        BatchNorm2d.ForwardInference(n, c, hw, x, gamma, beta, slow.RunningMean, slow.RunningVar, 1e-3f, y1);
        BatchNorm2d.ForwardInferenceReference(n, c, hw, x, gamma, beta, slow.RunningMean, slow.RunningVar, 1e-3f, y2);
        Close(y2, y1, 1e-5, 1e-5, "inference");
    }

    [Fact]
    public void RunningStatisticsFollowThePyTorchConvention()
    {
        // One channel, values 1..4: mean 2.5, biased var 1.25, unbiased var 5/3.
        float[] x = [1, 2, 3, 4];
        var rm = new[] { 1f }; var rv = new[] { 2f };
        var y = new float[4]; var sm = new float[1]; var si = new float[1];
        BatchNorm2d.ForwardTraining(2, 1, 2, x, [1f], [0f], 0f, 0.1f, rm, rv, y, sm, si);
        Assert.Equal(0.9f * 1f + 0.1f * 2.5f, rm[0], 6);
        Assert.Equal(0.9f * 2f + 0.1f * 5f / 3f, rv[0], 6);
        Assert.Equal(2.5f, sm[0], 6);
        Assert.Equal(1 / Math.Sqrt(1.25), si[0], 6);
        Assert.Equal(-1.5 / Math.Sqrt(1.25), y[0], 5);
    }

    [Fact]
    public void LargeOffsetKeepsTheVarianceAccurate()
    {
        int n = 4, c = 1, hw = 1000;
        var x = Uniform(n * hw, 3, -1, 1);
        for (int i = 0; i < x.Length; i++) x[i] += 10000f;
        var fast = Train(false, n, c, hw, x, [1f], [0f]);
        var slow = Train(true, n, c, hw, x, [1f], [0f]);
        Assert.Equal(slow.SavedInvStd[0], fast.SavedInvStd[0], 1e-3);
        Close(slow.Y, fast.Y, 2e-3, 1e-3, "output");
    }

    [Fact]
    public void BackwardMatchesFiniteDifferences()
    {
        int n = 3, c = 2, hw = 5;
        var x = Uniform(n * c * hw, 1, -2, 2);
        var gamma = Uniform(c, 2, 0.5f, 1.5f);
        var beta = Uniform(c, 3);
        var w = Uniform(x.Length, 4);
        var r = Train(false, n, c, hw, x, gamma, beta);
        var gx = new float[x.Length]; var gg = new float[c]; var gb = new float[c];
        BatchNorm2d.Backward(n, c, hw, x, w, gamma, r.SavedMean, r.SavedInvStd, gx, gg, gb);
        double Loss_() => Loss(Train(false, n, c, hw, x, gamma, beta).Y, w);
        GradientCheck(x, Loss_, gx, 1e-2f, 2e-3, 5e-3, "input");
        GradientCheck(gamma, Loss_, gg, 1e-2f, 2e-3, 5e-3, "gamma");
        GradientCheck(beta, Loss_, gb, 1e-2f, 2e-3, 5e-3, "beta");
    }

    [Fact]
    public void BadArgumentsNameTheReceivedValues()
    {
        float[] c3 = new float[3];
        var ex = Assert.Throws<ArgumentException>(() => BatchNorm2d.ForwardTraining(2, 3, 4, new float[24], c3, c3, 1e-5f, 0.1f, c3, c3, new float[23], c3, c3));
        Assert.Contains("23", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => BatchNorm2d.ForwardTraining(1, 3, 1, new float[3], c3, c3, 1e-5f, 0.1f, c3, c3, new float[3], c3, c3));
        Assert.Contains("HW=1", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => BatchNorm2d.ForwardInference(2, 3, 4, new float[24], new float[2], c3, c3, c3, 1e-5f, new float[24]));
        Assert.Contains("2 elements", ex.Message);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => BatchNorm2d.ForwardTraining(2, 3, 4, new float[24], c3, c3, 1e-5f, 1.5f, c3, c3, new float[24], c3, c3));
        Assert.Contains("1.5", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => BatchNorm2d.Backward(2, 3, 4, new float[24], new float[25], c3, c3, c3, new float[24], c3, c3));
        Assert.Contains("25", ex.Message);
    }
}
