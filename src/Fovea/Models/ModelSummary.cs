using System.Text;
using Fovea.Tensors;

namespace Fovea.Models;

/// <summary>One row of a model summary.</summary>
public sealed record LayerSummary(string Name, string Type, ModelStage Stage, int[] OutputShape, long Parameters, long Flops, bool Trainable, string[] Inputs)
{
    /// <summary>How much of the input one output position sees (null where not modelled, e.g. after a resize).</summary>
    public ReceptiveField? ReceptiveField { get; init; }
}

/// <summary>Per-layer output shape, parameter count and FLOPs (per sample, multiply and add counted separately), plus totals.</summary>
public sealed record ModelSummary(string Name, int[] InputShape, IReadOnlyList<LayerSummary> Layers)
{
    /// <summary>Learned values in all layers.</summary>
    public long TotalParameters => Layers.Sum(l => l.Parameters);
    /// <summary>Learned values in layers that are not frozen.</summary>
    public long TrainableParameters => Layers.Where(l => l.Trainable).Sum(l => l.Parameters);
    /// <summary>FLOPs of one forward pass of one sample.</summary>
    public long TotalFlops => Layers.Sum(l => l.Flops);

    /// <summary>A fixed-width text table.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Model: {Name}    input {Tensor.ShapeToString(InputShape)}");
        string header = $"{"Layer (type)",-34} {"Stage",-5} {"Output shape",-16} {"Params",12} {"FLOPs",14} {"Sees",9}";
        sb.AppendLine(header).AppendLine(new string('-', header.Length));
        foreach (var l in Layers)
            sb.AppendLine($"{Truncate($"{l.Name} ({l.Type}){(l.Trainable ? "" : " *")}", 34),-34} {(l.Stage == ModelStage.Base ? "base" : "top"),-5} {Tensor.ShapeToString(l.OutputShape),-16} {l.Parameters,12:N0} {l.Flops,14:N0} {l.ReceptiveField?.ToString() ?? "-",9}");
        sb.AppendLine(new string('-', header.Length));
        sb.AppendLine($"Total params: {TotalParameters:N0}   trainable: {TrainableParameters:N0}   frozen: {TotalParameters - TrainableParameters:N0}");
        sb.AppendLine($"Total FLOPs per image (forward): {TotalFlops:N0}");
        sb.AppendLine("Sees: the receptive field, input pixels one output position depends on (all: the whole input)");
        if (Layers.Any(l => !l.Trainable)) sb.AppendLine("* frozen");
        return sb.ToString();
    }

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";
}

public partial class Model
{
    /// <summary>
    /// Layer, output shape, parameter count, FLOPs and receptive field per layer, plus totals. <c>ToString()</c> prints a table.
    /// </summary>
    public ModelSummary Summary()
    {
        // Receptive fields in node order: every node's inputs come before it.
        var fields = new ReceptiveField?[Nodes.Count];
        fields[0] = InputShape.Length == 3 ? ReceptiveField.Pixel : null;
        return new(Name, InputShape, Nodes.Skip(1).Select(n =>
        {
            var shapes = n.InputIndices.Select(i => Nodes[i].OutputShape).ToArray();
            fields[n.Index] = ReceptiveField.Of(n, n.InputIndices.Select(i => fields[i]).ToArray(), shapes);
            return new LayerSummary(n.Name, n.Layer!.TypeName, n.Stage, n.OutputShape, n.Layer.ParameterCount, n.Layer.Flops(shapes),
                n.Layer.Trainable, n.InputIndices.Select(i => Nodes[i].Name).ToArray()) { ReceptiveField = fields[n.Index] };
        }).ToList());
    }
}
