using System.Text.Json;
using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Onnx.Proto;
using Fovea.Tensors;
using FoveaNode = Fovea.Models.Node;

namespace Fovea.Onnx;

// Convolution, batch normalisation and pooling: the NCHW operators and their padding rules.
public static partial class OnnxImporter
{
    private sealed partial class GraphImport
    {
        private FoveaNode Spatial(FoveaNode x)
        {
            // Whole, a tensor includes its N axis: [N, C, H, W] spans the batch, and a rank-3 one is [N, C, L], not [C, H, W].
            if (!Batched)
                throw x.OutputShape.Length == 4
                    ? BatchError("a spatial operator on a whole-tensor import")
                    : Error($"only 2-D (NCHW) inputs are supported; received a tensor of shape {Tensor.ShapeToString(x.OutputShape)} (whole tensor).");
            if (x.OutputShape.Length != 3)
                throw Error($"only 2-D (NCHW) inputs are supported; received a sample of shape {Tensor.ShapeToString(x.OutputShape)}.");
            return x;
        }

        private (int Before, int After)[] ResolvePads(int[] spatial, int[] kernel, int[] strides, int[] dilations)
        {
            int n = spatial.Length;
            var autoPad = Str("auto_pad", "NOTSET");
            var result = new (int, int)[n];
            switch (autoPad)
            {
                case "NOTSET" or "":
                    var pads = Ints("pads");
                    if (pads is null) break;
                    if (pads.Length != 2 * n) throw Error($"pads has {pads.Length} values; {2 * n} expected.");
                    var p = ToInts(pads, "pads");
                    for (int i = 0; i < n; i++) result[i] = (p[i], p[i + n]);
                    break;
                case "VALID": break;
                case "SAME_UPPER" or "SAME_LOWER":
                    for (int i = 0; i < n; i++)
                    {
                        int outSize = (spatial[i] + strides[i] - 1) / strides[i];
                        int total = Math.Max(0, (outSize - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - spatial[i]);
                        int small = total / 2, large = total - small;
                        // SAME_UPPER puts the odd pixel at the end, SAME_LOWER at the beginning.
                        result[i] = autoPad == "SAME_UPPER" ? (small, large) : (large, small);
                    }
                    break;
                default: throw Error($"auto_pad '{autoPad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID.");
            }
            return result;
        }

        private int[] IntsOr(string name, int n, int fallback)
        {
            var v = Ints(name);
            if (v is null) return Enumerable.Repeat(fallback, n).ToArray();
            if (v.Length != n) throw Error($"{name} has {v.Length} values; {n} expected.");
            return ToInts(v, name);
        }

        private static Padding ToPadding((int Before, int After)[] p) =>
            p.All(q => q.Before == 0 && q.After == 0) ? Padding.Valid : Padding.Of(p[0].Before, p[1].Before, p[0].After, p[1].After);

        /// <summary>2-D convolution, and 1-D as a 2-D one over [C, 1, L] with a 1 × k kernel.</summary>
        private void ImportConv()
        {
            var x = In(0);
            var w = Const(1, "weight W");
            int n = w.Shape.Length - 2;
            if (n is not (1 or 2)) throw Error($"only 1-D and 2-D convolutions are supported; the weight has shape [{string.Join(", ", w.Shape)}].");
            if (x.OutputShape.Length != n + 1)
                throw Batched ? Error($"the weight [{string.Join(", ", w.Shape)}] is for {n}-D data but a sample has shape {Tensor.ShapeToString(x.OutputShape)}.")
                    : BatchError("a convolution on a whole-tensor import");
            var kernel = RequirePositive(w.Shape[2..], "the weight's kernel size");
            if (Ints("kernel_shape") is { } ks && !ks.SequenceEqual(kernel.Select(k => (long)k)))
                throw Error($"kernel_shape [{string.Join(", ", ks)}] does not match the weight [{string.Join(", ", w.Shape)}].");
            var strides = RequirePositive(IntsOr("strides", n, 1), "strides");
            var dilations = RequirePositive(IntsOr("dilations", n, 1), "dilations");
            int group = ToInt(Int("group", 1), "group");
            if (group <= 0) throw Error($"group must be positive; received {group}.");
            var pads = ResolvePads(x.OutputShape[1..], kernel, strides, dilations);
            OnnxConst? b = Has(2) ? Const(2, "bias B") : null;
            if (n == 1)
            {
                // [C, L] → [C, 1, L]: a 1 × k kernel with the same values (the weight [F, C/g, k] is [F, C/g, 1, k] in memory).
                (kernel, strides, dilations, pads) = ([1, kernel[0]], [1, strides[0]], [1, dilations[0]], [(0, 0), pads[0]]);
                x = AddLayer(new Layers.Reshape([x.OutputShape[0], 1, x.OutputShape[1]]), x);
            }
            var conv = new Conv2D(w.Shape[0], (kernel[0], kernel[1]), (strides[0], strides[1]), ToPadding(pads), (dilations[0], dilations[1]),
                group, useBias: b is not null, name: n == 2 ? LayerName() : null);
            var node = AddLayer(conv, x);
            Copy(w, conv.Weight, "weight W");
            if (b is not null) Copy(b, conv.Bias!, "bias B");
            Output(n == 2 ? node : AddLayer(new Layers.Reshape([node.OutputShape[0], node.OutputShape[2]], LayerName()), node));
        }

        private void Copy(OnnxConst c, Tensor target, string what)
        {
            RefuseBatchValue(c, what);
            if (c.Length != target.Length)
                throw Error($"{what} has {c.Length} values (shape [{string.Join(", ", c.Shape)}]) but the layer needs {Tensor.ShapeToString(target.Shape)}.");
            for (int i = 0; i < c.Length; i++) target.Span[i] = (float)c.Values[i];
        }

        private void ImportBatchNorm()
        {
            if (Int("training_mode", 0) != 0) { ImportTrainingBatchNorm(); return; }
            // Before opset 14 the extra outputs (running and saved statistics) are what make it a training step.
            RequireUnusedExtraOutputs("statistics of a training step; from opset 14 they come with training_mode = 1");
            var x = In(0);
            if (Int("spatial", 1) == 0) { ImportPerActivationBatchNorm(x); return; }
            // Whole, the tensor's axis 0 is N, which BatchNorm2D would take for the channels.
            if (!Batched)
                throw Error($"BatchNormalization works on samples [C, H, W] or [C], so it needs the batch axis first; a whole-tensor import gives it {Tensor.ShapeToString(x.OutputShape)}.");
            if (x.OutputShape.Length != 3 && x.OutputShape.Length != 1)
                throw Error($"BatchNormalization needs samples [C, H, W] or [C]; received {Tensor.ShapeToString(x.OutputShape)}.");
            float momentum = Float("momentum", 0.9f);
            // ONNX: running = running·momentum + batch·(1 - momentum); Fovea (PyTorch): running·(1 - m) + batch·m.
            var bn = new BatchNorm2D(Math.Clamp(1f - momentum, 0f, 1f), Float("epsilon", 1e-5f), LayerName());
            var node = AddLayer(bn, x);
            Copy(Const(1, "scale"), bn.Gamma, "scale");
            Copy(Const(2, "bias B"), bn.Beta, "bias B");
            Copy(Const(3, "mean"), bn.RunningMean, "mean");
            Copy(Const(4, "var"), bn.RunningVariance, "var");
            Output(node);
        }

        /// <summary>
        /// training_mode = 1 (opset 14 and later): Y is normalised with the batch's own per-channel mean and biased
        /// variance (over N and the spatial axes); the optional outputs 1 and 2 are running_mean = input_mean·momentum +
        /// batch_mean·(1 − momentum) and running_var likewise with the batch variance, as ONNX's function body defines
        /// them. The statistics span the batch axis, so a batch-first import refuses it (OnnxBatchAxisException) and a
        /// whole-input import holds it: InSampleBatchNorm for Y, InSampleBatchMoment blended by two constant layers for
        /// the statistics (shape [C]).
        /// </summary>
        private void ImportTrainingBatchNorm()
        {
            long mode = Int("training_mode", 0);
            if (_opset < 14) throw Error($"training_mode = {mode} is an attribute of opset 14 and later; the model declares opset {_opset}.");
            if (mode != 1) throw Error($"training_mode must be 0 or 1; received {mode}.");
            RequireUnusedExtraOutputs("an output BatchNormalization does not define", first: 3);
            if (Batched) throw BatchError("BatchNormalization with training_mode = 1 (statistics over the batch axis)");
            var x = In(0);
            if (x.OutputShape.Length < 2)
                throw Error($"training_mode = 1 needs an input [N, C, ...]; received {Tensor.ShapeToString(x.OutputShape)} (whole tensor).");
            int c = x.OutputShape[1];
            float momentum = Float("momentum", 0.9f);
            string? name = LayerName();
            var bn = new InSampleBatchNorm(Float("epsilon", 1e-5f), name);
            Output(AddLayer(bn, x));
            Copy(Const(1, "scale"), bn.Gamma, "scale");
            Copy(Const(2, "bias B"), bn.Beta, "bias B");
            foreach (bool variance in new[] { false, true })
            {
                int output = variance ? 2 : 1;
                if (!IsUsed(output)) continue;
                string what = variance ? "input_var" : "input_mean", stat = variance ? "var" : "mean";
                var running = Const(variance ? 4 : 3, what);
                if (running.Length != c)
                    throw Error($"{what} has {running.Length} values (shape [{string.Join(", ", running.Shape)}]); one per channel ({c}) expected.");
                var batch = AddLayer(new InSampleBatchMoment(variance, DerivedName(name, "_batch_" + stat)), x);
                var keep = new ConstantArithmetic(BinaryOp.Multiply, [1], name: DerivedName(name, "_batch_" + stat + "_weighted"));
                var weighted = AddLayer(keep, batch);
                keep.Constant.Span[0] = 1f - momentum;
                var blend = new ConstantArithmetic(BinaryOp.Add, [c], name: DerivedName(name, "_running_" + stat));
                Output(output, AddLayer(blend, weighted));
                for (int i = 0; i < c; i++) blend.Constant.Span[i] = (float)(running.Values[i] * momentum);
            }
        }

        /// <summary>
        /// spatial = 0 (opsets 7 and 8): scale, B, mean and var hold one value per activation, shaped like a sample. In
        /// inference it is an affine map, imported as x·a + b with a = scale/√(var + ε) and b = B − mean·a (both learnable).
        /// </summary>
        private void ImportPerActivationBatchNorm(FoveaNode x)
        {
            var sample = x.OutputShape;
            double epsilon = Float("epsilon", 1e-5f);
            var (scale, bias, mean, variance) = (Const(1, "scale"), Const(2, "bias B"), Const(3, "mean"), Const(4, "var"));
            foreach (var (c, what) in new[] { (scale, "scale"), (bias, "bias B"), (mean, "mean"), (variance, "var") })
            {
                RefuseBatchValue(c, what);
                if (c.Length != sample.Aggregate(1, (p, d) => p * d))
                    throw Error($"spatial = 0: {what} has shape [{string.Join(", ", c.Shape)}]; one value per activation of a sample {Tensor.ShapeToString(sample)} expected.");
            }
            string? name = LayerName();
            var multiply = new ConstantArithmetic(BinaryOp.Multiply, sample, learnConstant: true, name: name is null ? null : name + "_scale");
            var scaled = AddLayer(multiply, x);
            var add = new ConstantArithmetic(BinaryOp.Add, sample, learnConstant: true, name: name);
            var node = AddLayer(add, scaled);
            for (int i = 0; i < mean.Length; i++)
            {
                if (!(variance.Values[i] + epsilon > 0))
                    throw Error($"spatial = 0: var[{i}] = {variance.Values[i]} with epsilon {epsilon} gives no positive variance.");
                double a = scale.Values[i] / Math.Sqrt(variance.Values[i] + epsilon);
                multiply.Constant.Span[i] = (float)a;
                add.Constant.Span[i] = (float)(bias.Values[i] - mean.Values[i] * a);
            }
            Output(node);
        }

        /// <summary>
        /// MaxPool and AveragePool over 1 to 3 axes. MaxPool's optional second output, Indices (int64 positions flattened
        /// over the whole input N × C × spatial, row-major or with storage_order 1 column-major), becomes a
        /// MaxPoolIndices2D layer beside the pool, for 1-D and 2-D pooling.
        /// </summary>
        private void ImportPool(bool max)
        {
            bool indices = max && IsUsed(1);
            RequireUnusedExtraOutputs($"an output {_current.OpType} does not define", first: max ? 2 : 1);
            long storageOrder = max ? Int("storage_order", 0) : 0;
            if (storageOrder is not (0 or 1)) throw Error($"storage_order must be 0 (row-major) or 1 (column-major); received {storageOrder}.");
            var x = In(0);
            var ks = Ints("kernel_shape") ?? throw Error("kernel_shape is required.");
            int n = ks.Length;
            if (n < 1 || n > 3) throw Error($"pooling over {n} axes is not supported (1 to 3).");
            if (x.OutputShape.Length != n + 1)
                throw Batched ? Error($"kernel_shape has {n} axes but a sample has shape {Tensor.ShapeToString(x.OutputShape)}; [C, spatial...] expected.") : BatchError("pooling on a whole-tensor import");
            if (indices && n == 3)
                throw Error("output 1 (Indices) of a 3-D MaxPool is used; Fovea pools 3-D windows as two 2-D passes, which do not locate each maximum in the input.");
            var kernel = RequirePositive(ToInts(ks, "kernel_shape"), "kernel_shape");
            var strides = RequirePositive(IntsOr("strides", n, 1), "strides");
            var dilations = RequirePositive(IntsOr("dilations", n, 1), "dilations");
            var pads = ResolvePads(x.OutputShape[1..], kernel, strides, dilations);
            bool ceil = Int("ceil_mode", 0) != 0, includePad = Int("count_include_pad", 0) != 0;
            Pool2DBase Pool(int kh, int kw, int sh, int sw, int dh, int dw, (int B, int A) ph, (int B, int A) pw, string? name) => max
                ? new MaxPool2D((kh, kw), (sh, sw), ToPadding([ph, pw]), ceil, name) { Dilation = (dh, dw) }
                : new AvgPool2D((kh, kw), (sh, sw), ToPadding([ph, pw]), ceil, includePad, name) { Dilation = (dh, dw) };
            int c = x.OutputShape[0];
            string? layerName = LayerName();
            switch (n)
            {
                case 2:
                {
                    var pool = Pool(kernel[0], kernel[1], strides[0], strides[1], dilations[0], dilations[1], pads[0], pads[1], layerName);
                    Output(AddLayer(pool, x));
                    if (indices) Output(1, AddLayer(new MaxPoolIndices2D((MaxPool2D)pool, storageOrder == 1, DerivedName(layerName, "_indices")), x));
                    break;
                }
                case 1:
                {
                    // [C, L] pooled as [C, 1, L] with a 1 × k window. With one row, row- and column-major positions agree,
                    // and a position over [N, C, 1, L] is the same number as over [N, C, L].
                    var flat = AddLayer(new Layers.Reshape([c, 1, x.OutputShape[1]]), x);
                    var pool = Pool(1, kernel[0], 1, strides[0], 1, dilations[0], (0, 0), pads[0], null);
                    var pooled = AddLayer(pool, flat);
                    Output(AddLayer(new Layers.Reshape([c, pooled.OutputShape[2]], layerName), pooled));
                    if (indices)
                    {
                        var where = AddLayer(new MaxPoolIndices2D((MaxPool2D)pool, storageOrder == 1), flat);
                        Output(1, AddLayer(new Layers.Reshape([c, where.OutputShape[2]], DerivedName(layerName, "_indices")), where));
                    }
                    break;
                }
                default:
                {
                    // Max and average over a box are separable: pool each depth slice over (H, W), then pool along depth.
                    // (For averages the count of a box is the product of the per-axis counts, with or without padding.)
                    int d = x.OutputShape[1], h = x.OutputShape[2], w = x.OutputShape[3];
                    var slices = AddLayer(new Layers.Reshape([c * d, h, w]), x);
                    var hw = AddLayer(Pool(kernel[1], kernel[2], strides[1], strides[2], dilations[1], dilations[2], pads[1], pads[2], null), slices);
                    int oh = hw.OutputShape[1], ow = hw.OutputShape[2];
                    var depthMajor = AddLayer(new Layers.Reshape([c, d, oh * ow]), hw);
                    var depth = AddLayer(Pool(kernel[0], 1, strides[0], 1, dilations[0], 1, pads[0], (0, 0), null), depthMajor);
                    Output(AddLayer(new Layers.Reshape([c, depth.OutputShape[1], oh, ow], layerName), depth));
                    break;
                }
            }
        }
    }
}
