namespace Fovea.Tensors;

/// <summary>
/// Recycles the buffers of short-lived tensors. While an arena is active on a thread, every new tensor (and the
/// gradient of such a tensor) takes its buffer from the arena; <see cref="ReleaseAll"/> hands all of them back at once.
/// Training steps and inference batches repeat the same shapes, so after the first step nothing is allocated:
/// the buffers are reused, and the operating system never has to supply (and zero) fresh pages. When the shapes vary
/// (predictions of many batch sizes, e.g. the leftover last batch of every request to a web server, on every one of its
/// threads) the arena keeps at most about twice the buffers of its largest step (see <see cref="ReleaseAll"/>), rather
/// than every size's for ever. Tensors made inside an arena are valid until its next <see cref="ReleaseAll"/>.
/// </summary>
public sealed class TensorArena
{
    [ThreadStatic] private static TensorArena? t_current;

    private readonly Dictionary<int, Stack<float[]>> _freeFloats = new();
    private readonly Dictionary<int, Stack<int[]>> _freeInts = new();
    private readonly List<float[]> _usedFloats = new();
    private readonly List<int[]> _usedInts = new();

    /// <summary>The arena active on this thread, or null.</summary>
    public static TensorArena? Current => t_current;

    /// <summary>Bytes held by the arena (in use and free).</summary>
    public long CapacityBytes { get; private set; }

    // Bytes handed out since the last ReleaseAll (a step), and the most any step has taken: the bound on what is kept.
    private long _stepBytes, _largestStepBytes;

    /// <summary>Makes this arena the current one on this thread until the scope is disposed.</summary>
    public Scope Activate()
    {
        var previous = t_current;
        t_current = this;
        return new Scope(previous);
    }

    /// <summary>A zero-filled buffer of exactly <paramref name="length"/> floats, owned by the arena until <see cref="ReleaseAll"/>.</summary>
    public float[] RentFloats(int length) => Rent(_freeFloats, _usedFloats, length, 4, clear: true);

    /// <summary>A buffer of <paramref name="length"/> floats with unspecified contents (for outputs a kernel overwrites).</summary>
    internal float[] RentFloatsUncleared(int length)
    {
        var buffer = Rent(_freeFloats, _usedFloats, length, 4, clear: false);
#if DEBUG
        // Debug builds (the tests) poison recycled buffers, so a kernel that leaves part of its output unwritten shows up as NaN.
        buffer.AsSpan().Fill(float.NaN);
#endif
        return buffer;
    }

    /// <summary>A zero-filled buffer of exactly <paramref name="length"/> ints, owned by the arena until <see cref="ReleaseAll"/>.</summary>
    public int[] RentInts(int length) => Rent(_freeInts, _usedInts, length, 4, clear: true);

    /// <summary>A buffer of <paramref name="length"/> ints with unspecified contents (for indices a kernel overwrites).</summary>
    internal int[] RentIntsUncleared(int length)
    {
        var buffer = Rent(_freeInts, _usedInts, length, 4, clear: false);
#if DEBUG
        buffer.AsSpan().Fill(int.MinValue); // poison, as for floats
#endif
        return buffer;
    }

    private T[] Rent<T>(Dictionary<int, Stack<T[]>> free, List<T[]> used, int length, int elementBytes, bool clear)
    {
        if (length == 0) return [];
        T[] buffer;
        if (free.TryGetValue(length, out var stack) && stack.Count > 0)
        {
            buffer = stack.Pop();
            if (clear) Array.Clear(buffer);
        }
        else
        {
            buffer = new T[length];
            CapacityBytes += (long)length * elementBytes;
        }
        used.Add(buffer);
        _stepBytes += (long)length * elementBytes;
        return buffer;
    }

    /// <summary>
    /// Returns every buffer handed out since the last call; tensors made from them must no longer be used. When the arena
    /// then holds more than twice what the largest step between two calls has taken, the buffers this step did not use
    /// (left from steps of other shapes) are dropped, so memory stays bounded however many shapes go through it, while a
    /// full batch alternating with a short last one keeps both sets.
    /// </summary>
    public void ReleaseAll()
    {
        _largestStepBytes = Math.Max(_largestStepBytes, _stepBytes);
        if (CapacityBytes > 2 * _largestStepBytes)
        {
            // The free lists hold exactly the buffers this step did not take: the ones it took are in the used lists.
            _freeFloats.Clear();
            _freeInts.Clear();
            CapacityBytes = _stepBytes;
        }
        _stepBytes = 0;
        Return(_freeFloats, _usedFloats);
        Return(_freeInts, _usedInts);
    }

    private static void Return<T>(Dictionary<int, Stack<T[]>> free, List<T[]> used)
    {
        foreach (var b in used)
        {
            if (!free.TryGetValue(b.Length, out var stack)) free[b.Length] = stack = new Stack<T[]>();
            stack.Push(b);
        }
        used.Clear();
    }

    /// <summary>Drops all buffers (in use ones included) so the memory can be collected.</summary>
    public void Trim()
    {
        _freeFloats.Clear(); _freeInts.Clear(); _usedFloats.Clear(); _usedInts.Clear();
        CapacityBytes = 0;
        _stepBytes = _largestStepBytes = 0;
    }

    /// <summary>Restores the previously active arena when disposed.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly TensorArena? _previous;
        internal Scope(TensorArena? previous) => _previous = previous;
        /// <inheritdoc/>
        public void Dispose() => t_current = _previous;
    }
}
