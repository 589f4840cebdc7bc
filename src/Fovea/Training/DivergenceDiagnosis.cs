using Fovea.Autograd;
using Fovea.Models;
using Fovea.Tensors;

namespace Fovea.Training;

// "The loss became NaN" tells a user that something went wrong, not where. When a step's loss is not finite, the
// batch, the weights and the layer outputs are checked in the order a NaN or infinity can enter: bad data, weights
// that an earlier step overflowed, then the first layer whose output overflows with finite weights.

/// <summary>Names where a diverged training step first holds non-finite values.</summary>
internal static class DivergenceDiagnosis
{
    /// <summary>One clause for the error message: the input batch, a layer's weights, or the first layer whose output is not finite.</summary>
    public static string Describe(Model model, Tensor images)
    {
        if (!AllFinite(images.Span)) return "the input batch itself holds NaN or infinite values (check the data)";
        foreach (var node in model.Nodes)
        {
            if (node.Layer is null) continue;
            foreach (var p in node.Layer.Parameters)
                if (!AllFinite(p.Value.Span))
                    return $"the {p.LocalName} of layer '{node.Layer.Name}' ({node.Layer.TypeName}) holds NaN or infinite values after an earlier step";
        }
        var capture = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var node in model.Nodes) if (node.Layer is not null) capture[node.Name] = null!;
        Tensor output = Tape.NoGrad(() => model.Forward(images, training: false, capture));
        foreach (var node in model.Nodes)
        {
            if (node.Layer is null || capture[node.Name] is not { } value || AllFinite(value.Span)) continue;
            return $"layer '{node.Layer.Name}' ({node.Layer.TypeName}) is the first to output NaN or infinite values, from finite inputs and weights";
        }
        float largest = 0;
        foreach (float v in output.Span) largest = Math.Max(largest, Math.Abs(v));
        return $"every layer's output is finite (largest model output {largest:G3}), so the loss itself overflowed";
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values) if (!float.IsFinite(v)) return false;
        return true;
    }
}
