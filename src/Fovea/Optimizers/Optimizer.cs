using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Fovea.Layers;

namespace Fovea.Optimizers;

// Sorted by increasing complexity: SGD (momentum, Nesterov, weight decay), then Adam and AdamW,
// which differ only in how weight decay enters (L2 in the gradient vs decoupled shrinkage).

/// <summary>Updates parameters from their gradients. Keeps per-parameter state (velocity, moments) keyed by parameter.</summary>
public abstract class Optimizer
{
    private float _learningRate;
    private readonly SortedDictionary<string, Dictionary<Parameter, float[]>> _slots = new(StringComparer.Ordinal);
    private readonly List<Parameter> _stepping = [];
    private float? _clipNorm, _clipValue;

    /// <summary>Creates the optimizer with a positive learning rate.</summary>
    protected Optimizer(float learningRate) => LearningRate = learningRate;

    /// <summary>Current step size (schedules change it between steps).</summary>
    public float LearningRate
    {
        get => _learningRate;
        set
        {
            if (!(value >= 0f) || float.IsInfinity(value)) throw new ArgumentOutOfRangeException(nameof(value), value, $"Learning rate must be a finite value ≥ 0. Received: {value}.");
            _learningRate = value;
        }
    }

    /// <summary>
    /// Gradient clipping by global norm: before each <see cref="Step"/>, when the L2 norm of all the step's gradients taken
    /// together exceeds this, every gradient is scaled by ClipNorm / norm, so the update keeps its direction but not its
    /// size (PyTorch's clip_grad_norm_, Keras' global_clipnorm). Tames the occasional huge gradient of a bad batch or a
    /// high learning rate. A norm that is NaN or infinite is left alone: that run has diverged, which training reports.
    /// null (default): off. Saved with the settings in training checkpoints.
    /// </summary>
    public float? ClipNorm
    {
        get => _clipNorm;
        set => _clipNorm = value is null || (value > 0 && float.IsFinite(value.Value)) ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, $"ClipNorm must be a positive finite number or null (off). Received: {value}.");
    }

    /// <summary>
    /// Gradient clipping by value: before each <see cref="Step"/> (and before <see cref="ClipNorm"/>), every gradient
    /// element is clamped to [−ClipValue, ClipValue] (Keras' clipvalue). null (default): off.
    /// </summary>
    public float? ClipValue
    {
        get => _clipValue;
        set => _clipValue = value is null || (value > 0 && float.IsFinite(value.Value)) ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, $"ClipValue must be a positive finite number or null (off). Received: {value}.");
    }

    /// <summary>Number of steps taken.</summary>
    public int Steps { get; protected internal set; }

    /// <summary>Short name, e.g. "adam".</summary>
    public abstract string Name { get; }

    /// <summary>
    /// The hyperparameters other than the learning rate (e.g. Adam's betas), as saved in training checkpoints: resuming
    /// with an optimizer whose configuration differs is refused. Default: empty.
    /// </summary>
    public virtual JsonObject GetConfig() => new();

    /// <summary><see cref="GetConfig"/> with the clipping settings when they are on: what training checkpoints save and compare.</summary>
    internal JsonObject SavedConfig()
    {
        var config = GetConfig();
        if (_clipNorm is float norm) config["clip_norm"] = norm;
        if (_clipValue is float value) config["clip_value"] = value;
        return config;
    }

    /// <summary>The named per-parameter state stores (<see cref="Slot"/>), which training checkpoints save and restore.</summary>
    internal IReadOnlyDictionary<string, Dictionary<Parameter, float[]>> Slots => _slots;

    /// <summary>Applies one update to every trainable parameter that has a gradient.</summary>
    public void Step(IEnumerable<Parameter> parameters)
    {
        Steps++;
        if (_clipNorm is null && _clipValue is null)
        {
            foreach (var p in parameters)
                if (p.IsTrainable && p.Value.Grad is not null) Update(p);
            return;
        }
        // Clipping by norm needs every gradient before any update: collect them first (a reused list, no garbage per step).
        _stepping.Clear();
        foreach (var p in parameters)
            if (p.IsTrainable && p.Value.Grad is not null) _stepping.Add(p);
        ClipGradients(_stepping, _clipValue, _clipNorm);
        foreach (var p in _stepping) Update(p);
        _stepping.Clear();
    }

    /// <summary>
    /// Clamps every gradient of <paramref name="parameters"/> to ±<paramref name="clipValue"/> (when given), then scales
    /// them all by clipNorm / (norm + 1e-6) when their global L2 norm exceeds <paramref name="clipNorm"/>; returns that
    /// norm (after the value clipping, before the scaling).
    /// </summary>
    internal static double ClipGradients(IReadOnlyList<Parameter> parameters, float? clipValue, float? clipNorm)
    {
        if (clipValue is float v)
            foreach (var p in parameters) TensorPrimitives.Clamp(p.Value.Grad!.Span, -v, v, p.Value.Grad!.Span);
        double sumOfSquares = 0;
        foreach (var p in parameters) sumOfSquares += TensorPrimitives.SumOfSquares<float>(p.Value.Grad!.Span);
        double norm = Math.Sqrt(sumOfSquares);
        if (clipNorm is float max && norm > max && double.IsFinite(norm))
        {
            float scale = (float)(max / (norm + 1e-6));
            foreach (var p in parameters) TensorPrimitives.Multiply(p.Value.Grad!.Span, scale, p.Value.Grad!.Span);
        }
        return norm;
    }

    /// <summary>Sets the gradients of <paramref name="parameters"/> to zero.</summary>
    public static void ZeroGrad(IEnumerable<Parameter> parameters)
    {
        foreach (var p in parameters) p.Value.ZeroGrad();
    }

    /// <summary>Updates one parameter from its gradient.</summary>
    protected abstract void Update(Parameter p);

    /// <summary>
    /// A named per-parameter state store (e.g. "m", "velocity"), created empty on first call. Stores made here are saved in
    /// training checkpoints; state kept anywhere else is not, so resuming would silently reset it.
    /// </summary>
    protected Dictionary<Parameter, float[]> Slot(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name.Contains('/')) throw new ArgumentException($"Optimizer state names may not contain '/'. Received: '{name}'.", nameof(name));
        if (!_slots.TryGetValue(name, out var store)) _slots[name] = store = new Dictionary<Parameter, float[]>();
        return store;
    }

    /// <summary>
    /// Puts the per-parameter state back to <paramref name="saved"/> (copies taken earlier from <see cref="Slots"/>) and the
    /// step count to <paramref name="steps"/>: the stores are emptied and refilled in place, as subclasses hold them.
    /// </summary>
    internal void RestoreState(IReadOnlyDictionary<string, Dictionary<Parameter, float[]>> saved, int steps)
    {
        foreach (var (name, store) in _slots)
        {
            store.Clear();
            if (saved.TryGetValue(name, out var values))
                foreach (var (parameter, state) in values) store[parameter] = state;
        }
        Steps = steps;
    }

    /// <summary>Per-parameter state buffers, created zero-filled on first use.</summary>
    protected float[] State(Dictionary<Parameter, float[]> store, Parameter p)
    {
        if (!store.TryGetValue(p, out var s)) store[p] = s = new float[p.Value.Length];
        return s;
    }

    /// <summary>Creates an optimizer by name ("sgd", "adam", "adamw") with default hyperparameters, except SGD's momentum: 0.9 (the <see cref="Sgd"/> constructor's default is 0).</summary>
    public static Optimizer Create(string name, float learningRate) => (name ?? throw new ArgumentNullException(nameof(name))).ToLowerInvariant() switch
    {
        "sgd" => new Sgd(learningRate, momentum: 0.9f),
        "adam" => new Adam(learningRate),
        "adamw" => new AdamW(learningRate),
        _ => throw new ArgumentException($"Unknown optimizer '{name}'. Expected one of: sgd, adam, adamw."),
    };
}
