using Fovea.Layers;

namespace Fovea.Models;

/// <summary>
/// How much of the input one output position of a layer sees. <see cref="Height"/>×<see cref="Width"/> input pixels
/// (padding included), its neighbours <see cref="JumpHeight"/>×<see cref="JumpWidth"/> pixels apart; or, once a layer
/// pools globally or flattens, the whole input (<see cref="WholeInput"/>). For a learner: a first 3×3 convolution sees
/// 3×3 pixels; after a 2×2 pooling and another 3×3 convolution, 8×8; what a deep layer's map shows is each position's
/// verdict on a patch of that size.
/// </summary>
/// <param name="Height">Rows of input one position sees (0 when <see cref="WholeInput"/>).</param>
/// <param name="Width">Columns of input one position sees.</param>
/// <param name="JumpHeight">Input rows between vertically neighbouring positions (the product of the strides so far).</param>
/// <param name="JumpWidth">Input columns between horizontally neighbouring positions.</param>
/// <param name="WholeInput">True after a global pooling, flatten or dense layer: every output depends on all the input.</param>
public sealed record ReceptiveField(int Height, int Width, int JumpHeight, int JumpWidth, bool WholeInput = false)
{
    /// <summary>One input pixel: the receptive field of the input itself.</summary>
    public static ReceptiveField Pixel { get; } = new(1, 1, 1, 1);

    /// <summary>The whole input.</summary>
    public static ReceptiveField All { get; } = new(0, 0, 0, 0, WholeInput: true);

    /// <summary>"7×7", or "all" for the whole input.</summary>
    public override string ToString() => WholeInput ? "all" : $"{Height}×{Width}";

    /// <summary>
    /// The receptive field of <paramref name="node"/>'s output given its inputs' (null where unknown: a layer that changes
    /// the map's size in a way this does not model, such as a resize or a reshape into a map).
    /// </summary>
    internal static ReceptiveField? Of(Node node, IReadOnlyList<ReceptiveField?> inputs, IReadOnlyList<int[]> inputShapes)
    {
        if (inputs.Any(f => f is null)) return null;
        if (inputs.Any(f => f!.WholeInput)) return All;
        var local = inputs.Select(f => f!).ToList();
        int[] output = node.OutputShape;
        var window = node.Layer switch
        {
            Conv2D c => ((c.KernelSize.Height - 1) * c.Dilation.Height + 1, (c.KernelSize.Width - 1) * c.Dilation.Width + 1, c.Stride.Height, c.Stride.Width),
            Pool2DBase p => ((p.PoolSize.Height - 1) * p.Dilation.Height + 1, (p.PoolSize.Width - 1) * p.Dilation.Width + 1, p.Stride.Height, p.Stride.Width),
            MaxPoolIndices2D p => ((p.PoolSize.Height - 1) * p.Dilation.Height + 1, (p.PoolSize.Width - 1) * p.Dilation.Width + 1, p.Stride.Height, p.Stride.Width),
            _ => ((int, int, int, int)?)null,
        };
        if (window is var (kh, kw, sh, sw) && local.Count == 1)
        {
            var f = local[0];
            return new ReceptiveField(f.Height + (kh - 1) * f.JumpHeight, f.Width + (kw - 1) * f.JumpWidth, f.JumpHeight * sh, f.JumpWidth * sw);
        }
        // Anything that is no longer a map ([C] features, a flattened vector) depends on the whole input.
        if (output.Length != 3) return All;
        // A layer that keeps the map's size position by position (activations, BatchNorm, dropout, Add, Concat of maps):
        // each output position sees what the same position of its inputs saw, the largest of them.
        bool samePlaces = inputShapes.All(s => s.Length == 3 && s[1] == output[1] && s[2] == output[2]);
        if (samePlaces && local.All(f => f.JumpHeight == local[0].JumpHeight && f.JumpWidth == local[0].JumpWidth))
            return new ReceptiveField(local.Max(f => f.Height), local.Max(f => f.Width), local[0].JumpHeight, local[0].JumpWidth);
        return null;
    }
}
