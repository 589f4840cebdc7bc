namespace Fovea.Tests;

// Parallelism.For runs on a pool of long-lived workers: every part exactly once, exceptions surfaced, no nesting,
// serial fallback when another thread holds the workers.
[Collection(DegreeCollection.Name)]
public class ParallelismTests
{
    private static void WithDegree(int degree, Action body)
    {
        int saved = Parallelism.Degree;
        Parallelism.Degree = degree;
        try { body(); }
        finally { Parallelism.Degree = saved; }
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(2, 2)]
    [InlineData(2, 7)]
    [InlineData(3, 100)]
    public void EveryPartRunsExactlyOnce(int degree, int parts) => WithDegree(degree, () =>
    {
        for (int round = 0; round < 200; round++)
        {
            var counts = new int[parts];
            Parallelism.For(parts, i => Interlocked.Increment(ref counts[i]));
            Assert.All(counts, c => Assert.Equal(1, c));
        }
    });

    [Fact]
    public void PartsAreInsideTheRegionAndNestedLoopsRunSerially() => WithDegree(2, () =>
    {
        var inner = new int[4 * 3];
        bool allInside = true;
        Parallelism.For(4, i =>
        {
            allInside &= Parallelism.InsideParallelRegion;
            int thread = Environment.CurrentManagedThreadId;
            Parallelism.For(3, j =>
            {
                inner[i * 3 + j]++;
                if (Environment.CurrentManagedThreadId != thread) throw new InvalidOperationException("nested part ran on another thread");
            });
        });
        Assert.True(allInside);
        Assert.All(inner, c => Assert.Equal(1, c));
        Assert.False(Parallelism.InsideParallelRegion);
    });

    [Fact]
    public void TheFirstExceptionOfAPartIsRethrownAndThePoolKeepsWorking() => WithDegree(2, () =>
    {
        int ran = 0;
        var e = Assert.Throws<InvalidOperationException>(() => Parallelism.For(6, i =>
        {
            Interlocked.Increment(ref ran);
            if (i == 3) throw new InvalidOperationException("part 3 failed");
        }));
        Assert.Equal("part 3 failed", e.Message);
        Assert.InRange(ran, 1, 6); // once a part has thrown no further part starts
        // The pool still works afterwards.
        int after = 0;
        Parallelism.For(4, _ => Interlocked.Increment(ref after));
        Assert.Equal(4, after);
    });

    [Theory]
    [InlineData(0)] // the caller's first part is held up: the worker takes the caller's other parts
    [InlineData(4)] // a worker's first part is held up: the caller takes the worker's other parts
    public void AThreadHeldUpInOnePartLeavesItsOtherPartsToTheOthers(int heldPart) => WithDegree(2, () =>
    {
        const int Parts = 8;
        for (int round = 0; round < 20; round++)
        {
            var counts = new int[Parts];
            int others = 0;
            bool releasedByOthers = true;
            Parallelism.For(Parts, part =>
            {
                if (part == heldPart)
                {
                    // Without stealing, the parts this thread owns after this one could never run while it waits.
                    releasedByOthers &= SpinWait.SpinUntil(() => Volatile.Read(ref others) == Parts - 1, TimeSpan.FromSeconds(10));
                }
                else Interlocked.Increment(ref others);
                Interlocked.Increment(ref counts[part]);
            });
            Assert.True(releasedByOthers, $"round {round}: the other parts did not all run while part {heldPart} was held up");
            Assert.All(counts, c => Assert.Equal(1, c));
        }
    });

    [Fact]
    public void ASecondCallerWhileTheWorkersAreBusyRunsAloneOnItsOwnThread() => WithDegree(2, () =>
    {
        // Thread A's loop holds the workers (one of its parts waits); thread B's loop meanwhile must not queue behind it
        // or add threads: every one of B's parts runs on B itself, inside a region, so B's kernels stay serial too.
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var a = new Thread(() => Parallelism.For(2, part =>
        {
            if (part != 0) return;
            inside.Set();
            release.Wait(TimeSpan.FromSeconds(30));
        }));
        a.Start();
        try
        {
            Assert.True(inside.Wait(TimeSpan.FromSeconds(30)), "thread A's loop did not start");
            var partThreads = new int[4];
            var insideRegion = new bool[4];
            int caller = -1;
            var b = new Thread(() =>
            {
                caller = Environment.CurrentManagedThreadId;
                Parallelism.For(4, part => { partThreads[part] = Environment.CurrentManagedThreadId; insideRegion[part] = Parallelism.InsideParallelRegion; });
            });
            b.Start();
            Assert.True(b.Join(TimeSpan.FromSeconds(30)), "thread B waited for thread A's loop");
            Assert.All(partThreads, id => Assert.Equal(caller, id));
            Assert.All(insideRegion, Assert.True);
        }
        finally
        {
            release.Set();
            Assert.True(a.Join(TimeSpan.FromSeconds(30)));
        }
    });

    [Fact]
    public void ManyThreadsCallingAtOnceAllComplete() => WithDegree(2, () =>
    {
        var totals = new long[8];
        var threads = Enumerable.Range(0, totals.Length).Select(t => new Thread(() =>
        {
            for (int round = 0; round < 300; round++)
                Parallelism.For(5, i => Interlocked.Add(ref totals[t], i + 1));
        })).ToArray();
        foreach (var th in threads) th.Start();
        foreach (var th in threads) Assert.True(th.Join(TimeSpan.FromSeconds(60)), "a caller did not finish");
        Assert.All(totals, total => Assert.Equal(300L * 15, total));
    });

    [Fact]
    public void ChangingTheDegreeBetweenLoopsKeepsWorking()
    {
        foreach (int degree in new[] { 2, 1, 3, 2 })
            WithDegree(degree, () =>
            {
                int sum = 0;
                Parallelism.For(10, i => Interlocked.Add(ref sum, i));
                Assert.Equal(45, sum);
            });
    }
}
