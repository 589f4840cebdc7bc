using Fovea.Models;

namespace Fovea.Onnx;

/// <summary>
/// One output of an imported ONNX graph: its name in the graph, the model node that computes it (pass it to
/// <see cref="Model.Predict(Tensors.Tensor, Node)"/>), and the element type the graph declares for it ("float", "int64", "bool", ...).
/// </summary>
public sealed record OnnxGraphOutput(string Name, Node Node, string DeclaredType);

/// <summary>
/// An imported ONNX graph (<see cref="OnnxImporter.ImportGraph(string, OnnxImportOptions?)"/>): the model and the node of
/// every graph output, in graph order. The first graph output is the model's <see cref="Model.Output"/>; the others are
/// nodes of the same model, computed on request. Fovea tensors are float32 whatever type the graph declares: an integer
/// output (MaxPool's int64 Indices) holds exact integers, a bool output (Dropout's mask) holds 1 for true and 0 for false.
/// </summary>
public sealed class OnnxImportResult
{
    internal OnnxImportResult(Model model, IReadOnlyList<OnnxGraphOutput> outputs)
    {
        Model = model;
        Outputs = outputs;
    }

    /// <summary>The imported model.</summary>
    public Model Model { get; }

    /// <summary>Every graph output, in graph order (the first is the model's output).</summary>
    public IReadOnlyList<OnnxGraphOutput> Outputs { get; }

    /// <summary>The node that computes the graph output named <paramref name="name"/>; throws an ArgumentException listing the names when there is none.</summary>
    public Node GetOutput(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var o in Outputs)
            if (o.Name == name) return o.Node;
        throw new ArgumentException($"The imported graph has no output named '{name}'. Graph outputs: {string.Join(", ", Outputs.Select(o => $"'{o.Name}'"))}.", nameof(name));
    }
}
