using Fovea.Tensors;

namespace Fovea.Tests.Models;

/// <summary>
/// The arenas that recycle the buffers of predictions live per thread: a web server's threads each keep one. Batches of
/// many sizes (ClassifyMany's last batch holds whatever is left over) must not make each of them keep every size's
/// buffers for ever, while a step of the same shapes as before must still take no new buffer.
/// </summary>
public class ArenaBoundTests
{
    /// <summary>One step of a pretend network: a few buffers whose sizes grow with the batch, as activations do.</summary>
    private static float[][] Step(TensorArena arena, int batch)
    {
        arena.ReleaseAll();
        using (arena.Activate())
            return [arena.RentFloats(batch * 1000), arena.RentFloats(batch * 500), arena.RentFloats(batch * 10)];
    }

    private static long Bytes(int batch) => sizeof(float) * (long)batch * 1510;

    [Fact]
    public void Steps_of_many_batch_sizes_keep_at_most_about_twice_the_largest_steps_buffers()
    {
        var arena = new TensorArena();
        for (int round = 0; round < 3; round++)
            for (int batch = 1; batch <= 32; batch++)
            {
                Step(arena, batch);
                Assert.True(arena.CapacityBytes <= 3 * Bytes(32),
                    $"after a step of {batch} in round {round + 1} the arena holds {arena.CapacityBytes:N0} bytes; the largest step takes {Bytes(32):N0}");
            }
        arena.ReleaseAll();
        Assert.True(arena.CapacityBytes <= 2 * Bytes(32), $"{arena.CapacityBytes:N0} bytes held between steps");
    }

    [Fact]
    public void Alternating_a_full_and_a_short_batch_reuses_the_same_buffers()
    {
        // An evaluation's batches: 256, 256, ..., and the rest; the next epoch's evaluation again. Nothing new after the first.
        var arena = new TensorArena();
        var full = Step(arena, 32);
        var rest = Step(arena, 7);
        long capacity = arena.CapacityBytes;
        for (int i = 0; i < 5; i++)
        {
            var again = Step(arena, 32);
            for (int k = 0; k < full.Length; k++) Assert.Same(full[k], again[k]);
            again = Step(arena, 7);
            for (int k = 0; k < rest.Length; k++) Assert.Same(rest[k], again[k]);
        }
        Assert.Equal(capacity, arena.CapacityBytes);
    }
}
