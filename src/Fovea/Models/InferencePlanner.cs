using Fovea.Kernels;
using Fovea.Layers;

namespace Fovea.Models;

// Turns a model graph into InferenceModel steps. A chain Conv2D → [BatchNorm2D] → [Add with an earlier value] → [ReLU]
// becomes one fused step when every intermediate value feeds only the next link (and is not the model output): the
// intermediates are then never needed, so they need not exist. The fused step takes the position of the chain's last
// node, where the residual operand of the Add is certain to have been computed.

internal static class InferencePlanner
{
    internal sealed record Result(InferenceModel.Step[] Steps, int FoldedBatchNorms);

    public static Result Plan(Model model, int outputIndex)
    {
        var nodes = model.Nodes;
        var consumers = new List<int>[nodes.Count];
        for (int i = 0; i < nodes.Count; i++) consumers[i] = [];
        for (int i = 1; i < nodes.Count; i++) foreach (int j in nodes[i].InputIndices) consumers[j].Add(i);

        var needed = NeededFor(model, outputIndex);
        var absorbed = new bool[nodes.Count];
        var claimed = new bool[nodes.Count]; // part of some chain already (an Add can be reached from both operands)
        var fusedAt = new Dictionary<int, InferenceModel.Step>();
        int folded = 0;
        for (int i = 1; i <= outputIndex; i++)
        {
            if (!needed[i] || nodes[i].Layer is not Conv2D conv) continue;
            // Follow the chain while the current value has exactly one consumer of the next fusable kind.
            int last = i, bn = -1, add = -1, residual = -1;
            bool relu = false;
            if (Next(last) is int b && nodes[b].Layer is BatchNorm2D) { bn = b; last = b; }
            if (Next(last) is int a && nodes[a].Layer is Add)
            {
                int other = nodes[a].InputIndices[0] == last ? nodes[a].InputIndices[1] : nodes[a].InputIndices[0];
                if (other != last) { add = a; residual = other; last = a; }
            }
            if (Next(last) is int r && nodes[r].Layer is ReLU) { relu = true; last = r; }
            if (last == i) continue; // a lone convolution: the general kernel does as well

            var (weight, bias) = Fold(conv, bn >= 0 ? (BatchNorm2D)nodes[bn].Layer! : null);
            if (bn >= 0) folded++;
            var geometry = conv.Geometry(conv.InputShapes[0]);
            var packed = new PackedConv2d(geometry, weight, bias);
            string kind = "Conv2D" + (bn >= 0 ? "+BatchNorm2D" : "") + (add >= 0 ? "+Add" : "") + (relu ? "+ReLU" : "") + $" ({packed.Algorithm})";
            fusedAt[last] = new InferenceModel.FusedConvolutionStep(last, nodes[i].InputIndices[0], residual, packed, nodes[i].OutputShape, relu)
                { Name = string.Join("+", new[] { i, bn, add, last }.Where(k => k >= 0).Distinct().Select(k => nodes[k].Name)), Kind = kind };
            foreach (int k in new[] { i, bn, add, last }) if (k >= 0) claimed[k] = true;
            foreach (int k in new[] { i, bn, add }) if (k >= 0 && k != last) absorbed[k] = true;
        }

        var steps = new List<InferenceModel.Step>();
        for (int i = 1; i <= outputIndex; i++)
        {
            if (!needed[i] || absorbed[i]) continue;
            steps.Add(fusedAt.TryGetValue(i, out var fused) ? fused
                : new InferenceModel.LayerStep(nodes[i], Snapshot(nodes[i].Layer!)) { Name = nodes[i].Name, Kind = nodes[i].Layer!.TypeName });
        }
        SetReleases(steps, outputIndex);
        return new Result(steps.ToArray(), folded);

        // The single consumer of value v, when v may disappear into a fused step.
        int? Next(int v) => v != outputIndex && consumers[v].Count == 1 && !claimed[consumers[v][0]] ? consumers[v][0] : null;
    }

    /// <summary>
    /// A copy of a layer with weights, so that training the model later does not change (or tear, mid-update) what the
    /// snapshot computes. Layers without weights have nothing that changes; a custom type that
    /// <see cref="LayerRegistry"/> cannot rebuild runs as it is.
    /// </summary>
    private static Layer Snapshot(Layer layer)
    {
        if (layer.Parameters.Count == 0) return layer;
        Layer copy;
        try { copy = LayerRegistry.Create(layer.TypeName, layer.GetConfig(), layer.Name); }
        catch (FormatException) { return layer; }
        copy.Build(layer.InputShapes, new Random(0));
        for (int p = 0; p < copy.Parameters.Count; p++) copy.Parameters[p].Value.CopyFrom(layer.Parameters[p].Value.Span);
        return copy;
    }

    /// <summary>Nodes the output depends on.</summary>
    private static bool[] NeededFor(Model model, int outputIndex)
    {
        var needed = new bool[model.Nodes.Count];
        var stack = new Stack<int>([outputIndex]);
        while (stack.Count > 0)
        {
            int i = stack.Pop();
            if (needed[i]) continue;
            needed[i] = true;
            foreach (int j in model.Nodes[i].InputIndices) stack.Push(j);
        }
        return needed;
    }

    /// <summary>Each value is released after the last step that reads it (never the output).</summary>
    private static void SetReleases(List<InferenceModel.Step> steps, int outputIndex)
    {
        var lastReader = new Dictionary<int, int>();
        for (int s = 0; s < steps.Count; s++) foreach (int j in steps[s].Inputs) lastReader[j] = s;
        var releases = new List<int>[steps.Count];
        for (int s = 0; s < steps.Count; s++) releases[s] = [];
        foreach (var (value, s) in lastReader) if (value != outputIndex) releases[s].Add(value);
        for (int s = 0; s < steps.Count; s++) steps[s].Release = releases[s].ToArray();
    }

    /// <summary>
    /// Filters and bias with an inference-mode BatchNorm folded in: with scale_k = γ_k / sqrt(var_k + ε),
    /// w'_k = scale_k · w_k and b'_k = scale_k · (b_k − mean_k) + β_k (computed in double).
    /// </summary>
    internal static (float[] Weight, float[] Bias) Fold(Conv2D conv, BatchNorm2D? bn)
    {
        var weight = conv.Weight.Span.ToArray();
        int filters = conv.Filters, perFilter = weight.Length / filters;
        var bias = new float[filters];
        if (conv.Bias is { } b) b.Span.CopyTo(bias);
        if (bn is null) return (weight, bias);
        var gamma = bn.Gamma.Span; var beta = bn.Beta.Span; var mean = bn.RunningMean.Span; var variance = bn.RunningVariance.Span;
        for (int k = 0; k < filters; k++)
        {
            double scale = gamma[k] / Math.Sqrt((double)variance[k] + bn.Epsilon);
            for (int i = k * perFilter; i < (k + 1) * perFilter; i++) weight[i] = (float)(weight[i] * scale);
            bias[k] = (float)(scale * (bias[k] - mean[k]) + beta[k]);
        }
        return (weight, bias);
    }
}
