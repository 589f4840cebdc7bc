using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Tensors;

namespace Fovea.Models;

/// <summary>The two named parts of a CNN.</summary>
public enum ModelStage
{
    /// <summary>Feature extractor: convolution and pooling blocks.</summary>
    Base,
    /// <summary>Classifier: dense layers ending in class scores.</summary>
    Top,
}

/// <summary>A node of a model graph: the input, or a layer applied to earlier nodes.</summary>
public sealed class Node
{
    internal Node(int index, Layer? layer, int[] inputs, ModelStage stage)
    {
        Index = index; Layer = layer; InputIndices = inputs; Stage = stage;
    }

    /// <summary>Position in evaluation order (0 = the model input).</summary>
    public int Index { get; }
    /// <summary>The layer, or null for the model input.</summary>
    public Layer? Layer { get; }
    /// <summary>Indices of the nodes feeding this one.</summary>
    public IReadOnlyList<int> InputIndices { get; }
    /// <summary>Base (feature extractor) or top (classifier).</summary>
    public ModelStage Stage { get; }
    /// <summary>Layer name, or "input".</summary>
    public string Name => Layer?.Name ?? "input";
    /// <summary>Per-sample output shape.</summary>
    public int[] OutputShape { get; internal set; } = [];
}

/// <summary>Per-channel input normalisation stored with a model: x' = (x - mean[c]) / std[c].</summary>
public sealed record InputNormalization(float[] Mean, float[] Std);

/// <summary>
/// A network as a graph of layers (branches and residual connections allowed), evaluated in the order nodes were added.
/// Each layer belongs to a stage: <see cref="ModelStage.Base"/> (feature extractor) or <see cref="ModelStage.Top"/>
/// (classifier). Layers are built as they are added, so shapes are checked at once.
/// Inference (<see cref="Predict(Tensor)"/>) may run on many threads at once.
/// </summary>
public partial class Model
{
    private readonly List<Node> _nodes = new();
    private readonly Dictionary<string, Node> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _typeCounts = new(StringComparer.Ordinal);
    private int _outputIndex;

    /// <summary>
    /// Creates an empty model for per-sample inputs of <paramref name="inputShape"/> (e.g. [1, 28, 28]); the seed fixes
    /// initial weights. A dimension may be 0 (samples without values, as in ONNX graphs of empty tensors): layers that
    /// only move values take it, layers that compute over a sample's values refuse it when added.
    /// </summary>
    public Model(int[] inputShape, string name = "model", int seed = 0)
    {
        if (inputShape is null || inputShape.Length == 0 || inputShape.Any(d => d < 0))
            throw new ArgumentException($"Model input shape must have at least one axis and no negative dimension. Received: {(inputShape is null ? "null" : Tensor.ShapeToString(inputShape))}.");
        Name = name; Seed = seed; InputShape = (int[])inputShape.Clone();
        var input = new Node(0, null, [], ModelStage.Base) { OutputShape = InputShape };
        _nodes.Add(input);
        _byName["input"] = input;
    }

    /// <summary>Model name.</summary>
    public string Name { get; set; }
    /// <summary>Seed of the initial weights (layer i draws from a stream derived from seed and i).</summary>
    public int Seed { get; }
    /// <summary>Per-sample input shape [C, H, W].</summary>
    public int[] InputShape { get; }
    /// <summary>
    /// Class names of the outputs (optional, saved with the model): none, or one per output value. The count is checked
    /// when the model is saved, as layers may still be added after the names are set.
    /// </summary>
    public IReadOnlyList<string> ClassNames
    {
        get => _classNames;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            for (int i = 0; i < value.Count; i++)
                if (value[i] is null) throw new ArgumentException($"Class name {i} of {value.Count} is null; every class needs a name.", nameof(value));
            _classNames = value;
        }
    }
    private IReadOnlyList<string> _classNames = [];

    /// <summary>Throws naming both counts unless there are no class names or one per output value (what a model file may hold).</summary>
    internal void CheckClassNamesFitOutputs()
    {
        long outputs = OutputShape.Aggregate(1L, (a, b) => a * b);
        if (_classNames.Count != 0 && _classNames.Count != outputs)
            throw new ArgumentException($"Model '{Name}' has {_classNames.Count} class name(s) for {outputs} output(s) {Tensor.ShapeToString(OutputShape)}; " +
                "set one name per output, or none.");
    }
    /// <summary>
    /// Normalisation applied to inputs before the first layer (optional, saved with the model): one mean and one
    /// positive, finite deviation per input channel (InputShape[0]).
    /// </summary>
    public InputNormalization? Normalization
    {
        get => _normalization;
        set
        {
            if (value is not null)
            {
                int channels = InputShape.Length > 0 ? InputShape[0] : 1;
                if (value.Mean is null || value.Std is null)
                    throw new ArgumentException($"Normalization needs {channels} means and {channels} deviations; received {(value.Mean is null ? "null" : value.Mean.Length.ToString())} means and {(value.Std is null ? "null" : value.Std.Length.ToString())} deviations.", nameof(value));
                if (value.Mean.Length != channels || value.Std.Length != channels)
                    throw new ArgumentException($"Normalization has {value.Mean.Length} means and {value.Std.Length} deviations but the input {Tensors.Tensor.ShapeToString(InputShape)} has {channels} channels.", nameof(value));
                foreach (float d in value.Std)
                    if (!(float.IsFinite(d) && d > 0f)) throw new ArgumentException($"Normalization deviations must be positive and finite. Received: {d}.", nameof(value));
                foreach (float m in value.Mean)
                    if (!float.IsFinite(m)) throw new ArgumentException($"Normalization means must be finite. Received: {m}.", nameof(value));
            }
            _normalization = value;
        }
    }
    private InputNormalization? _normalization;

    /// <summary>The input node.</summary>
    public Node Input => _nodes[0];
    /// <summary>The output node (default: the last added).</summary>
    public Node Output => _nodes[_outputIndex];
    /// <summary>Per-sample output shape.</summary>
    public int[] OutputShape => Output.OutputShape;
    /// <summary>All nodes in evaluation order, input first.</summary>
    public IReadOnlyList<Node> Nodes => _nodes;
    /// <summary>The layers in evaluation order.</summary>
    public IEnumerable<Layer> Layers => _nodes.Skip(1).Select(n => n.Layer!);

    /// <summary>Adds <paramref name="layer"/> applied to <paramref name="inputs"/> (default: the current output) in the given stage; returns its node.</summary>
    public Node Add(Layer layer, ModelStage stage, params Node[] inputs)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (ReferenceEquals(layer.Owner, this))
            throw new ArgumentException($"Layer '{layer.Name}' is already in model '{Name}'; create a new layer to apply it again.");
        // Adding it here would rebuild it for this model's shapes, silently replacing the weights the other model uses.
        if (layer.Owner is { } owner)
            throw new ArgumentException($"Layer '{layer.Name}' ({layer.TypeName}) already belongs to model '{owner.Name}'; a layer can be in one model only. " +
                "Create a new layer, or copy a model's layers with CopyUntil, CopyAfter, CopyTop or Combine.");
        if (inputs is null || inputs.Length == 0) inputs = [Output];
        foreach (var i in inputs) CheckOwnNode(i);
        if (!layer.HasName) layer.Name = UniqueName(layer.TypeName.ToLowerInvariant());
        else if (_byName.ContainsKey(layer.Name))
            throw new ArgumentException($"Model '{Name}' already has a layer named '{layer.Name}'.");
        var shapes = inputs.Select(n => n.OutputShape).ToArray();
        layer.Build(shapes, new Random(LayerSeed(Seed, _nodes.Count)));
        layer.Owner = this;
        var node = new Node(_nodes.Count, layer, inputs.Select(n => n.Index).ToArray(), stage) { OutputShape = layer.OutputShape };
        _nodes.Add(node);
        _byName[layer.Name] = node;
        _outputIndex = node.Index;
        return node;
    }

    /// <summary>Adds a feature-extractor layer (see <see cref="Add(Layer, ModelStage, Node[])"/>).</summary>
    public Node Add(Layer layer, params Node[] inputs) => Add(layer, ModelStage.Base, inputs);

    /// <summary>Adds a classifier layer.</summary>
    public Node AddTop(Layer layer, params Node[] inputs) => Add(layer, ModelStage.Top, inputs);

    private void CheckOwnNode(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node.Index >= _nodes.Count || !ReferenceEquals(_nodes[node.Index], node))
            throw new ArgumentException($"Node '{node.Name}' does not belong to model '{Name}'.");
    }

    /// <summary>Makes <paramref name="node"/> the model output.</summary>
    public void SetOutput(Node node)
    {
        CheckOwnNode(node);
        _outputIndex = node.Index;
    }

    /// <summary>
    /// The seed of layer <paramref name="index"/>'s initial weights: a fixed mix (splitmix64) of the model seed and the
    /// index. Not HashCode.Combine, which is randomised per process and would make seeded runs differ between runs.
    /// </summary>
    internal static int LayerSeed(int modelSeed, int index)
    {
        ulong z = (ulong)(uint)modelSeed * 0x9E3779B97F4A7C15UL + (ulong)index + 0x632BE59BD9B4E019UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)((z ^ (z >> 31)) & int.MaxValue);
    }

    private string UniqueName(string baseName)
    {
        _typeCounts.TryGetValue(baseName, out int count);
        string name;
        do { name = count == 0 ? baseName : $"{baseName}_{count}"; count++; } while (_byName.ContainsKey(name));
        _typeCounts[baseName] = count;
        return name;
    }

    /// <summary>The layer named <paramref name="name"/>; throws listing the names when absent.</summary>
    public Layer GetLayer(string name) => GetNode(name).Layer ?? throw new ArgumentException("'input' is the model input, not a layer.");

    /// <summary>The node named <paramref name="name"/> ("input" for the input).</summary>
    public Node GetNode(string name) => _byName.TryGetValue(name, out var node) ? node
        : throw new ArgumentException($"Model '{Name}' has no layer named '{name}'. Layers: {string.Join(", ", Layers.Select(l => l.Name))}.");

    /// <summary>All weights and buffers, layer by layer.</summary>
    public IEnumerable<Parameter> Parameters => Layers.SelectMany(l => l.Parameters);

    /// <summary>Weights the optimizer updates (not frozen, not buffers).</summary>
    public IEnumerable<Parameter> TrainableParameters => Parameters.Where(p => p.IsTrainable);

    /// <summary>Layers of one stage.</summary>
    public IEnumerable<Layer> StageLayers(ModelStage stage) => _nodes.Skip(1).Where(n => n.Stage == stage).Select(n => n.Layer!);

    /// <summary>Freezes every layer of a stage (e.g. a pretrained base model).</summary>
    public void Freeze(ModelStage stage) { foreach (var l in StageLayers(stage)) l.Freeze(); }

    /// <summary>Unfreezes every layer of a stage.</summary>
    public void Unfreeze(ModelStage stage) { foreach (var l in StageLayers(stage)) l.Unfreeze(); }

    /// <summary>Number of learned values.</summary>
    public long ParameterCount => Layers.Sum(l => l.ParameterCount);

    /// <summary>
    /// Runs the network on a batch x [N, ...InputShape]. training = true uses dropout and batch statistics (and, with a
    /// recording tape, records gradients). Named activations listed in <paramref name="capture"/> (its keys: layer names,
    /// or "input" for the normalised input) are handed back in it.
    /// </summary>
    /// <exception cref="ArgumentException">A key of <paramref name="capture"/> names no node of the model.</exception>
    public Tensor Forward(Tensor x, bool training = false, IDictionary<string, Tensor>? capture = null)
    {
        // A misspelt name would otherwise come back as null, to fail far from the mistake.
        if (capture is not null)
            foreach (var key in capture.Keys)
                if (!_byName.ContainsKey(key))
                    throw new ArgumentException($"Cannot capture '{key}': model '{Name}' has no layer of that name. Layers: input, {string.Join(", ", Layers.Select(l => l.Name))}.", nameof(capture));
        return ForwardTo(x, _outputIndex, training, capture);
    }

    /// <summary>As <see cref="Forward"/>, returning the value of <paramref name="node"/> (nodes after it do not run).</summary>
    internal Tensor ForwardTo(Tensor x, Node node, bool training)
    {
        CheckOwnNode(node);
        return ForwardTo(x, node.Index, training, null);
    }

    /// <summary>Runs the nodes in order up to <paramref name="outputIndex"/> (further when capturing) and returns its value.</summary>
    private Tensor ForwardTo(Tensor x, int outputIndex, bool training, IDictionary<string, Tensor>? capture)
    {
        CheckInput(x);
        var values = new Tensor?[_nodes.Count];
        values[0] = Normalization is null ? x : Ops.NormalizeChannels(x, Normalization.Mean, Normalization.Std);
        if (capture is not null && capture.ContainsKey("input")) capture["input"] = values[0]!;
        if (outputIndex == 0 && capture is null) return values[0]!;
        var plan = Plan();
        for (int i = 1; i < _nodes.Count; i++)
        {
            var node = _nodes[i];
            int first = i;
            if (plan.ReluAfter[i] && i != outputIndex && (capture is null || !capture.ContainsKey(node.Name)))
            {
                // Convolution whose only consumer is a ReLU: one fused op gives the ReLU node's value; the
                // convolution's own value is never needed, so it is never materialised.
                node = _nodes[++i];
                values[i] = ((Layers.Conv2D)_nodes[i - 1].Layer!).ForwardWithRelu(values[_nodes[i - 1].InputIndices[0]]!);
            }
            else
            {
                var inputs = new Tensor[node.InputIndices.Count];
                for (int j = 0; j < inputs.Length; j++) inputs[j] = values[node.InputIndices[j]]!;
                values[i] = node.Layer!.Forward(inputs, training);
            }
            if (capture is not null && capture.ContainsKey(node.Name)) capture[node.Name] = values[i]!;
            // Without a tape nothing holds intermediates: drop them once their last consumer ran.
            if (Tape.Current is null)
                for (int k = first; k <= i; k++)
                    foreach (int j in _nodes[k].InputIndices) if (plan.LastUse[j] == k && j != outputIndex) values[j] = null;
            if (i == outputIndex && capture is null) break;
        }
        return values[outputIndex]!;
    }

    /// <summary>Per node: the last node reading it, and whether it is a convolution whose only consumer is the next node, a ReLU.</summary>
    private sealed record ForwardPlan(int[] LastUse, bool[] ReluAfter);

    private ForwardPlan? _plan;

    // Layers are only ever appended, so a plan for the current node count is current. Racing threads may each build
    // one; both are identical.
    private ForwardPlan Plan()
    {
        var plan = _plan;
        if (plan is not null && plan.LastUse.Length == _nodes.Count) return plan;
        int count = _nodes.Count;
        var last = new int[count];
        var consumers = new int[count];
        for (int i = 1; i < count; i++)
            foreach (int j in _nodes[i].InputIndices) { last[j] = i; consumers[j]++; }
        var reluAfter = new bool[count];
        for (int i = 1; i + 1 < count; i++)
            reluAfter[i] = _nodes[i].Layer is Layers.Conv2D && _nodes[i + 1].Layer is Layers.ReLU
                && consumers[i] == 1 && _nodes[i + 1].InputIndices.Count == 1 && _nodes[i + 1].InputIndices[0] == i;
        return _plan = new ForwardPlan(last, reluAfter);
    }

    /// <summary>Inference without gradients: x [N, ...InputShape] → outputs [N, ...OutputShape]. Safe to call from many threads.</summary>
    public Tensor Predict(Tensor x) => Predict(x, Output);

    /// <summary>
    /// Inference up to <paramref name="output"/> (any node of this model, e.g. <see cref="BaseOutput"/>): x [N, ...InputShape]
    /// → [N, ...output.OutputShape]. Later nodes are not computed. Safe to call from many threads.
    /// </summary>
    public Tensor Predict(Tensor x, Node output)
    {
        CheckOwnNode(output);
        // Intermediates come from this thread's arena and are recycled; only the result is a fresh tensor.
        var arena = t_inferenceArena ??= new TensorArena();
        Tensor result;
        try
        {
            Tensor y;
            using (arena.Activate()) y = Tape.NoGrad(() => ForwardTo(x, output.Index, training: false, capture: null));
            result = Tensor.FromArray(y.Span, y.Shape);
        }
        finally { arena.ReleaseAll(); }
        return result;
    }

    [ThreadStatic] private static TensorArena? t_inferenceArena;

    /// <summary>
    /// A snapshot of this model prepared for fast inference: BatchNorm folded into convolutions, residual adds and ReLU
    /// fused, filters packed once. Re-create it after the weights change.
    /// </summary>
    public InferenceModel ToInference() => new(this, Output);

    /// <summary>As <see cref="ToInference()"/>, computing the value of <paramref name="output"/> (e.g. <see cref="BaseOutput"/> for features).</summary>
    public InferenceModel ToInference(Node output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (output.Index >= _nodes.Count || _nodes[output.Index] != output)
            throw new ArgumentException($"Node '{output.Name}' is not a node of model '{Name}'.", nameof(output));
        return new(this, output);
    }

    /// <summary>Class probabilities [N, classes]: softmax of the outputs, unless the model already ends in Softmax or Sigmoid
    /// (or an AxisSoftmax over all of a sample's values).</summary>
    public Tensor PredictProbabilities(Tensor x)
    {
        var y = Predict(x);
        if (EndsInProbabilities(Output)) return y.Rank == 2 ? y : y.View(y.Dim(0), y.SampleLength);
        return Tape.NoGrad(() => Ops.Softmax(y.Rank == 2 ? y : y.View(y.Dim(0), y.SampleLength)));
    }

    /// <summary>
    /// Whether <paramref name="output"/>'s values are already probabilities, which a second softmax would flatten towards
    /// uniform: a Softmax or Sigmoid, or an AxisSoftmax (e.g. imported from ONNX) over all of a sample's values.
    /// </summary>
    internal static bool EndsInProbabilities(Node output) => output.Layer is Fovea.Layers.Sigmoid || IsSoftmaxOverSample(output);

    /// <summary>A Softmax, or an AxisSoftmax (e.g. imported from ONNX) over all of a sample's values, of one input.</summary>
    internal static bool IsSoftmaxOverSample(Node node) => node.InputIndices.Count == 1 && (node.Layer is Fovea.Layers.Softmax
        || (node.Layer is Fovea.Layers.AxisSoftmax softmax && softmax.GivesOneDistribution(softmax.InputShapes[0])));

    private void CheckInput(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != InputShape.Length + 1 || !x.Shape.AsSpan(1).SequenceEqual(InputShape))
            throw new ArgumentException($"Model '{Name}' expects input [N, {string.Join(", ", InputShape)}]; received {Tensor.ShapeToString(x.Shape)}.");
    }
}
