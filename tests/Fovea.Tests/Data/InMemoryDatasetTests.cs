using Fovea.Data;

namespace Fovea.Tests.Data;

public class InMemoryDatasetTests
{
    internal static InMemoryDataset Numbered(int n, int classes = 3, int[]? shape = null)
    {
        shape ??= [1, 2, 2];
        int size = shape[0] * shape[1] * shape[2];
        var images = new float[n * size];
        // Every value of image i is i, so a sample's identity can be read back from its pixels.
        for (int i = 0; i < n; i++) images.AsSpan(i * size, size).Fill(i);
        var labels = Enumerable.Range(0, n).Select(i => i % classes).ToArray();
        return new InMemoryDataset(images, labels, shape, Enumerable.Range(0, classes).Select(c => $"c{c}").ToArray());
    }

    [Fact]
    public void ExposesContract()
    {
        var ds = Numbered(5);
        Assert.Equal(5, ds.Count);
        Assert.Equal([1, 2, 2], ds.SampleShape);
        var buf = new float[4];
        ds.CopyImage(3, buf);
        Assert.All(buf, v => Assert.Equal(3f, v));
        Assert.Equal(1, ds.GetLabel(4));
    }

    [Fact]
    public void ConstructorNamesMismatchedLengths()
    {
        var ex = Assert.Throws<ArgumentException>(() => new InMemoryDataset(new float[10], new int[3], [1, 2, 2], ["a"]));
        Assert.Contains("10", ex.Message);
        Assert.Contains("3 labels", ex.Message);
        Assert.Contains("12", ex.Message);
    }

    [Fact]
    public void ConstructorRejectsLabelOutOfRange()
    {
        var ex = Assert.Throws<ArgumentException>(() => new InMemoryDataset(new float[8], [0, 2], [1, 2, 2], ["a", "b"]));
        Assert.Contains("Label 2 at index 1", ex.Message);
    }

    [Fact]
    public void SubsetAndTakeCopySelectedSamples()
    {
        var ds = Numbered(6);
        var sub = ds.Subset([4, 1, 4]);
        Assert.Equal(3, sub.Count);
        Assert.Equal(4f, sub.GetImage(0)[0]);
        Assert.Equal(1f, sub.GetImage(1)[0]);
        Assert.Equal(ds.GetLabel(4), sub.GetLabel(2));
        var first = ds.Take(2);
        Assert.Equal(2, first.Count);
        Assert.Equal(1f, first.GetImage(1)[3]);
        Assert.Equal(6, ds.Take(100).Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.Subset([6]));
    }

    [Fact]
    public void SplitIsDeterministicAndDisjoint()
    {
        var ds = Numbered(100);
        var (train, val) = ds.Split(0.2, seed: 7);
        Assert.Equal(80, train.Count);
        Assert.Equal(20, val.Count);
        var ids = Enumerable.Range(0, train.Count).Select(i => train.GetImage(i)[0])
            .Concat(Enumerable.Range(0, val.Count).Select(i => val.GetImage(i)[0])).Order().ToArray();
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (float)i), ids);

        var (train2, val2) = ds.Split(0.2, seed: 7);
        Assert.Equal(val.Images.ToArray(), val2.Images.ToArray());
        Assert.Equal(train.Labels.ToArray(), train2.Labels.ToArray());
        var (_, val3) = ds.Split(0.2, seed: 8);
        Assert.NotEqual(val.Images.ToArray(), val3.Images.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.Split(1.0, 1));
    }

    [Fact]
    public void BytePixelsReadAsFloatsAndSurviveSubsets()
    {
        byte[] pixels = [0, 51, 102, 153, 204, 255, 7, 9];
        var ds = new InMemoryDataset(pixels, 255f, [0, 1, 0, 1], [1, 1, 2], ["a", "b"]);
        var image = new float[2];
        ds.CopyImage(2, image);
        Assert.Equal([204 / 255f, 255 / 255f], image);
        Assert.Equal(ds.GetImage(1).ToArray(), ds.Images.Slice(2, 2).ToArray());
        var sub = ds.Subset([3, 0]);
        Assert.Equal([7 / 255f, 9 / 255f, 0f, 51 / 255f], sub.Images.ToArray());
        Assert.Equal(2, ds.Take(2).Count);
        var (train, val) = ds.Split(0.5, seed: 1);
        Assert.Equal(4, train.Count + val.Count);
        Assert.Contains("divisor", Assert.Throws<ArgumentOutOfRangeException>(() => new InMemoryDataset(pixels, 0f, [0, 1, 0, 1], [1, 1, 2], ["a", "b"])).Message);
    }
}
