using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Fovea;

// Why not Parallel.For: a kernel call takes 0.05-2 ms and a ResNet-18 inference makes ~50 of them; Parallel.For's
// workers go to sleep between calls and waking one costs ~10-20 µs each time (measured), and it hands parts to
// whichever thread asks first, so consecutive layers rarely find their data in the same core's cache. Here the
// workers spin briefly after each loop (a kernel's next call usually follows within microseconds), then sleep, and
// part i always runs on thread i mod Threads.

/// <summary>Threads − 1 background workers that, with the calling thread, run the parts of one loop at a time.</summary>
internal sealed class WorkerPool : IDisposable
{
    private static readonly long SpinTicks = Stopwatch.Frequency / 10_000; // 100 µs of spinning before sleeping

    private readonly Thread[] _workers;
    private readonly SemaphoreSlim[] _wake;
    private readonly int[] _sleeping;
    private Action<int>? _body;
    private int _parts, _pending;
    private long _generation;
    private volatile bool _disposed;
    private ExceptionDispatchInfo? _error;

    public WorkerPool(int threads)
    {
        Threads = threads;
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

    /// <summary>Runs body(part) for every part: the caller takes parts 0, Threads, 2·Threads, …; worker w the parts ≡ w.</summary>
    public void Run(int parts, Action<int> body)
    {
        _body = body;
        _parts = parts;
        _error = null;
        Volatile.Write(ref _pending, _workers.Length);
        Interlocked.Increment(ref _generation); // publishes the job (a full fence)
        for (int w = 0; w < _workers.Length; w++)
            if (Volatile.Read(ref _sleeping[w]) == 1) _wake[w].Release();
        try { Parallelism.RunShare(0, Threads, parts, body); }
        catch (Exception e) { Record(e); }
        var spin = new SpinWait();
        while (Volatile.Read(ref _pending) > 0) spin.SpinOnce(sleep1Threshold: -1);
        _body = null;
        _error?.Throw();
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
            try { Parallelism.RunShare(index, Threads, _parts, _body!); }
            catch (Exception e) { Record(e); }
            Interlocked.Decrement(ref _pending);
        }
    }

    private void Record(Exception e) => Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);

    public void Dispose()
    {
        _disposed = true;
        foreach (var wake in _wake) wake.Release();
    }
}
