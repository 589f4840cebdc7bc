namespace Fovea;

/// <summary>
/// The one degree-of-parallelism setting for every Fovea kernel. Default: all cores.
/// Kernels split work into at most this many parts and never nest parallel loops.
/// </summary>
public static class Parallelism
{
    private static int _degree = Environment.ProcessorCount;
    private static WorkerPool? s_pool;
    private static readonly object s_gate = new();

    /// <summary>Maximum number of threads a kernel uses. Must be at least 1.</summary>
    public static int Degree
    {
        get => _degree;
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), value, $"Degree of parallelism must be at least 1. Received: {value}.");
            _degree = value;
        }
    }

    [ThreadStatic] private static bool t_insideParallelRegion;

    /// <summary>
    /// Runs body(part) for part in [0, parts) on up to <see cref="Degree"/> threads: the calling thread and Degree − 1
    /// long-lived workers, each taking the parts congruent to its index (so the same part of consecutive calls runs on
    /// the same thread, near the data it touched last). Called from inside another parallel region, or while another
    /// thread's loop holds the workers (e.g. concurrent predictions in a web server), it runs serially on the calling
    /// thread, so kernels never oversubscribe the cores. A thread whose part throws takes no further parts; the first
    /// exception is rethrown here once every thread has stopped.
    /// </summary>
    public static void For(int parts, Action<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (parts <= 0) return;
        int degree = _degree;
        if (parts == 1 || degree == 1 || t_insideParallelRegion || !Monitor.TryEnter(s_gate))
        {
            RunSerially(parts, body);
            return;
        }
        try
        {
            if (s_pool is null || s_pool.Threads != degree)
            {
                s_pool?.Dispose();
                s_pool = new WorkerPool(degree);
            }
            s_pool.Run(parts, body);
        }
        finally { Monitor.Exit(s_gate); }
    }

    private static void RunSerially(int parts, Action<int> body)
    {
        bool outer = t_insideParallelRegion;
        t_insideParallelRegion = true;
        try { for (int i = 0; i < parts; i++) body(i); }
        finally { t_insideParallelRegion = outer; }
    }

    /// <summary>True when the calling thread is already inside a Fovea parallel loop.</summary>
    public static bool InsideParallelRegion => t_insideParallelRegion;

    /// <summary>Runs the parts of one loop that belong to thread <paramref name="index"/> of <paramref name="threads"/>.</summary>
    internal static void RunShare(int index, int threads, int parts, Action<int> body)
    {
        bool outer = t_insideParallelRegion;
        t_insideParallelRegion = true;
        try { for (int i = index; i < parts; i += threads) body(i); }
        finally { t_insideParallelRegion = outer; }
    }
}
