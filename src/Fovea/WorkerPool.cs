using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Fovea;

// Why not Parallel.For: a kernel call takes 0.05-2 ms and a ResNet-18 inference makes ~50 of them; Parallel.For's
// workers go to sleep between calls and waking one costs ~10-20 µs each time (measured), and it hands parts to
// whichever thread asks first, so consecutive layers rarely find their data in the same core's cache. Here the
// workers spin briefly after each loop (a kernel's next call usually follows within microseconds), then sleep; each
// thread owns a fixed contiguous range of the parts and takes them from its front, and a thread that runs out takes
// the remaining parts of the others from their backs. Without interference every thread runs exactly its own range
// (the same data as in the previous call); when a core is slowed or a thread is descheduled by another process, the
// other threads finish its work instead of waiting at the end of the loop.

/// <summary>Threads − 1 background workers that, with the calling thread, run the parts of one loop at a time.</summary>
internal sealed class WorkerPool : IDisposable
{
    // Spinning this long after a loop (workers) or before the loop's last parts are done (caller), then sleeping: on
    // ResNet-18 at batch 1 on 2 threads, spinning 100 µs and 50 µs took 24 ms per image while another program kept one
    // core busy, 5 µs and 5 µs took 16 ms (1 thread alone: 18 ms), and the quiet machine measured the same 9.5-10 ms for
    // both: a spinning thread spends the scheduler's share of its process on nothing, so under load the threads with
    // work run later.
    private static readonly long SpinTicks = Stopwatch.Frequency / 200_000;
    private static readonly long CallerSpinTicks = SpinTicks;

    // A thread's remaining parts are one 64-bit word [tag:20 | end:22 | next:22], claimed by compare-and-swap: the
    // owner advances next, a thief lowers end. The tag is the loop's generation, so a worker that wakes late for a loop
    // that already finished cannot claim parts of the next one.
    private const int IndexBits = 22, TagBits = 20;
    private const long IndexMask = (1L << IndexBits) - 1, TagMask = (1L << TagBits) - 1;

    /// <summary>The largest number of parts one loop can have.</summary>
    public const int MaxParts = (int)IndexMask;

    private const int SlotStride = 16; // 128 bytes between threads' words: no false sharing between claims

    private readonly Thread[] _workers;
    private readonly SemaphoreSlim[] _wake;
    private readonly int[] _sleeping;
    private readonly long[] _ranges;
    private readonly SemaphoreSlim _allFinished = new(0);
    private Action<int>? _body;
    private int _parts, _finished, _callerSleeping;
    private long _generation;
    private volatile bool _failed;
    private volatile bool _disposed;
    private ExceptionDispatchInfo? _error;

    public WorkerPool(int threads)
    {
        Threads = threads;
        _ranges = new long[threads * SlotStride];
        _workers = new Thread[threads - 1];
        _wake = new SemaphoreSlim[threads - 1];
        _sleeping = new int[threads - 1];
        for (int w = 0; w < _workers.Length; w++)
        {
            int index = w + 1;
            _wake[w] = new SemaphoreSlim(0);
            _workers[w] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"Fovea worker {index}" };
            _workers[w].Start();
        }
    }

    /// <summary>Threads taking part in a loop, the caller included.</summary>
    public int Threads { get; }

    /// <summary>
    /// Runs body(part) for every part in [0, parts): thread t (the caller is 0) owns parts [t·parts/Threads,
    /// (t+1)·parts/Threads) and runs them in order unless another thread, having finished its own, takes them from the
    /// end. Once a part throws no further part starts; the first exception is rethrown after every started part ended.
    /// </summary>
    public void Run(int parts, Action<int> body)
    {
        if ((uint)parts > MaxParts) throw new ArgumentOutOfRangeException(nameof(parts), parts, $"A loop has at most {MaxParts} parts.");
        long generation = _generation + 1, tag = generation & TagMask;
        _body = body;
        _error = null;
        _failed = false;
        _parts = parts;
        _finished = 0;
        for (int t = 0; t < Threads; t++)
            _ranges[t * SlotStride] = Pack(tag, (long)parts * t / Threads, (long)parts * (t + 1) / Threads);
        Interlocked.Exchange(ref _generation, generation); // publishes the job (a full fence)
        for (int w = 0; w < _workers.Length; w++)
            if (Volatile.Read(ref _sleeping[w]) == 1) _wake[w].Release();
        Work(0, tag);
        WaitForRunningParts(parts);
        _body = null;
        _error?.Throw();
    }

    /// <summary>Every part is claimed when the caller gets here: waits for those still running on other threads.</summary>
    private void WaitForRunningParts(int parts)
    {
        // A part that runs much longer than the others usually belongs to a thread another process has pushed off its
        // core; a sleeping caller frees a core for it.
        long started = Stopwatch.GetTimestamp();
        var spin = new SpinWait();
        while (Volatile.Read(ref _finished) < parts)
        {
            if (Stopwatch.GetTimestamp() - started < CallerSpinTicks) { spin.SpinOnce(sleep1Threshold: -1); continue; }
            // Announce the sleep, then look once more: the last part's thread either sees the flag and wakes us, or
            // finished before the flag was set and we see it. A wake-up left over from an earlier loop only makes the
            // while condition run once more.
            Interlocked.Exchange(ref _callerSleeping, 1);
            if (Volatile.Read(ref _finished) < parts) _allFinished.Wait();
            Interlocked.Exchange(ref _callerSleeping, 0);
        }
    }

    private static long Pack(long tag, long next, long end) => (tag << (2 * IndexBits)) | (end << IndexBits) | next;

    /// <summary>Runs this thread's own parts, then whatever the others have not started.</summary>
    private void Work(int self, long tag)
    {
        bool outer = Parallelism.EnterRegion();
        try
        {
            while (TryClaim(self, tag, fromFront: true, out int part)) Execute(part);
            for (int k = 1; k < Threads; k++)
            {
                int victim = (self + k) % Threads;
                while (TryClaim(victim, tag, fromFront: false, out int part)) Execute(part);
            }
        }
        finally { Parallelism.ExitRegion(outer); }
    }

    private bool TryClaim(int owner, long tag, bool fromFront, out int part)
    {
        ref long slot = ref _ranges[owner * SlotStride];
        while (true)
        {
            long word = Volatile.Read(ref slot);
            long next = word & IndexMask, end = (word >> IndexBits) & IndexMask;
            if (word >> (2 * IndexBits) != tag || next >= end) { part = -1; return false; }
            long claimed = fromFront ? word + 1 : word - (1L << IndexBits);
            if (Interlocked.CompareExchange(ref slot, claimed, word) == word)
            {
                part = (int)(fromFront ? next : end - 1);
                return true;
            }
        }
    }

    private void Execute(int part)
    {
        // A successful claim carries this loop's tag, so _body is this loop's body: the loop cannot end before this part does.
        try { if (!_failed) _body!(part); }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);
            _failed = true;
        }
        finally
        {
            if (Interlocked.Increment(ref _finished) == _parts && Volatile.Read(ref _callerSleeping) == 1) _allFinished.Release();
        }
    }

    private void WorkerLoop(int index)
    {
        long seen = 0;
        while (true)
        {
            long started = Stopwatch.GetTimestamp();
            while (Volatile.Read(ref _generation) == seen)
            {
                if (_disposed) return;
                if (Stopwatch.GetTimestamp() - started < SpinTicks) { Thread.SpinWait(30); continue; }
                // Announce the sleep, then look once more: Run either sees the flag and wakes us, or we see its job.
                Interlocked.Exchange(ref _sleeping[index - 1], 1);
                if (Volatile.Read(ref _generation) == seen && !_disposed) _wake[index - 1].Wait();
                Interlocked.Exchange(ref _sleeping[index - 1], 0);
                started = Stopwatch.GetTimestamp();
            }
            if (_disposed) return;
            seen = Volatile.Read(ref _generation);
            Work(index, seen & TagMask);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (var wake in _wake) wake.Release();
    }
}
