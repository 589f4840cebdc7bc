using Fovea.Data;

namespace Fovea.Tests.Data;

public class DataLoaderTests
{
    /// <summary>Every pixel of image i equals i, so ids can be read back from a batch.</summary>
    private static InMemoryDataset Numbered(int n, int[]? shape = null) => InMemoryDatasetTests.Numbered(n, classes: 5, shape);

    private static List<int> Ids(IEnumerable<Batch> epoch, List<int>? batchSizes = null)
    {
        var ids = new List<int>();
        foreach (var b in epoch)
        {
            batchSizes?.Add(b.Count);
            int size = b.Images.Length / b.Count;
            Assert.Equal(b.Count, b.Images.Dim(0));
            for (int i = 0; i < b.Count; i++)
            {
                int id = (int)b.Images.Span[i * size];
                Assert.Equal(id % 5, b.Labels[i]);
                ids.Add(id);
            }
        }
        return ids;
    }

    [Fact]
    public void EverySampleOnceWithPartialLastBatch()
    {
        using var loader = new DataLoader(Numbered(23), batchSize: 5, shuffle: true, seed: 3);
        Assert.Equal(5, loader.BatchesPerEpoch);
        var sizes = new List<int>();
        var ids = Ids(loader, sizes);
        Assert.Equal([5, 5, 5, 5, 3], sizes);
        Assert.Equal(Enumerable.Range(0, 23), ids.Order());
        Assert.NotEqual(Enumerable.Range(0, 23), ids); // shuffled
    }

    [Fact]
    public void DropLastSkipsShortBatch()
    {
        using var loader = new DataLoader(Numbered(23), batchSize: 5, shuffle: false, dropLast: true);
        var sizes = new List<int>();
        var ids = Ids(loader, sizes);
        Assert.Equal([5, 5, 5, 5], sizes);
        Assert.Equal(Enumerable.Range(0, 20), ids);
    }

    [Fact]
    public void SameSeedSameOrdersAndEpochsDiffer()
    {
        var ds = Numbered(50);
        using var a = new DataLoader(ds, 8, seed: 42);
        using var b = new DataLoader(ds, 8, seed: 42);
        var a0 = Ids(a); var a1 = Ids(a);
        var b0 = Ids(b); var b1 = Ids(b);
        Assert.Equal(a0, b0);
        Assert.Equal(a1, b1);
        Assert.NotEqual(a0, a1);
        Assert.Equal(2, a.EpochsStarted);
        Assert.Equal(a1, Ids(a.ForEpoch(1)));
        Assert.Equal(2, a.EpochsStarted);
        using var c = new DataLoader(ds, 8, seed: 43);
        Assert.NotEqual(a0, Ids(c));
    }

    [Fact]
    public void BuffersAreRecycledAndPreviousBatchStaysValid()
    {
        using var loader = new DataLoader(Numbered(40), batchSize: 4, shuffle: false);
        var seen = new List<Batch>();
        Batch? previous = null;
        int previousFirst = -1;
        foreach (var b in loader)
        {
            // The rule: the batch before the current one is still intact.
            if (previous is not null) Assert.Equal(previousFirst, (int)previous.Images.Span[0]);
            previous = b;
            previousFirst = (int)b.Images.Span[0];
            Assert.Equal(b.Index * 4, previousFirst);
            seen.Add(b);
        }
        Assert.Equal(10, seen.Count);
        Assert.Equal(3, seen.Distinct().Count()); // three rotating buffers, no new batch objects
    }

    [Fact]
    public void AugmentationKeepsShapeAndIsReproducible()
    {
        // A distinctive image: value = 1 + x + 10*y + 100*c, so flips and shifts are visible.
        int n = 16;
        var images = new float[n * 2 * 6 * 6];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < 2; c++)
                for (int y = 0; y < 6; y++)
                    for (int x = 0; x < 6; x++)
                        images[((i * 2 + c) * 6 + y) * 6 + x] = 1 + x + 10 * y + 100 * c;
        var ds = new InMemoryDataset(images, new int[n], [2, 6, 6], ["only"]);
        var aug = new Augmentation(HorizontalFlipProbability: 0.5, MaxTranslation: 2);

        float[] RunEpoch(int seed)
        {
            using var loader = new DataLoader(ds, 5, shuffle: true, seed: seed, augmentation: aug);
            var all = new List<float>();
            foreach (var b in loader)
            {
                Assert.Equal([b.Count, 2, 6, 6], b.Images.Shape);
                all.AddRange(b.Images.ToArray());
            }
            return all.ToArray();
        }

        var first = RunEpoch(9);
        Assert.Equal(n * 72, first.Length);
        Assert.Equal(first, RunEpoch(9));
        Assert.NotEqual(first, RunEpoch(10));
        Assert.NotEqual(images, first); // something was augmented
        // Every value is either a zero fill or one of the original pixel values of the same channel.
        for (int i = 0; i < first.Length; i++)
        {
            float v = first[i];
            int c = (i / 36) % 2;
            Assert.True(v == 0 || (v - 1 - 100 * c >= 0 && v - 1 - 100 * c < 56), $"Unexpected value {v} at {i}.");
        }
    }

    [Fact]
    public void FlipWithProbabilityOneMirrors()
    {
        var ds = new InMemoryDataset([1, 2, 3, 4, 5, 6], [0], [1, 2, 3], ["a"]);
        using var loader = new DataLoader(ds, 1, shuffle: false, augmentation: new Augmentation(HorizontalFlipProbability: 1));
        var b = loader.First();
        Assert.Equal([3f, 2, 1, 6, 5, 4], b.Images.ToArray());
    }

    [Fact]
    public void TranslationIsAnExactShiftWithZeroFill()
    {
        int n = 40;
        var one = Enumerable.Range(1, 25).Select(v => (float)v).ToArray();
        var ds = new InMemoryDataset(Enumerable.Repeat(one, n).SelectMany(a => a).ToArray(), new int[n], [1, 5, 5], ["a"]);
        using var loader = new DataLoader(ds, 8, seed: 5, augmentation: new Augmentation(MaxTranslation: 1));
        var shiftsSeen = new HashSet<(int, int)>();
        foreach (var b in loader)
        {
            for (int i = 0; i < b.Count; i++)
            {
                var img = b.Images.Span.Slice(i * 25, 25).ToArray();
                (int, int)? match = null;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        bool ok = true;
                        for (int y = 0; y < 5 && ok; y++)
                            for (int x = 0; x < 5 && ok; x++)
                            {
                                int sy = y - dy, sx = x - dx;
                                float expected = sy is >= 0 and < 5 && sx is >= 0 and < 5 ? one[sy * 5 + sx] : 0f;
                                ok = img[y * 5 + x] == expected;
                            }
                        if (ok) match = (dx, dy);
                    }
                Assert.True(match.HasValue, $"Image {i} of batch {b.Index} is not a shift of the original.");
                shiftsSeen.Add(match.Value);
            }
        }
        Assert.True(shiftsSeen.Count >= 5, $"Only {shiftsSeen.Count} distinct shifts in 40 samples.");
    }

    private sealed class FailingDataset(int count, int failAt) : IDataset
    {
        public int Count => count;
        public int[] SampleShape => [1, 1, 1];
        public IReadOnlyList<string> ClassNames => ["a"];
        public void CopyImage(int index, Span<float> destination)
        {
            if (index == failAt) throw new InvalidOperationException($"sample {index} is broken");
            destination[0] = index;
        }
        public int GetLabel(int index) => 0;
    }

    [Fact]
    public void PrefetchExceptionSurfacesOnConsumer()
    {
        using var loader = new DataLoader(new FailingDataset(10, failAt: 7), batchSize: 2, shuffle: false);
        using var e = loader.GetEnumerator();
        Assert.True(e.MoveNext());
        Assert.True(e.MoveNext());
        Assert.True(e.MoveNext()); // batches 0..2 hold samples 0..5
        var ex = Assert.Throws<InvalidOperationException>(() => e.MoveNext());
        Assert.Equal("sample 7 is broken", ex.Message);
        Assert.False(e.MoveNext());
    }

    [Fact]
    public void AbandoningAnEpochStopsTheProducerAndAllowsTheNext()
    {
        using var loader = new DataLoader(Numbered(100), batchSize: 3, seed: 1);
        foreach (var b in loader)
        {
            if (b.Index == 2) break;
        }
        // The enumeration was disposed by foreach; a new epoch may start at once.
        Assert.Equal(Enumerable.Range(0, 100), Ids(loader).Order());
        using var open = loader.GetEnumerator();
        open.MoveNext();
        Assert.Throws<InvalidOperationException>(() => loader.GetEnumerator());
        loader.Dispose();
        Assert.Throws<ObjectDisposedException>(() => open.MoveNext());
    }

    /// <summary>Records which samples were read, and on which thread.</summary>
    private sealed class RecordingDataset(int count) : IDataset
    {
        public readonly System.Collections.Concurrent.ConcurrentQueue<(int Index, int Thread)> Reads = new();
        public int Count => count;
        public int[] SampleShape => [1, 2, 2];
        public IReadOnlyList<string> ClassNames => ["a"];
        public int GetLabel(int index) => 0;
        public void CopyImage(int index, Span<float> destination)
        {
            Reads.Enqueue((index, Environment.CurrentManagedThreadId));
            destination.Fill(index);
        }
    }

    [Fact]
    public void TheNextBatchIsReadInTheBackgroundWhileTheCallerHoldsTheCurrentOne()
    {
        var data = new RecordingDataset(8);
        using var loader = new DataLoader(data, 2, shuffle: false);
        int consumer = Environment.CurrentManagedThreadId;
        using var e = loader.ForEpoch(0).GetEnumerator();
        Assert.True(e.MoveNext());
        Assert.Equal(0f, e.Current.Images.Span[0]);
        // The caller is busy with batch 0 and has not asked for batch 1, yet its two images get read.
        Assert.True(SpinWait.SpinUntil(() => data.Reads.Count >= 4, TimeSpan.FromSeconds(10)), $"only {data.Reads.Count} image(s) read");
        Assert.Equal([0, 1, 2, 3], data.Reads.Select(r => r.Index).Order());
        // One batch ahead, no further: the buffer of batch 0 is still in use.
        Thread.Sleep(100);
        Assert.Equal(4, data.Reads.Count);
        Assert.DoesNotContain(consumer, data.Reads.Select(r => r.Thread));
        Assert.True(e.MoveNext());
        Assert.Equal(2f, e.Current.Images.Span[0]);
    }

    /// <summary>The numbered images read only a batch at a time, recording each batch's indices.</summary>
    private sealed class BatchReadDataset(InMemoryDataset inner) : IBatchReadDataset
    {
        public readonly System.Collections.Concurrent.ConcurrentQueue<int[]> Batches = new();
        public int Count => inner.Count;
        public int[] SampleShape => inner.SampleShape;
        public IReadOnlyList<string> ClassNames => inner.ClassNames;
        public int GetLabel(int index) => inner.GetLabel(index);
        public void CopyImage(int index, Span<float> destination) => throw new InvalidOperationException("read one by one");
        public void CopyImages(ReadOnlySpan<int> indices, Span<float> destination)
        {
            Batches.Enqueue(indices.ToArray());
            int size = SampleShape.Aggregate(1, (a, b) => a * b);
            for (int k = 0; k < indices.Length; k++) inner.CopyImage(indices[k], destination.Slice(k * size, size));
        }
    }

    [Fact]
    public void A_batch_read_dataset_is_read_once_per_batch_and_gives_what_reading_image_by_image_gives()
    {
        var numbered = Numbered(23, [2, 5, 5]);
        var data = new BatchReadDataset(numbered);
        var augmentation = new Augmentation(0.5, 1);
        using var byBatch = new DataLoader(data, 5, seed: 4, augmentation: augmentation);
        using var byImage = new DataLoader(numbered, 5, seed: 4, augmentation: augmentation);
        var expected = byImage.ForEpoch(1).Select(b => b.Images.ToArray()).ToList();
        var batches = byBatch.ForEpoch(1).Select(b => b.Images.ToArray()).ToList();
        Assert.Equal(expected, batches);   // the same samples, order and augmentation draws
        // One call per batch, with that batch's indices: every value of image i is i or (shifted in) 0, so the largest is i.
        Assert.Equal(batches.Select(b => b.Length / 50), data.Batches.Select(i => i.Length));
        Assert.Equal(batches.SelectMany(b => b.Chunk(50).Select(image => (int)image.Max())), data.Batches.SelectMany(i => i));
        Assert.Equal(Enumerable.Range(0, 23), data.Batches.SelectMany(i => i).Order());
        Assert.NotEqual(Enumerable.Range(0, 23), data.Batches.SelectMany(i => i));
    }

    [Fact]
    public void ValidatesArguments()
    {
        var ds = Numbered(4);
        Assert.Contains("got 0", Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(ds, 0)).Message);
        Assert.Contains("got -3", Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(ds, -3)).Message);
        Assert.Contains("got 1.5", Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(ds, 2, augmentation: new Augmentation(HorizontalFlipProbability: 1.5))).Message);
        Assert.Contains("got NaN", Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(ds, 2, augmentation: new Augmentation(HorizontalFlipProbability: double.NaN))).Message);
        Assert.Contains("got -1", Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(ds, 2, augmentation: new Augmentation(MaxTranslation: -1))).Message);
        using var empty = new DataLoader(new InMemoryDataset([], [], [1, 2, 2], ["a"]), 4);
        Assert.Empty(empty);
    }
}
