using Fovea.Autograd;

namespace Fovea.Tests.Autograd.Double;

/// <summary>Double-precision twins of the element-wise ops, activations and softmax.</summary>
internal static class ElementwiseTwins
{
    public static double[] Map(double[] x, Func<double, double> f) => Array.ConvertAll(x, v => f(v));

    public static double Relu(double v) => v > 0 ? v : 0;
    public static double LeakyRelu(double v, double alpha) => v > 0 ? v : alpha * v;
    public static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));
    public static double Elu(double v, double alpha) => v > 0 ? v : alpha * (Math.Exp(v) - 1);
    public static double Clip(double v, double min, double max) => Math.Min(Math.Max(v, min), max);

    /// <summary>
    /// Softmax (or log-softmax) along <paramref name="axis"/>: each run of the axis (or, with <paramref name="flattenFrom"/>,
    /// of all axes from it to the end taken as one) is normalised on its own.
    /// </summary>
    public static double[] Softmax(double[] x, int[] shape, int axis, bool log = false, bool flattenFrom = false)
    {
        int outer = Nd.Size(shape[..axis]);
        int cols = flattenFrom ? Nd.Size(shape[axis..]) : shape[axis];
        int inner = flattenFrom ? 1 : Nd.Size(shape[(axis + 1)..]);
        var y = new double[x.Length];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int At(int c) => (o * cols + c) * inner + i;
                double max = double.NegativeInfinity, sum = 0;
                for (int c = 0; c < cols; c++) max = Math.Max(max, x[At(c)]);
                for (int c = 0; c < cols; c++) sum += Math.Exp(x[At(c)] - max);
                for (int c = 0; c < cols; c++)
                    y[At(c)] = log ? x[At(c)] - max - Math.Log(sum) : Math.Exp(x[At(c)] - max) / sum;
            }
        return y;
    }

    /// <summary>a (op) b with NumPy broadcasting.</summary>
    public static double[] Broadcast(double[] a, int[] aShape, double[] b, int[] bShape, BinaryOp op)
    {
        var shape = Nd.BroadcastShape(aShape, bShape);
        var y = new double[Nd.Size(shape)];
        for (int i = 0; i < y.Length; i++)
        {
            var idx = Nd.Unravel(i, shape);
            double u = a[Nd.BroadcastOffset(idx, aShape)], v = b[Nd.BroadcastOffset(idx, bShape)];
            y[i] = op switch
            {
                BinaryOp.Add => u + v,
                BinaryOp.Subtract => u - v,
                BinaryOp.Multiply => u * v,
                BinaryOp.Divide => u / v,
                BinaryOp.Maximum => Math.Max(u, v),
                _ => throw new ArgumentException($"No twin for {op}."),
            };
        }
        return y;
    }

    /// <summary>cond ≠ 0 ? a : b, all three broadcast.</summary>
    public static double[] Where(double[] cond, int[] cShape, double[] a, int[] aShape, double[] b, int[] bShape)
    {
        var shape = Nd.BroadcastShape(Nd.BroadcastShape(cShape, aShape), bShape);
        var y = new double[Nd.Size(shape)];
        for (int i = 0; i < y.Length; i++)
        {
            var idx = Nd.Unravel(i, shape);
            y[i] = cond[Nd.BroadcastOffset(idx, cShape)] != 0 ? a[Nd.BroadcastOffset(idx, aShape)] : b[Nd.BroadcastOffset(idx, bShape)];
        }
        return y;
    }
}
