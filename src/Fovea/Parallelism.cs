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
    /// long-lived workers. Each thread owns a contiguous range of the parts (so the same parts of consecutive calls run
    /// on the same thread, near the data they touched last) and, once done with it, takes the parts the others have not
    /// started yet, so a core slowed by another process holds the loop up for one part at most. Results must therefore
    /// not depend on which thread runs a part. Called from inside another parallel region, or while another thread's
    /// loop holds the workers (e.g. concurrent predictions in a web server), it runs serially on the calling thread, so
    /// kernels never oversubscribe the cores. Once a part throws no further part starts; the first exception is rethrown
    /// here when every started part has ended.
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
            if (parts <= WorkerPool.MaxParts) s_pool.Run(parts, body);
            else
            {
                // More parts than a claim word can count: hand them out in consecutive groups.
                int groups = WorkerPool.MaxParts;
                s_pool.Run(groups, g =>
                {
                    int end = (int)((long)parts * (g + 1) / groups);
                    for (int i = (int)((long)parts * g / groups); i < end; i++) body(i);
                });
            }
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

    /// <summary>Marks the calling thread as inside a parallel loop; returns the previous mark for <see cref="ExitRegion"/>.</summary>
    internal static bool EnterRegion()
    {
        bool outer = t_insideParallelRegion;
        t_insideParallelRegion = true;
        return outer;
    }

    internal static void ExitRegion(bool outer) => t_insideParallelRegion = outer;
}
