using Fovea.Kernels;
using static Fovea.Tests.Kernels.NumericKernelTestKit;

namespace Fovea.Tests.Kernels;

[Collection(DegreeCollection.Name)]
public class CrossEntropyTests : TwoThreadKernelTests
{
    private static int[] Labels(int rows, int classes, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, rows).Select(_ => rng.Next(classes)).ToArray();
    }

    public static TheoryData<int, int, float> Cases => new()
    {
        { 1, 1, 0f }, { 1, 2, 0f }, { 4, 10, 0f }, { 4, 10, 0.1f }, { 3, 67, 0.2f }, { 7, 9, 1f }, { 0, 3, 0f },
    };

    [Theory, MemberData(nameof(Cases))]
    public void SoftmaxCrossEntropyMatchesReference(int rows, int classes, float eps)
    {
        var x = Uniform(rows * classes, classes, -4, 4);
        var labels = Labels(rows, classes, rows);
        var p1 = new float[x.Length]; var p2 = new float[x.Length];
        float l1 = CrossEntropy.SoftmaxCrossEntropyForward(rows, classes, x, labels, eps, p1);
        float l2 = CrossEntropy.SoftmaxCrossEntropyForwardReference(rows, classes, x, labels, eps, p2);
        Assert.Equal(l2, l1, 1e-5);
        Close(p2, p1, 1e-6, 1e-5, "probabilities");
        var g1 = Uniform(x.Length, 3); var g2 = (float[])g1.Clone();
        CrossEntropy.SoftmaxCrossEntropyBackward(rows, classes, p2, labels, eps, 1.7f, g1);
        CrossEntropy.SoftmaxCrossEntropyBackwardReference(rows, classes, p2, labels, eps, 1.7f, g2);
        Close(g2, g1, 1e-6, 1e-5, "gradient");
    }

    [Theory, MemberData(nameof(Cases))]
    public void ClassWeightedSoftmaxCrossEntropyMatchesReference(int rows, int classes, float eps)
    {
        var x = Uniform(rows * classes, classes + 1, -4, 4);
        var labels = Labels(rows, classes, rows + 5);
        var weights = Uniform(classes, 7, 0, 3);
        var p1 = new float[x.Length]; var p2 = new float[x.Length];
        float l1 = CrossEntropy.SoftmaxCrossEntropyForward(rows, classes, x, labels, eps, p1, weights);
        float l2 = CrossEntropy.SoftmaxCrossEntropyForwardReference(rows, classes, x, labels, eps, p2, weights);
        Assert.Equal(l2, l1, 1e-5);
        var g1 = Uniform(x.Length, 3); var g2 = (float[])g1.Clone();
        CrossEntropy.SoftmaxCrossEntropyBackward(rows, classes, p2, labels, eps, 1.7f, g1, weights);
        CrossEntropy.SoftmaxCrossEntropyBackwardReference(rows, classes, p2, labels, eps, 1.7f, g2, weights);
        Close(g2, g1, 1e-6, 1e-5, "gradient");
    }

    [Fact]
    public void ClassWeightsScaleEachRowsLossAndMustCountTheClasses()
    {
        // Two rows of uniform logits over 4 classes: each loses log 4; weights 3 and 0 for their labels → mean 1.5·log 4.
        var p = new float[8];
        float loss = CrossEntropy.SoftmaxCrossEntropyForward(2, 4, new float[8], [1, 2], 0f, p, [1f, 3f, 0f, 1f]);
        Assert.Equal(1.5 * Math.Log(4), loss, 5);
        var e = Assert.Throws<ArgumentException>(() => CrossEntropy.SoftmaxCrossEntropyForward(2, 4, new float[8], [1, 2], 0f, p, [1f, 2f]));
        Assert.Contains("2 class weights for 4 classes", e.Message);
    }

    [Fact]
    public void UniformLogitsGiveLogK()
    {
        var p = new float[20];
        float loss = CrossEntropy.SoftmaxCrossEntropyForward(2, 10, new float[20], [3, 7], 0.1f, p);
        Assert.Equal(Math.Log(10), loss, 5);
        Assert.All(p, v => Assert.Equal(0.1f, v, 6));
    }

    [Fact]
    public void SoftmaxCrossEntropyGradientMatchesFiniteDifferences()
    {
        int rows = 3, classes = 6;
        foreach (float eps in new[] { 0f, 0.1f })
        {
            var x = Uniform(rows * classes, 8, -2, 2);
            var labels = Labels(rows, classes, 9);
            var p = new float[x.Length];
            CrossEntropy.SoftmaxCrossEntropyForward(rows, classes, x, labels, eps, p);
            var g = new float[x.Length];
            CrossEntropy.SoftmaxCrossEntropyBackward(rows, classes, p, labels, eps, 1.3f, g);
            GradientCheck(x, () => 1.3 * CrossEntropy.SoftmaxCrossEntropyForward(rows, classes, x, labels, eps, p), g, 1e-2f, 1e-3, 2e-3, $"eps={eps}");
        }
    }

    [Fact]
    public void ElementwiseLossesMatchReferenceForEveryTail()
    {
        // Every short length (vector body and tail), and a long odd one.
        foreach (int len in Enumerable.Range(0, 68).Append(4099))
        {
            var p = Uniform(len, len, 0f, 1f);
            if (len > 2) { p[0] = 0f; p[1] = 1f; }
            var t = Uniform(len, len + 1, 0f, 1f);
            var x = Uniform(len, len + 2, -30f, 30f);
            Assert.Equal(CrossEntropy.BinaryCrossEntropyForwardReference(p, t), CrossEntropy.BinaryCrossEntropyForward(p, t), 1e-4);
            Assert.Equal(CrossEntropy.BinaryCrossEntropyWithLogitsForwardReference(x, t), CrossEntropy.BinaryCrossEntropyWithLogitsForward(x, t), 1e-4);
            Assert.Equal(CrossEntropy.MeanSquaredErrorForwardReference(x, t), CrossEntropy.MeanSquaredErrorForward(x, t), 1e-3);
            var g1 = Uniform(len, 5); var g2 = (float[])g1.Clone();
            CrossEntropy.BinaryCrossEntropyBackward(p, t, 0.9f, g1);
            CrossEntropy.BinaryCrossEntropyBackwardReference(p, t, 0.9f, g2);
            Close(g2, g1, 1e-5, 1e-5, $"bce len={len}");
            g1 = Uniform(len, 6); g2 = (float[])g1.Clone();
            CrossEntropy.BinaryCrossEntropyWithLogitsBackward(x, t, 0.9f, g1);
            CrossEntropy.BinaryCrossEntropyWithLogitsBackwardReference(x, t, 0.9f, g2);
            Close(g2, g1, 1e-6, 1e-5, $"bce logits len={len}");
            g1 = Uniform(len, 7); g2 = (float[])g1.Clone();
            CrossEntropy.MeanSquaredErrorBackward(x, t, 0.9f, g1);
            CrossEntropy.MeanSquaredErrorBackwardReference(x, t, 0.9f, g2);
            Close(g2, g1, 1e-5, 1e-5, $"mse len={len}");
        }
    }

    [Fact]
    public void ClampedProbabilitiesKeepTheLossFinite()
    {
        float loss = CrossEntropy.BinaryCrossEntropyForward([0f, 1f], [1f, 0f]);
        Assert.True(float.IsFinite(loss));
        float eps = CrossEntropy.ProbabilityEpsilon;
        double expected = (-Math.Log(eps) - Math.Log(1.0 - (1f - eps))) / 2; // 1 - eps rounds in float
        Assert.Equal(expected, loss, 3);
        Assert.Equal(0f, CrossEntropy.BinaryCrossEntropyForward([], []));
    }

    [Fact]
    public void ElementwiseLossGradientsMatchFiniteDifferences()
    {
        int len = 29;
        var t = Uniform(len, 1, 0f, 1f);
        var p = Uniform(len, 2, 0.1f, 0.9f);
        var g = new float[len];
        CrossEntropy.BinaryCrossEntropyBackward(p, t, 1.5f, g);
        GradientCheck(p, () => 1.5 * CrossEntropy.BinaryCrossEntropyForward(p, t), g, 1e-3f, 1e-3, 2e-3, "bce");
        var x = Uniform(len, 3, -4f, 4f);
        g = new float[len];
        CrossEntropy.BinaryCrossEntropyWithLogitsBackward(x, t, 1.5f, g);
        GradientCheck(x, () => 1.5 * CrossEntropy.BinaryCrossEntropyWithLogitsForward(x, t), g, 1e-2f, 1e-3, 2e-3, "bce logits");
        g = new float[len];
        CrossEntropy.MeanSquaredErrorBackward(x, t, 1.5f, g);
        GradientCheck(x, () => 1.5 * CrossEntropy.MeanSquaredErrorForward(x, t), g, 1e-2f, 1e-3, 2e-3, "mse");
    }

    [Fact]
    public void BadArgumentsNameTheReceivedValues()
    {
        var p = new float[6];
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.SoftmaxCrossEntropyForward(2, 3, new float[6], [1, 5], 0f, p));
        Assert.Contains("Label 5 at row 1", ex.Message);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.SoftmaxCrossEntropyBackward(2, 3, p, [-1, 0], 0f, 1f, new float[6]));
        Assert.Contains("Label -1 at row 0", ex.Message);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.SoftmaxCrossEntropyForward(2, 3, new float[6], [1, 0], 1.5f, p));
        Assert.Contains("1.5", ex.Message);
        var ae = Assert.Throws<ArgumentException>(() => CrossEntropy.SoftmaxCrossEntropyForward(2, 3, new float[6], [1], 0f, p));
        Assert.Contains("1 elements", ae.Message);
        ae = Assert.Throws<ArgumentException>(() => CrossEntropy.SoftmaxCrossEntropyForward(2, 3, new float[7], [1, 1], 0f, p));
        Assert.Contains("7", ae.Message);
        ae = Assert.Throws<ArgumentException>(() => CrossEntropy.MeanSquaredErrorForward(new float[4], new float[3]));
        Assert.Contains("3", ae.Message);
    }
}
