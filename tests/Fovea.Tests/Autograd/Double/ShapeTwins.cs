using Fovea.Autograd;

namespace Fovea.Tests.Autograd.Double;

/// <summary>Double-precision twins of the shape ops (transpose, concat, pad, reduce). Reshape/Flatten are the identity on the values.</summary>
internal static class ShapeTwins
{
    /// <summary>Output axis i is input axis perm[i].</summary>
    public static double[] Transpose(double[] x, int[] shape, int[] perm)
    {
        var outShape = perm.Select(p => shape[p]).ToArray();
        var y = new double[x.Length];
        for (int o = 0; o < y.Length; o++)
        {
            var idx = Nd.Unravel(o, outShape);
            var src = new int[shape.Length];
            for (int i = 0; i < perm.Length; i++) src[perm[i]] = idx[i];
            y[o] = x[Nd.Ravel(src, shape)];
        }
        return y;
    }

    public static double[] Concat(double[][] xs, int[][] shapes, int axis)
    {
        var outShape = (int[])shapes[0].Clone();
        outShape[axis] = shapes.Sum(s => s[axis]);
        var y = new double[Nd.Size(outShape)];
        for (int o = 0; o < y.Length; o++)
        {
            var idx = Nd.Unravel(o, outShape);
            int part = 0;
            while (idx[axis] >= shapes[part][axis]) idx[axis] -= shapes[part++][axis];
            y[o] = xs[part][Nd.Ravel(idx, shapes[part])];
        }
        return y;
    }

    /// <summary>Pads (negative amounts crop) each axis; outside positions read <paramref name="value"/> or a mirrored/edge/wrapped element.</summary>
    public static double[] Pad(double[] x, int[] shape, int[] before, int[] after, PadMode mode, double value)
    {
        var outShape = shape.Select((s, d) => s + before[d] + after[d]).ToArray();
        var y = new double[Nd.Size(outShape)];
        for (int o = 0; o < y.Length; o++)
        {
            var idx = Nd.Unravel(o, outShape);
            bool constant = false;
            for (int d = 0; d < shape.Length; d++)
            {
                int i = idx[d] - before[d], n = shape[d];
                if (i >= 0 && i < n) { idx[d] = i; continue; }
                // Filled from the values the crop at the other end leaves: positions start .. start + kept - 1.
                int start = Math.Max(0, -before[d]), kept = n - start - Math.Max(0, -after[d]), j = i - start;
                switch (mode)
                {
                    case PadMode.Constant: constant = true; break;
                    case PadMode.Edge: j = Math.Clamp(j, 0, kept - 1); break;
                    case PadMode.Wrap: j = (j % kept + kept) % kept; break;
                    default: // reflect: ... c b | a b c d | c b ...
                        while (j < 0 || j >= kept) j = j < 0 ? -j : 2 * (kept - 1) - j;
                        break;
                }
                idx[d] = start + j;
            }
            y[o] = constant ? value : x[Nd.Ravel(idx, shape)];
        }
        return y;
    }

    /// <summary>Sum or max over <paramref name="axes"/> (kept as size-1 axes; dropping them does not change the values' order).</summary>
    public static double[] Reduce(double[] x, int[] shape, int[] axes, bool max)
    {
        var kept = shape.Select((s, d) => axes.Contains(d) ? 1 : s).ToArray();
        var y = new double[Nd.Size(kept)];
        if (max) Array.Fill(y, double.NegativeInfinity);
        for (int i = 0; i < x.Length; i++)
        {
            int o = Nd.BroadcastOffset(Nd.Unravel(i, shape), kept);
            y[o] = max ? Math.Max(y[o], x[i]) : y[o] + x[i];
        }
        return y;
    }
}
