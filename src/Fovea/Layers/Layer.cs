using System.Text.Json.Nodes;
using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>
/// Base of every layer. Lifecycle: the constructor validates the configuration; <see cref="Build"/> creates the
/// weights for a given input shape; <see cref="Forward"/> computes; <see cref="ComputeOutputShape"/> answers
/// without computing; <see cref="GetConfig"/> serializes the configuration. Shapes exclude the batch axis.
/// </summary>
public abstract class Layer
{
    private readonly List<Parameter> _parameters = new();
    private string? _name;

    /// <summary>Creates a layer; <paramref name="name"/> null lets the model assign a unique one.</summary>
    protected Layer(string? name)
    {
        if (name is not null) ValidateName(name);
        _name = name;
    }

    /// <summary>Unique name within a model, e.g. "conv2d_1".</summary>
    public string Name
    {
        get => _name ?? TypeName.ToLowerInvariant();
        internal set { ValidateName(value); _name = value; }
    }

    internal bool HasName => _name is not null;

    /// <summary>The model the layer was added to: its weights belong to that model, so no other may take (and rebuild) it.</summary>
    internal Models.Model? Owner { get; set; }

    /// <summary>Type name used in model files, e.g. "Conv2D".</summary>
    public abstract string TypeName { get; }

    /// <summary>False once frozen: weights keep their values and BatchNorm uses its running statistics.</summary>
    public bool Trainable { get; private set; } = true;

    /// <summary>True after <see cref="Build"/>.</summary>
    public bool IsBuilt { get; private set; }

    /// <summary>Per-sample input shapes given to <see cref="Build"/> (one per input).</summary>
    public IReadOnlyList<int[]> InputShapes { get; private set; } = [];

    /// <summary>Per-sample output shape, known after <see cref="Build"/>.</summary>
    public int[] OutputShape { get; private set; } = [];

    /// <summary>Weights and buffers, in a fixed order.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>Number of inputs the layer takes (1 except for merge layers).</summary>
    public virtual int InputCount => 1;

    /// <summary>
    /// Creates the weights for the given per-sample input shapes, drawing initial values from <paramref name="random"/>.
    /// A model builds the layers added to it; a layer in a model cannot be built again.
    /// </summary>
    public void Build(IReadOnlyList<int[]> inputShapes, Random random)
    {
        ArgumentNullException.ThrowIfNull(inputShapes);
        ArgumentNullException.ThrowIfNull(random);
        // New weights for other shapes under a model that still routes the old shapes through it: the model would break.
        if (Owner is not null)
            throw new InvalidOperationException($"Layer '{Name}' ({TypeName}) is in model '{Owner.Name}', which built it; building it again would replace the model's weights. Create a new layer instead.");
        if (inputShapes.Count != InputCount && InputCount >= 0)
            throw new ArgumentException($"Layer '{Name}' ({TypeName}) takes {InputCount} input(s); received {inputShapes.Count}.");
        OutputShape = ComputeOutputShape(inputShapes);
        _parameters.Clear();
        OnBuild(inputShapes, random);
        InputShapes = inputShapes.Select(s => (int[])s.Clone()).ToArray();
        IsBuilt = true;
        foreach (var p in _parameters) p.SyncRequiresGrad();
    }

    /// <summary>Creates the layer's parameters with <see cref="AddWeight"/> and <see cref="AddBuffer"/>.</summary>
    protected virtual void OnBuild(IReadOnlyList<int[]> inputShapes, Random random) { }

    /// <summary>Registers a learned weight of the given shape.</summary>
    protected Tensor AddWeight(string name, int[] shape, Initializer init, int fanIn, int fanOut, Random random)
    {
        Serialization.WeightBudget.Claim(Name, name, shape); // a model file being loaded: its tensors bound the size
        var t = new Tensor(shape);
        Initializers.Fill(t.Span, init, Math.Max(1, fanIn), Math.Max(1, fanOut), random);
        _parameters.Add(new Parameter(this, name, t, isBuffer: false));
        return t;
    }

    /// <summary>Registers saved, non-learned state (e.g. running statistics) filled with <paramref name="value"/>.</summary>
    protected Tensor AddBuffer(string name, int[] shape, float value)
    {
        Serialization.WeightBudget.Claim(Name, name, shape);
        var t = new Tensor(shape);
        t.Span.Fill(value);
        _parameters.Add(new Parameter(this, name, t, isBuffer: true));
        return t;
    }

    /// <summary>Per-sample output shape for the given per-sample input shapes; throws naming the layer when they do not fit.</summary>
    public abstract int[] ComputeOutputShape(IReadOnlyList<int[]> inputShapes);

    /// <summary>Computes the output for a batch. <paramref name="training"/> selects dropout and batch statistics.</summary>
    public abstract Tensor Forward(IReadOnlyList<Tensor> inputs, bool training);

    /// <summary>Floating-point operations (multiply and add counted separately) for one sample.</summary>
    public virtual long Flops(IReadOnlyList<int[]> inputShapes) => 0;

    /// <summary>The configuration (not the weights) as JSON; <see cref="LayerRegistry"/> rebuilds the layer from it.</summary>
    public abstract JsonObject GetConfig();

    /// <summary>Stops training of this layer's weights (and switches BatchNorm to its running statistics).</summary>
    public void Freeze() => SetTrainable(false);

    /// <summary>Lets the optimizer update this layer's weights again.</summary>
    public void Unfreeze() => SetTrainable(true);

    private void SetTrainable(bool value)
    {
        Trainable = value;
        foreach (var p in _parameters) p.SyncRequiresGrad();
    }

    /// <summary>Number of learned values (buffers excluded).</summary>
    public long ParameterCount => _parameters.Where(p => !p.IsBuffer).Sum(p => (long)p.Value.Length);

    /// <summary>Throws unless built, naming the layer.</summary>
    protected void EnsureBuilt()
    {
        if (!IsBuilt) throw new InvalidOperationException($"Layer '{Name}' ({TypeName}) is not built; add it to a model or call Build first.");
    }

    /// <summary>Throws naming the layer when an input's per-sample shape has the wrong rank.</summary>
    protected int[] RequireRank(IReadOnlyList<int[]> inputShapes, int rank, string expected)
    {
        var s = inputShapes[0];
        if (s.Length != rank)
            throw new ArgumentException($"Layer '{Name}' ({TypeName}) expects input {expected} per sample; received {Tensor.ShapeToString(s)}.");
        return s;
    }

    private static void ValidateName(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Contains('.') || name.Contains('/'))
            throw new ArgumentException($"Layer names must be non-empty without '.' or '/'. Received: '{name}'.");
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({TypeName})";
}

/// <summary>A layer with exactly one input.</summary>
public abstract class UnaryLayer : Layer
{
    /// <summary>Creates the layer.</summary>
    protected UnaryLayer(string? name) : base(name) { }

    /// <summary>Computes the output for a batch.</summary>
    public abstract Tensor Forward(Tensor input, bool training);

    /// <inheritdoc/>
    public sealed override Tensor Forward(IReadOnlyList<Tensor> inputs, bool training) => Forward(inputs[0], training);

    /// <summary>Per-sample output shape for one per-sample input shape.</summary>
    public abstract int[] ComputeOutputShape(int[] inputShape);

    /// <inheritdoc/>
    public sealed override int[] ComputeOutputShape(IReadOnlyList<int[]> inputShapes) => ComputeOutputShape(inputShapes[0]);

    /// <summary>FLOPs for one sample of the given per-sample input shape.</summary>
    public virtual long Flops(int[] inputShape) => 0;

    /// <inheritdoc/>
    public sealed override long Flops(IReadOnlyList<int[]> inputShapes) => Flops(inputShapes[0]);
}
