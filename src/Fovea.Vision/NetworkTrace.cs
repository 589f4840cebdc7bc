using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Tensors;

namespace Fovea.Vision;

/// <summary>
/// One inference pass of a model on one image that keeps every node's output (batch of one), so each layer's
/// activations can be drawn, plus the gradient of a class score with respect to any node (for Grad-CAM).
/// The gradient pass re-runs only the layers after that node, with a tape, so it costs a fraction of a full backward.
/// </summary>
public sealed class NetworkTrace
{
    private readonly Tensor?[] _values;

    private NetworkTrace(Model model, Tensor rawInput, Tensor?[] values)
    {
        Model = model; RawInput = rawInput; _values = values;
    }

    /// <summary>The model.</summary>
    public Model Model { get; }
    /// <summary>The image as given, [1, C, H, W] (before the model's normalisation).</summary>
    public Tensor RawInput { get; }
    /// <summary>The input as the first layer sees it, [1, C, H, W] (after the model's normalisation, if any).</summary>
    public Tensor NetworkInput => _values[0]!;
    /// <summary>The model output, [1, classes].</summary>
    public Tensor Output => _values[Model.Output.Index]!;

    /// <summary>Output of the node named <paramref name="name"/> ("input" = the normalised input), batch axis included.</summary>
    public Tensor this[string name] => Value(Model.GetNode(name));

    /// <summary>Output of <paramref name="node"/>, batch axis included (e.g. [1, 32, 28, 28]).</summary>
    public Tensor Value(Node node) => _values[node.Index]
        ?? throw new ArgumentException($"Layer '{node.Name}' comes after the model output '{Model.Output.Name}' and was not computed.");

    /// <summary>
    /// Runs <paramref name="model"/> in inference mode (BatchNorm running statistics, no dropout) on
    /// <paramref name="image"/> [C, H, W] or [1, C, H, W] with values as the model expects before its own normalisation.
    /// </summary>
    public static NetworkTrace Run(Model model, Tensor image)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(image);
        var x = image.Rank == model.InputShape.Length ? image.View([1, .. image.Shape]) : image;
        if (x.Rank != model.InputShape.Length + 1 || x.Dim(0) != 1 || !x.Shape.AsSpan(1).SequenceEqual(model.InputShape))
            throw new ArgumentException($"Model '{model.Name}' expects one image {Tensor.ShapeToString(model.InputShape)}; received {Tensor.ShapeToString(image.Shape)}.");
        int last = model.Output.Index;
        var values = new Tensor?[model.Nodes.Count];
        Tape.NoGrad(() =>
        {
            values[0] = model.Normalization is { } n ? Ops.NormalizeChannels(x, n.Mean, n.Std) : x;
            for (int i = 1; i <= last; i++) values[i] = Apply(model.Nodes[i], values);
            return 0;
        });
        return new NetworkTrace(model, x, values);
    }

    private static Tensor Apply(Node node, Tensor?[] values)
    {
        var inputs = new Tensor[node.InputIndices.Count];
        for (int j = 0; j < inputs.Length; j++) inputs[j] = values[node.InputIndices[j]]!;
        return node.Layer!.Forward(inputs, training: false);
    }

    /// <summary>The node whose output is the class score: the model output, or its input when the model ends in Softmax/Sigmoid (Grad-CAM explains scores, not probabilities).</summary>
    public Node ScoreNode => NetworkVisualizer.ScoreNode(Model);

    /// <summary>Class scores [classes] (logits; the input of a final Softmax).</summary>
    public float[] Scores => Value(ScoreNode).ToArray();

    /// <summary>
    /// d score[<paramref name="classIndex"/>] / d output of <paramref name="node"/>, same shape as that output.
    /// Layers before the node are not re-run; parameter gradients are not touched.
    /// </summary>
    public Tensor GradientOfScore(Node node, int classIndex)
    {
        int classes = Value(ScoreNode).Length;
        if ((uint)classIndex >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(classIndex), classIndex, $"Class index must be in [0, {classes}). Received: {classIndex}.");
        var seed = new float[classes];
        seed[classIndex] = 1f;
        return GradientOfScores(node, seed);
    }

    /// <summary>
    /// Σ_c scoreGradient[c] · d score[c] / d output of <paramref name="node"/> (a vector-Jacobian product), same shape as
    /// that output. E.g. one-hot(c) − softmax gives the gradient of log p(c).
    /// </summary>
    public Tensor GradientOfScores(Node node, float[] scoreGradient)
    {
        var score = ScoreNode;
        int classes = Value(score).Length;
        if (scoreGradient.Length != classes) throw new ArgumentException($"Need one gradient value per class ({classes}); received {scoreGradient.Length}.");
        if (node.Index >= score.Index) throw new ArgumentException($"Layer '{node.Name}' does not come before the class scores ('{score.Name}').");

        // Which later nodes depend on the chosen one: only they are re-run with the tape.
        var depends = new bool[score.Index + 1];
        depends[node.Index] = true;
        for (int i = node.Index + 1; i <= score.Index; i++)
            foreach (int j in Model.Nodes[i].InputIndices) depends[i] |= depends[j];
        if (!depends[score.Index]) throw new ArgumentException($"The class scores do not depend on layer '{node.Name}'.");

        var values = (Tensor?[])_values.Clone();
        var leaf = Value(node).Clone();
        leaf.RequiresGrad = true;
        values[node.Index] = leaf;

        // Weights keep RequiresGrad = false during the pass so backward computes (and accumulates) no weight gradients.
        var parameters = Enumerable.Range(node.Index + 1, score.Index - node.Index).Where(i => depends[i])
            .SelectMany(i => Model.Nodes[i].Layer!.Parameters).Select(p => p.Value).Where(t => t.RequiresGrad).ToList();
        foreach (var p in parameters) p.RequiresGrad = false;
        try
        {
            var tape = new Tape();
            using (tape.Record())
                for (int i = node.Index + 1; i <= score.Index; i++)
                    if (depends[i]) values[i] = Apply(Model.Nodes[i], values);
            tape.Backward(values[score.Index]!, scoreGradient);
            return leaf.Grad?.Clone() ?? new Tensor(leaf.Shape);
        }
        finally
        {
            foreach (var p in parameters) p.RequiresGrad = true;
        }
    }
}
