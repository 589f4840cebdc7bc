using Fovea.Layers;
using Fovea.Tensors;

namespace Fovea.Models;

// Working with the two stages separately: where the base ends, the top as a model of its own, and base + top joined
// into one model. These are the pieces of transfer learning (see Training/TransferLearning.cs).
public partial class Model
{
    /// <summary>
    /// The node where the base stage ends: the one node the top stage reads from (the model input when the model has
    /// only top layers), or <see cref="Output"/> when there is no top stage. Its output shape is the feature shape.
    /// </summary>
    /// <exception cref="InvalidOperationException">The top reads several base nodes, or a base layer reads a top layer.</exception>
    public Node BaseOutput
    {
        get
        {
            var topNodes = _nodes.Skip(1).Where(n => n.Stage == ModelStage.Top).ToList();
            if (topNodes.Count == 0) return Output;
            var lateBase = _nodes.Skip(1).FirstOrDefault(n => n.Stage == ModelStage.Base && n.InputIndices.Any(i => _nodes[i].Stage == ModelStage.Top));
            if (lateBase is not null)
                throw new InvalidOperationException($"Model '{Name}': base layer '{lateBase.Name}' reads the output of a top layer, so the base stage cannot run alone.");
            var feeds = topNodes.SelectMany(n => n.InputIndices).Distinct().Where(i => i == 0 || _nodes[i].Stage == ModelStage.Base).ToList();
            if (feeds.Count != 1)
                throw new InvalidOperationException(
                    $"Model '{Name}': the top stage reads {feeds.Count} base nodes ({string.Join(", ", feeds.Select(i => _nodes[i].Name))}); " +
                    "splitting base and top needs exactly one.");
            return _nodes[feeds[0]];
        }
    }

    /// <summary>
    /// The top stage as a model of its own: input shape = <see cref="BaseOutput"/>'s output shape, copies of the top
    /// layers with their current weights and frozen state, the same class names. Train it on features from
    /// <see cref="Training.TransferLearning.ExtractFeatures"/>, then join it to a base with <see cref="Combine"/>.
    /// </summary>
    /// <param name="name">Name of the new model; default "&lt;this name&gt;-top".</param>
    /// <exception cref="InvalidOperationException">The model has no top stage, or its stages cannot be split (see <see cref="BaseOutput"/>).</exception>
    public Model CopyTop(string? name = null)
    {
        var boundary = BaseOutput;
        if (!_nodes.Skip(1).Any(n => n.Stage == ModelStage.Top))
            throw new InvalidOperationException($"Model '{Name}' has no top stage to copy; add classifier layers with AddTop.");
        var top = new Model(boundary.OutputShape, name ?? $"{Name}-top", Seed) { ClassNames = ClassNames };
        var map = new Dictionary<int, Node> { [boundary.Index] = top.Input };
        foreach (var node in _nodes.Skip(1).Where(n => n.Stage == ModelStage.Top))
            map[node.Index] = top.AddCopy(node.Layer!, ModelStage.Top, node.InputIndices.Select(i => map[i]).ToArray());
        top.SetOutput(map[_outputIndex]);
        return top;
    }

    /// <summary>
    /// A feature extractor cut out of this model: copies of the layers that <paramref name="layerName"/>'s output depends
    /// on (weights and frozen state kept, all in the base stage), ending at that layer, with this model's input and
    /// normalisation and no class names. Use it as the base of <see cref="Combine"/> or
    /// <see cref="Training.TransferLearning.ExtractFeatures"/> to take features from an inner layer of a trained network.
    /// </summary>
    /// <exception cref="ArgumentException">No layer is called <paramref name="layerName"/>.</exception>
    public Model CopyUntil(string layerName, string? name = null)
    {
        var end = GetNode(layerName);
        var needed = new bool[_nodes.Count];
        needed[end.Index] = true;
        for (int i = end.Index; i > 0; i--)
            if (needed[i]) foreach (int j in _nodes[i].InputIndices) needed[j] = true;
        var result = new Model(InputShape, name ?? $"{Name}-until-{layerName}", Seed) { Normalization = Normalization };
        var map = new Dictionary<int, Node> { [0] = result.Input };
        for (int i = 1; i <= end.Index; i++)
            if (needed[i]) map[i] = result.AddCopy(_nodes[i].Layer!, ModelStage.Base, _nodes[i].InputIndices.Select(j => map[j]).ToArray());
        result.SetOutput(map[end.Index]);
        return result;
    }

    /// <summary>
    /// The part of this model that follows <paramref name="layerName"/>, as a model of its own: its input shape is that
    /// layer's output shape (e.g. [256, 14, 14] after ResNet-18's third stage), and it holds copies of every later layer the
    /// output depends on (weights, frozen state and stage kept), with the same class names and no input normalisation.
    /// With <see cref="CopyUntil"/> it splits a network in two, head and tail: for every x,
    /// <c>CopyAfter(L).Predict(CopyUntil(L).Predict(x))</c> equals <c>Predict(x)</c>. Fine-tuning trains such a tail
    /// (see <see cref="Training.TransferLearning.FineTune"/>).
    /// </summary>
    /// <param name="layerName">Layer after which to cut; "input" copies the whole network.</param>
    /// <param name="name">Name of the new model; default "&lt;this name&gt;-after-&lt;layerName&gt;".</param>
    /// <exception cref="ArgumentException">No layer is called <paramref name="layerName"/>; it is the output or comes after it;
    /// or a residual or skip connection crosses the cut (a later layer also reads a node before it), naming both layers.</exception>
    public Model CopyAfter(string layerName, string? name = null)
    {
        var cut = GetNode(layerName);
        if (cut.Index >= _outputIndex)
            throw new ArgumentException(cut.Index == _outputIndex
                ? $"Cannot cut model '{Name}' after '{layerName}': it is the model's output, so nothing follows it."
                : $"Cannot cut model '{Name}' after '{layerName}': it comes after the model's output '{Output.Name}'.");
        // The nodes the output needs, followed back no further than the cut.
        var needed = new bool[_nodes.Count];
        needed[_outputIndex] = true;
        for (int i = _outputIndex; i > cut.Index; i--)
            if (needed[i]) foreach (int j in _nodes[i].InputIndices) needed[j] = true;
        for (int i = cut.Index + 1; i <= _outputIndex; i++)
        {
            if (!needed[i]) continue;
            foreach (int j in _nodes[i].InputIndices)
                if (j < cut.Index)
                    throw new ArgumentException(
                        $"Cannot cut model '{Name}' after '{layerName}': layer '{_nodes[i].Name}' after the cut also reads '{_nodes[j].Name}', " +
                        "which comes before it (a residual or skip connection crosses the cut). Cut at a node every path goes through, such as the output of a residual block.");
        }
        var result = new Model(cut.OutputShape, name ?? $"{Name}-after-{layerName}", Seed) { ClassNames = ClassNames };
        if (cut.Index == 0) result.Normalization = Normalization;
        var map = new Dictionary<int, Node> { [cut.Index] = result.Input };
        for (int i = cut.Index + 1; i <= _outputIndex; i++)
            if (needed[i]) map[i] = result.AddCopy(_nodes[i].Layer!, _nodes[i].Stage, _nodes[i].InputIndices.Select(j => map[j]).ToArray());
        result.SetOutput(map[_outputIndex]);
        return result;
    }

    /// <summary>
    /// One model made of copies of <paramref name="baseModel"/>'s base stage (its layers up to <see cref="BaseOutput"/>,
    /// weights and frozen state kept, all in the base stage) followed by copies of every layer of <paramref name="top"/>
    /// (in the top stage). The result takes <paramref name="baseModel"/>'s input and normalisation and
    /// <paramref name="top"/>'s class names (when it has none, <paramref name="baseModel"/>'s if they are as many as the
    /// outputs). A top layer whose name is already taken by a base layer is renamed.
    /// </summary>
    /// <param name="baseModel">Feature extractor, e.g. a pretrained network; any top stage it has is left out.</param>
    /// <param name="top">Classifier whose input shape equals the base's feature shape (<c>baseModel.BaseOutput.OutputShape</c>).</param>
    /// <param name="name">Name of the result; default: <paramref name="baseModel"/>'s name.</param>
    /// <exception cref="ArgumentException">The shapes do not fit, or <paramref name="top"/> has its own input normalisation.</exception>
    public static Model Combine(Model baseModel, Model top, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(baseModel);
        ArgumentNullException.ThrowIfNull(top);
        var boundary = baseModel.BaseOutput;
        if (!boundary.OutputShape.AsSpan().SequenceEqual(top.InputShape))
            throw new ArgumentException(
                $"The top model '{top.Name}' takes input {Tensor.ShapeToString(top.InputShape)} but the base of '{baseModel.Name}' outputs " +
                $"{Tensor.ShapeToString(boundary.OutputShape)} per sample (at '{boundary.Name}').");
        if (top.Normalization is not null)
            throw new ArgumentException($"The top model '{top.Name}' has an input normalisation; it would be lost between base and top. Remove it or normalise inside the top.");
        var result = new Model(baseModel.InputShape, name ?? baseModel.Name, baseModel.Seed)
        {
            Normalization = baseModel.Normalization,
            ClassNames = top.ClassNames,
        };
        var fromBase = new Dictionary<int, Node> { [0] = result.Input };
        foreach (var node in baseModel._nodes.Skip(1).Take(boundary.Index).Where(n => n.Stage == ModelStage.Base))
            fromBase[node.Index] = result.AddCopy(node.Layer!, ModelStage.Base, node.InputIndices.Select(i => fromBase[i]).ToArray());
        var fromTop = new Dictionary<int, Node> { [0] = fromBase[boundary.Index] };
        foreach (var node in top._nodes.Skip(1))
            fromTop[node.Index] = result.AddCopy(node.Layer!, ModelStage.Top, node.InputIndices.Select(i => fromTop[i]).ToArray());
        result.SetOutput(fromTop[top._outputIndex]);
        // The base's names name the outputs of its own top, left out here: kept only when they still count the outputs.
        if (top.ClassNames.Count == 0 && baseModel.ClassNames.Count == result.OutputShape.Aggregate(1L, (a, b) => a * b))
            result.ClassNames = baseModel.ClassNames;
        return result;
    }

    /// <summary>Copies the weights of <paramref name="trainedTop"/> (made by <see cref="CopyTop"/>) back into this model's top layers.</summary>
    internal void LoadTopWeights(Model trainedTop)
    {
        var mine = StageLayers(ModelStage.Top).ToList();
        var theirs = trainedTop.Layers.ToList();
        if (mine.Count != theirs.Count)
            throw new ArgumentException($"Model '{trainedTop.Name}' has {theirs.Count} layers but the top of '{Name}' has {mine.Count}.");
        for (int l = 0; l < mine.Count; l++)
        {
            if (mine[l].TypeName != theirs[l].TypeName || mine[l].Parameters.Count != theirs[l].Parameters.Count)
                throw new ArgumentException($"Layer {l} of '{trainedTop.Name}' ({theirs[l]}) does not match top layer {mine[l]} of '{Name}'.");
            for (int p = 0; p < mine[l].Parameters.Count; p++) mine[l].Parameters[p].Value.CopyFrom(theirs[l].Parameters[p].Value.Span);
        }
    }

    /// <summary>
    /// Copies every weight and buffer of <paramref name="trained"/> (e.g. a tail made by <see cref="CopyAfter"/>) into this
    /// model's layer of the same name; the frozen state of this model's layers is left as it is.
    /// </summary>
    internal void LoadLayerWeights(Model trained)
    {
        foreach (var theirs in trained.Layers)
        {
            var mine = GetLayer(theirs.Name);
            if (mine.TypeName != theirs.TypeName || mine.Parameters.Count != theirs.Parameters.Count)
                throw new ArgumentException($"Layer '{theirs.Name}' of '{trained.Name}' ({theirs.TypeName}) does not match layer '{mine.Name}' of '{Name}' ({mine.TypeName}).");
            for (int p = 0; p < mine.Parameters.Count; p++)
            {
                if (!mine.Parameters[p].Value.Shape.AsSpan().SequenceEqual(theirs.Parameters[p].Value.Shape))
                    throw new ArgumentException($"Parameter '{theirs.Parameters[p].Name}' of '{trained.Name}' has shape {Tensor.ShapeToString(theirs.Parameters[p].Value.Shape)}; '{Name}' holds {Tensor.ShapeToString(mine.Parameters[p].Value.Shape)}.");
                mine.Parameters[p].Value.CopyFrom(theirs.Parameters[p].Value.Span);
            }
        }
    }

    /// <summary>
    /// Adds copies of <paramref name="source"/>'s layers (configuration, weights, frozen state, stage) after this model's
    /// output, and makes the copy of its output this model's output.
    /// </summary>
    internal void AppendCopies(Model source)
    {
        var map = new Node[source._nodes.Count];
        map[0] = Output;
        for (int i = 1; i < source._nodes.Count; i++)
        {
            var node = source._nodes[i];
            map[i] = AddCopy(node.Layer!, node.Stage, node.InputIndices.Select(j => map[j]).ToArray());
        }
        SetOutput(map[source._outputIndex]);
    }

    /// <summary>Adds a copy of <paramref name="source"/> (configuration, weights, frozen state), keeping its name when free.</summary>
    private Node AddCopy(Layer source, ModelStage stage, Node[] inputs)
    {
        string name = _byName.ContainsKey(source.Name) ? UniqueName(source.Name) : source.Name;
        var layer = LayerRegistry.Create(source.TypeName, source.GetConfig(), name);
        var node = Add(layer, stage, inputs);
        for (int p = 0; p < layer.Parameters.Count; p++) layer.Parameters[p].Value.CopyFrom(source.Parameters[p].Value.Span);
        if (!source.Trainable) layer.Freeze();
        return node;
    }
}
