using Fovea.Tensors;

namespace Fovea.Autograd;

/// <summary>
/// Records the backward step of every primitive op run while it is active, then replays them in reverse.
/// Ops run with no active tape (inference, Model.Predict) record nothing and keep no caches.
/// One tape per thread: recording on one thread never sees ops run on another.
/// A hand-written training loop should, like <see cref="Training.Trainer"/>, run each step inside a
/// <see cref="Tensors.TensorArena"/> (<c>arena.ReleaseAll(); using (arena.Activate()) { record, backward, step }</c>) so that
/// activations and gradients are recycled instead of allocated anew every step.
/// </summary>
public sealed class Tape
{
    [ThreadStatic] private static Tape? t_current;

    private readonly List<Action> _backwardSteps = new();

    /// <summary>The tape recording on this thread, or null (no-grad mode).</summary>
    public static Tape? Current => t_current;

    /// <summary>Number of recorded backward steps.</summary>
    public int Count => _backwardSteps.Count;

    /// <summary>Makes this tape the current one on this thread until the returned scope is disposed.</summary>
    public Scope Record()
    {
        var previous = t_current;
        t_current = this;
        return new Scope(previous);
    }

    /// <summary>Runs <paramref name="action"/> with no tape active (no gradients recorded).</summary>
    public static T NoGrad<T>(Func<T> action)
    {
        var previous = t_current;
        t_current = null;
        try { return action(); }
        finally { t_current = previous; }
    }

    /// <summary>True when an op on these inputs must record its backward step.</summary>
    internal static bool ShouldRecord(Tensor a) => t_current is not null && a.RequiresGrad;

    internal static bool ShouldRecord(Tensor a, Tensor? b) => t_current is not null && (a.RequiresGrad || (b?.RequiresGrad ?? false));

    internal static bool ShouldRecord(Tensor a, Tensor? b, Tensor? c) => t_current is not null && (a.RequiresGrad || (b?.RequiresGrad ?? false) || (c?.RequiresGrad ?? false));

    internal void Add(Action backward) => _backwardSteps.Add(backward);

    /// <summary>
    /// Seeds d(loss)/d(loss) = 1 (loss must hold one value) and runs every recorded backward step in reverse order.
    /// Gradients accumulate into <see cref="Tensor.Grad"/>; zero parameter gradients between steps (the optimizer does).
    /// </summary>
    public void Backward(Tensor loss)
    {
        if (loss.Length != 1) throw new ArgumentException($"Backward needs a scalar loss; received a tensor of shape {Tensor.ShapeToString(loss.Shape)}.", nameof(loss));
        loss.GradOrCreate().Span[0] = 1f;
        for (int i = _backwardSteps.Count - 1; i >= 0; i--) _backwardSteps[i]();
        _backwardSteps.Clear();
    }

    /// <summary>
    /// Runs every recorded backward step in reverse, seeding the gradient of <paramref name="output"/> (any shape) with
    /// <paramref name="outputGradient"/>: the vector-Jacobian product used by gradient checks and Grad-CAM.
    /// </summary>
    public void Backward(Tensor output, ReadOnlySpan<float> outputGradient)
    {
        if (outputGradient.Length != output.Length)
            throw new ArgumentException($"The seed gradient has {outputGradient.Length} values but the output {Tensor.ShapeToString(output.Shape)} has {output.Length}.", nameof(outputGradient));
        outputGradient.CopyTo(output.GradOrCreate().Span);
        for (int i = _backwardSteps.Count - 1; i >= 0; i--) _backwardSteps[i]();
        _backwardSteps.Clear();
    }

    /// <summary>Drops the recorded steps without running them.</summary>
    public void Clear() => _backwardSteps.Clear();

    /// <summary>Restores the previous tape when disposed.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly Tape? _previous;
        internal Scope(Tape? previous) => _previous = previous;
        /// <inheritdoc/>
        public void Dispose() => t_current = _previous;
    }
}
