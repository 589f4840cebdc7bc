namespace Fovea.Serialization;

/// <summary>
/// Bounds the weights a model file's architecture may create while it is rebuilt. Every weight and buffer of the model
/// must match one of the file's tensors, so together they hold at most the values the file holds; a layer asking for
/// more is refused before its fresh weights are allocated. Without this, one size edited in the architecture (a padding
/// of 46341 ahead of a Dense layer) made a 4 KB file allocate and initialise gigabytes before its weights were compared.
/// </summary>
internal static class WeightBudget
{
    /// <summary>Values the file's tensors hold that the layers built so far on this thread have not claimed; null outside a load.</summary>
    [ThreadStatic] private static long? t_remaining;

    /// <summary>Limits the layers built on this thread to <paramref name="values"/> values in all until the result is disposed.</summary>
    public static IDisposable Limit(long values)
    {
        var previous = t_remaining;
        t_remaining = values;
        return new Restore(previous);
    }

    /// <summary>
    /// Takes the values of a parameter of <paramref name="shape"/> from the budget, or throws a <see cref="FormatException"/>
    /// naming the layer and the parameter when the file cannot hold them. Does nothing outside <see cref="Limit"/>.
    /// </summary>
    public static void Claim(string layer, string parameter, int[] shape)
    {
        if (t_remaining is not long remaining) return;
        long count = 1;
        foreach (int d in shape) count = d <= 0 ? 0 : Math.Min(count * d, long.MaxValue / int.MaxValue);
        if (count > remaining)
            throw new FormatException($"layer '{layer}' needs a {parameter} of shape ({string.Join(", ", shape)}), " +
                $"more values than the file's tensors hold ({remaining:N0} left); the architecture does not match the weights.");
        t_remaining = remaining - count;
    }

    private sealed class Restore(long? previous) : IDisposable
    {
        public void Dispose() => t_remaining = previous;
    }
}
