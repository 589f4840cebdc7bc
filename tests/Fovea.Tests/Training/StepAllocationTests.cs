using Fovea.Data;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Training;

namespace Fovea.Tests.Training;

/// <summary>
/// Steady-state training allocates (almost) nothing per batch: activations and gradients come from the step's arena,
/// kernels use pooled scratch. Measured through Trainer.Fit itself, process-wide (the data loader's prefetch thread and
/// the workers included), between two batches of the second epoch, so epoch boundaries (shuffling, metrics) stay out.
/// Alone in the degree collection, so no other test's allocations are counted.
/// </summary>
[Collection(DegreeCollection.Name)]
public class StepAllocationTests(ITestOutputHelper output)
{
    private sealed class AllocationProbe(int from, int to) : ITrainingCallback
    {
        public long Start, End;

        public void OnBatchEnd(Trainer trainer, in BatchProgress progress)
        {
            if (progress.Epoch != 2) return;
            if (progress.Batch == from) Start = GC.GetTotalAllocatedBytes(precise: true);
            if (progress.Batch == to) End = GC.GetTotalAllocatedBytes(precise: true);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void DefaultNetworkTrainsWithFewerThan64KilobytesPerBatch(int threads)
    {
        const int batch = 32, batches = 30, from = 10, to = 25;
        var rng = new Random(5);
        var images = new float[batch * batches * 16 * 16];
        for (int i = 0; i < images.Length; i++) images[i] = rng.NextSingle();
        var labels = Enumerable.Range(0, batch * batches).Select(i => i % 10).ToArray();
        var data = new InMemoryDataset(images, labels, [1, 16, 16], Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray());
        var model = ModelZoo.Default([1, 16, 16], 10, seed: 1);   // BatchNorm and Dropout: the training-mode paths
        var probe = new AllocationProbe(from, to);
        int saved = Parallelism.Degree;
        Parallelism.Degree = threads;
        try
        {
            new Trainer(model, new AdamW(1e-3f)).Fit(data, new FitOptions
            {
                Epochs = 2, BatchSize = batch, Seed = 3, Augmentation = Augmentation.ShiftAndFlip, Callbacks = [probe],
            });
        }
        finally { Parallelism.Degree = saved; }
        double perStep = (double)(probe.End - probe.Start) / (to - from);
        Assert.True(probe.End > probe.Start, "the probe did not see the second epoch");
        output.WriteLine($"{perStep:N0} bytes per step at {threads} thread(s)");
        Assert.True(perStep < 64 * 1024, $"{perStep:N0} bytes allocated per training step at {threads} thread(s); the target is under 64 KB");
    }
}
