namespace Fovea;

/// <summary>
/// The one degree-of-parallelism setting for every Fovea kernel. Default: all cores.
/// Kernels split work into at most this many parts and never nest parallel loops.
/// </summary>
public static class Parallelism
{
    private static int _degree = Environment.ProcessorCount;

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
    /// Runs body(part) for part in [0, parts) on up to <see cref="Degree"/> threads. Called from inside
    /// another parallel region, it runs serially, so kernels never oversubscribe.
    /// </summary>
    public static void For(int parts, Action<int> body)
    {
        if (parts <= 0) return;
        if (parts == 1 || _degree == 1 || t_insideParallelRegion)
        {
            for (int i = 0; i < parts; i++) body(i);
            return;
        }
        var options = new ParallelOptions { MaxDegreeOfParallelism = _degree };
        Parallel.For(0, parts, options, i =>
        {
            bool outer = t_insideParallelRegion;
            t_insideParallelRegion = true;
            try { body(i); }
            finally { t_insideParallelRegion = outer; }
        });
    }

    /// <summary>True when the calling thread is already inside a Fovea parallel loop.</summary>
    public static bool InsideParallelRegion => t_insideParallelRegion;
}
