using Fovea.Layers;
using Fovea.Onnx.Proto;

namespace Fovea.Onnx;

// The layers behind ONNX's extra outputs, written back as ONNX: MaxPoolIndices2D as MaxPool's Indices output cast to
// float, InSampleBatchNorm and InSampleBatchMoment as the per-sample statistics spelt out with ReduceMean.
public static partial class OnnxExporter
{
    private sealed partial class Writer
    {
        /// <summary>MaxPool with both outputs; the int64 Indices (the same positions, batch included) cast to float.</summary>
        private void PoolIndices(MaxPoolIndices2D p, int[] inShape, string x, string name)
        {
            var (t, b) = p.Padding.Resolve(inShape[1], p.PoolSize.Height, p.Stride.Height, p.Dilation.Height, vertical: true);
            var (l, r) = p.Padding.Resolve(inShape[2], p.PoolSize.Width, p.Stride.Width, p.Dilation.Width, vertical: false);
            var attrs = new List<AttributeProto>
            {
                Ints("kernel_shape", p.PoolSize.Height, p.PoolSize.Width), Ints("strides", p.Stride.Height, p.Stride.Width),
                Ints("pads", t, l, b, r), IntAttr("ceil_mode", p.CeilMode ? 1 : 0), IntAttr("storage_order", p.ColumnMajor ? 1 : 0),
            };
            if (p.Dilation != (1, 1)) attrs.Add(Ints("dilations", p.Dilation.Height, p.Dilation.Width));
            _graph.Node.Add(Node("MaxPool", [x], [name + "_values", name + "_int64"], name + "_pool", attrs.ToArray()));
            Add("Cast", [name + "_int64"], name, name, IntAttr("to", OnnxTensor.Float));
        }

        /// <summary>
        /// A sample [N, C, ...] is the tensor [batch, N, C, ...] here: statistics per batch entry and channel over axis 1
        /// and the axes after the channel. 1/sqrt(var + ε) is written exp(−½·log(var + ε)) so the graph re-imports
        /// (Fovea imports Exp and Log, not Sqrt).
        /// </summary>
        private void InSampleNorm(InSampleBatchNorm bn, int[] inShape, string x, string name)
        {
            var axes = StatisticAxes(inShape);
            string centered = Centered(x, axes, name);
            ReduceMean(Square(centered, name), axes, keepDims: true, name + "_variance");
            Add("Add", [name + "_variance", Init(name + ".epsilon", [bn.Epsilon])], name + "_shifted", name + "_shifted");
            Add("Log", [name + "_shifted"], name + "_log", name + "_log");
            Add("Mul", [name + "_log", Init(name + ".minus_half", [-0.5f])], name + "_half_log", name + "_half_log");
            Add("Exp", [name + "_half_log"], name + "_inverse_std", name + "_inverse_std");
            Add("Mul", [centered, name + "_inverse_std"], name + "_normalized", name + "_normalized");
            // [C, 1, ...]: right-aligned, it meets the channel axis of [batch, N, C, ...].
            long[] perChannel = [inShape[1], .. Enumerable.Repeat(1L, inShape.Length - 2)];
            Add("Mul", [name + "_normalized", Init(name + ".gamma", bn.Gamma.Span, perChannel)], name + "_scaled", name + "_scaled");
            Add("Add", [name + "_scaled", Init(name + ".beta", bn.Beta.Span, perChannel)], name, name);
        }

        /// <summary>Mean, or biased variance, per batch entry and channel: [batch, N, C, ...] → [batch, C].</summary>
        private void InSampleMoment(InSampleBatchMoment m, int[] inShape, string x, string name)
        {
            var axes = StatisticAxes(inShape);
            if (!m.Variance) { ReduceMean(x, axes, keepDims: false, name); return; }
            ReduceMean(Square(Centered(x, axes, name), name), axes, keepDims: false, name);
        }

        /// <summary>Axes of [batch, N, C, ...] a statistic runs over: N (1) and everything after the channel (3, 4, ...).</summary>
        private static long[] StatisticAxes(int[] inShape) => [1, .. Enumerable.Range(3, inShape.Length - 2).Select(a => (long)a)];

        private string Centered(string x, long[] axes, string name)
        {
            ReduceMean(x, axes, keepDims: true, name + "_mean");
            Add("Sub", [x, name + "_mean"], name + "_centered", name + "_centered");
            return name + "_centered";
        }

        private string Square(string x, string name)
        {
            Add("Mul", [x, x], name + "_squares", name + "_squares");
            return name + "_squares";
        }

        /// <summary>ReduceMean over <paramref name="axes"/>: an attribute before opset 18, an input from 18.</summary>
        private void ReduceMean(string x, long[] axes, bool keepDims, string output)
        {
            var keep = IntAttr("keepdims", keepDims ? 1 : 0);
            if (opset >= 18) Add("ReduceMean", [x, InitLongs(output + ".axes", axes)], output, output, keep);
            else Add("ReduceMean", [x], output, output, Ints("axes", axes), keep);
        }
    }
}
