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

    /// <summary>Number of steps taken.</summary>
    public int Steps { get; protected internal set; }

    /// <summary>Short name, e.g. "adam".</summary>
    public abstract string Name { get; }

    /// <summary>
    /// The hyperparameters other than the learning rate (e.g. Adam's betas), as saved in training checkpoints: resuming
    /// with an optimizer whose configuration differs is refused. Default: empty.
    /// </summary>
    public virtual JsonObject GetConfig() => new();

    /// <summary>The named per-parameter state stores (<see cref="Slot"/>), which training checkpoints save and restore.</summary>
    internal IReadOnlyDictionary<string, Dictionary<Parameter, float[]>> Slots => _slots;

    /// <summary>Applies one update to every trainable parameter that has a gradient.</summary>
    public void Step(IEnumerable<Parameter> parameters)
    {
        Steps++;
        foreach (var p in parameters)
            if (p.IsTrainable && p.Value.Grad is not null) Update(p);
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
