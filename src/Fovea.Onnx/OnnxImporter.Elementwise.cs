using System.Text.Json;
using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Onnx.Proto;
using Fovea.Tensors;
using FoveaNode = Fovea.Models.Node;

namespace Fovea.Onnx;

// Constants, activations, matrix products, element-wise arithmetic, casts, reductions and Where.
public static partial class OnnxImporter
{
    private sealed partial class GraphImport
    {
        private void ImportConstant()
        {
            var a = _current.Attribute.FirstOrDefault() ?? throw Error("has no value attribute.");
            OnnxConst c = a.Name switch
            {
                "value" => OnnxTensor.Read(a.T ?? throw Error("attribute 'value' holds no tensor."), "Constant"),
                "value_float" => OnnxConst.FromFloats([a.F]),
                "value_floats" => OnnxConst.FromFloats(a.Floats.ToArray(), a.Floats.Count),
                "value_int" => new OnnxConst([], [a.I], OnnxTensor.Int64),
                "value_ints" => new OnnxConst([a.Ints.Count], a.Ints.Select(v => (double)v).ToArray(), OnnxTensor.Int64),
                _ => throw Error($"Constant attribute '{a.Name}' is not supported."),
            };
            OutputConst(c);
        }

        /// <summary>
        /// Dropout in inference: the output is the input and the optional mask (output 1, bool) is all true, imported as a
        /// ConstantTensor of ones shaped like a sample. All true at every opset, as ONNX's reference implementation has it
        /// (before opset 12 the specification leaves it unsaid, and ONNX Runtime writes all false there). The mask is the
        /// inference one: while fine-tuning, the Dropout layer drops values but the mask output stays ones.
        /// </summary>
        private void ImportDropout()
        {
            RequireUnusedExtraOutputs("an output Dropout does not define", first: 2);
            float ratio = _opset >= 12 ? (IsConst(1) ? Const(1, "ratio").Scalar("ratio") : 0.5f) : Float("ratio", 0.5f);
            if (Has(2) && IsConst(2) && Const(2, "training_mode").Values[0] != 0)
                throw Error("training_mode = true makes the output and the mask random; Fovea imports inference graphs (its Dropout layer drops only while training).");
            var x = In(0);
            string? name = LayerName();
            // Kept as a layer (identity at inference) so fine-tuning regularises as the original network did.
            Output(ratio > 0f && ratio < 1f ? AddLayer(new Layers.Dropout(ratio, name), x) : x);
            if (!IsUsed(1)) return;
            var ones = new ConstantTensor(x.OutputShape, DerivedName(name, "_mask"));
            Output(1, AddLayer(ones, x));
            ones.Value.Span.Fill(1f);
        }

        private void ImportClip()
        {
            float min = float.NegativeInfinity, max = float.PositiveInfinity;
            if (_opset < 11)
            {
                min = Float("min", float.NegativeInfinity); max = Float("max", float.PositiveInfinity);
            }
            else
            {
                if (Has(1)) min = Const(1, "min").Scalar("min");
                if (Has(2)) max = Const(2, "max").Scalar("max");
            }
            Output(min == 0f && float.IsPositiveInfinity(max) ? AddLayer(new ReLU(LayerName()), In(0)) : AddLayer(new Layers.Clip(min, max, LayerName()), In(0)));
        }

        private void ImportSoftmax(bool log)
        {
            var x = In(0);
            int rank = Rank(x);
            bool legacy = _opset < 13;
            int axis = SampleAxis(Int("axis", legacy ? 1 : -1), rank, "axis");
            int sampleRank = x.OutputShape.Length;
            bool flatten = legacy && axis < sampleRank - 1;
            if (!log && axis == sampleRank - 1 && sampleRank == 1 && Batched) Output(AddLayer(new Layers.Softmax(LayerName()), x));
            else Output(AddLayer(new AxisSoftmax(axis, log, flatten, LayerName()), x));
        }

        private void ImportGemm()
        {
            var x = In(0);
            if (!IsConst(1)) { ImportGemmOfInputs(x); return; }
            var b = Const(1, "B");
            if (b.Shape.Length != 2) throw Error($"B must be a matrix; it has shape [{string.Join(", ", b.Shape)}].");
            float alpha = Float("alpha", 1f), beta = Float("beta", 1f);
            bool transA = Int("transA", 0) != 0, transB = Int("transB", 0) != 0;
            int k = transB ? b.Shape[1] : b.Shape[0], n = transB ? b.Shape[0] : b.Shape[1];
            // W as [K, N] (ONNX's un-transposed B), scaled by alpha.
            var w = new float[k * n];
            for (int i = 0; i < k; i++)
                for (int j = 0; j < n; j++)
                    w[i * n + j] = alpha * (float)(transB ? b.Values[j * k + i] : b.Values[i * n + j]);
            OnnxConst? c = Has(2) ? Const(2, "C") : null;
            if (Batched)
            {
                if (transA) throw BatchError("transA = 1");
                if (x.OutputShape.Length != 1) throw Error($"A must be a matrix; a sample has shape {Tensor.ShapeToString(x.OutputShape)}.");
                RequireInnerSize(x, k);
                bool vectorBias = c is null || c.Length == 1 || (c.Shape.Length >= 1 && c.Shape[^1] == n && c.Length == n);
                if (!vectorBias) throw BatchError($"a bias C of shape [{string.Join(", ", c!.Shape)}]");
                var dense = new Dense(n, useBias: c is not null, name: LayerName());
                var node = AddLayer(dense, x);
                var wt = dense.Weight.Span;
                for (int i = 0; i < k; i++) for (int j = 0; j < n; j++) wt[j * k + i] = w[i * n + j];
                if (c is not null) for (int j = 0; j < n; j++) dense.Bias!.Span[j] = beta * (float)c.Values[c.Length == 1 ? 0 : j];
                Output(node);
                return;
            }
            if (x.OutputShape.Length != 2) throw Error($"A must be a matrix; received {Tensor.ShapeToString(x.OutputShape)}.");
            if (transA) x = AddLayer(new Transpose([1, 0], LayerName() is { } tn ? tn + "_transpose_a" : null), x);
            var mm = new Layers.MatMul([k, n], LayerName());
            var mmNode = AddLayer(mm, x);
            mm.Weight.CopyFrom(w);
            if (c is not null)
            {
                var add = new ConstantArithmetic(BinaryOp.Add, c.Shape, learnConstant: true);
                var addNode = AddLayer(add, mmNode);
                for (int i = 0; i < c.Length; i++) add.Constant.Span[i] = beta * (float)c.Values[i];
                mmNode = addNode;
            }
            Output(mmNode);
        }

        /// <summary>Gemm with B computed: alpha·A'·B' + beta·C as transposes, a product of the two inputs, a scale and a sum.</summary>
        private void ImportGemmOfInputs(FoveaNode a)
        {
            // With the batch axis first, a 2-D B would have the batch as one of its matrix axes.
            if (Batched) throw BatchError("a computed B");
            var b = In(1);
            if (a.OutputShape.Length != 2 || b.OutputShape.Length != 2)
                throw Error($"A and B must be matrices; received {Tensor.ShapeToString(a.OutputShape)} and {Tensor.ShapeToString(b.OutputShape)}.");
            float alpha = Float("alpha", 1f), beta = Float("beta", 1f);
            string? name = LayerName();
            string? Part(string suffix) => name is null ? null : name + suffix;
            if (Int("transA", 0) != 0) a = AddLayer(new Transpose([1, 0], Part("_transpose_a")), a);
            if (Int("transB", 0) != 0) b = AddLayer(new Transpose([1, 0], Part("_transpose_b")), b);
            bool hasC = Has(2);
            var y = AddLayer(new MatMulPair(hasC || alpha != 1f ? Part("_product") : name), a, b);
            if (alpha != 1f) y = Scale(y, alpha, hasC ? Part("_alpha") : name);
            if (!hasC) { Output(y); return; }
            if (IsConst(2))
            {
                var c = Const(2, "C");
                var add = new ConstantArithmetic(BinaryOp.Add, c.Shape, learnConstant: true, name: name);
                var node = AddLayer(add, y);
                for (int i = 0; i < c.Length; i++) add.Constant.Span[i] = beta * (float)c.Values[i];
                Output(node);
                return;
            }
            var computedC = In(2);
            if (beta != 1f) computedC = Scale(computedC, beta, Part("_beta"));
            Output(AddLayer(new Arithmetic(BinaryOp.Add, name), y, computedC));
        }

        /// <summary>A Dense layer takes its input size from the input, so a B of another K must be refused here.</summary>
        private void RequireInnerSize(FoveaNode x, int k)
        {
            if (x.OutputShape[^1] != k)
                throw Error($"B has {k} rows (K) but the input has {x.OutputShape[^1]} columns; they must match.");
        }

        private FoveaNode Scale(FoveaNode x, float factor, string? name)
        {
            var scale = new ConstantArithmetic(BinaryOp.Multiply, [], name: name);
            var node = AddLayer(scale, x);
            scale.Constant.Span[0] = factor;
            return node;
        }

        private void ImportMatMul()
        {
            var x = In(0);
            if (!IsConst(1))
            {
                var other = In(1);
                // Batch axes pair up only when both tensors have the same rank and are matrices (or stacks of them) per sample.
                if (Batched && (x.OutputShape.Length < 2 || x.OutputShape.Length != other.OutputShape.Length))
                    throw BatchError($"multiplying computed samples {Tensor.ShapeToString(x.OutputShape)} and {Tensor.ShapeToString(other.OutputShape)}");
                Output(AddLayer(new MatMulPair(LayerName()), x, other));
                return;
            }
            var b = Const(1, "B");
            int ps = x.OutputShape.Length;
            // B [1, K, N] against [batch, M, K]: the leading 1 only broadcasts over the batch, so it is the same B per sample.
            if (Batched && ps >= 2 && b.Shape.Length == ps + 1 && b.Shape[0] == 1) b = b with { Shape = b.Shape[1..] };
            if (Batched && (ps == 1 ? b.Shape.Length > 2 : b.Shape.Length > ps)) throw BatchError($"multiplying samples {Tensor.ShapeToString(x.OutputShape)} by B [{string.Join(", ", b.Shape)}]");
            if (Batched && ps == 1 && b.Shape.Length == 2)
            {
                // [K] · [K, N]: exactly a Dense layer without bias.
                int k = b.Shape[0], n = b.Shape[1];
                RequireInnerSize(x, k);
                var dense = new Dense(n, useBias: false, name: LayerName());
                var node = AddLayer(dense, x);
                for (int i = 0; i < k; i++) for (int j = 0; j < n; j++) dense.Weight.Span[j * k + i] = (float)b.Values[i * n + j];
                Output(node);
                return;
            }
            var mm = new Layers.MatMul(b.Shape, LayerName());
            var mmNode = AddLayer(mm, x);
            Copy(b, mm.Weight, "B");
            Output(mmNode);
        }

        private void ImportArithmetic(BinaryOp op)
        {
            bool c0 = IsConst(0), c1 = IsConst(1);
            if (c0 && c1)
            {
                RefuseBatchValue(Const(0, "A"), "arithmetic"); RefuseBatchValue(Const(1, "B"), "arithmetic");
                OutputConst(Fold(Const(0, "A"), Const(1, "B"), op));
                return;
            }
            if (!c0 && !c1)
            {
                FoveaNode a = In(0), b = In(1);
                if (Batched && a.OutputShape.Length != b.OutputShape.Length) throw BatchError("broadcasting operands of different ranks");
                Output(op == BinaryOp.Add && a.OutputShape.AsSpan().SequenceEqual(b.OutputShape)
                    ? AddLayer(new Layers.Add(LayerName()), a, b)
                    : AddLayer(new Arithmetic(op, LayerName()), a, b));
                return;
            }
            var x = In(c0 ? 1 : 0);
            var c = Const(c0 ? 0 : 1, "constant operand");
            var shape = c.Shape;
            int ps = x.OutputShape.Length;
            if (Batched)
            {
                RefuseAxesBeforeBatch(c, ps + 1);
                // A constant spanning the batch axis must be 1 there (it is then the same for every sample).
                while (shape.Length > ps)
                {
                    if (shape[0] != 1) throw BatchError($"a constant of shape [{string.Join(", ", c.Shape)}]");
                    shape = shape[1..];
                }
            }
            else if (shape.Length > ps)
                throw Error($"the constant [{string.Join(", ", c.Shape)}] has more axes than the input {Tensor.ShapeToString(x.OutputShape)}.");
            var layer = new ConstantArithmetic(op, shape, constantFirst: c0, learnConstant: false, name: LayerName());
            var node = AddLayer(layer, x);
            Copy(c, layer.Constant, "constant operand");
            Output(node);
        }

        private void ImportMax()
        {
            var inputs = Enumerable.Range(0, _current.Input.Count).Where(Has).ToArray();
            if (inputs.Length == 1) { if (IsConst(0)) OutputConst(Const(0, "input")); else Output(In(0)); return; }
            if (inputs.Length != 2) throw Error($"Max of {inputs.Length} inputs is not supported (2 at most).");
            ImportArithmetic(BinaryOp.Maximum);
        }

        private void ImportCastLike()
        {
            // Fovea computes in float32: a float target makes CastLike an identity; constants take the target's type.
            int target = _nodes.ContainsKey(InputName(1, "target_type")) ? OnnxTensor.Float : Const(1, "target_type").DataType;
            if (target != OnnxTensor.Float && target != (int)Proto.TensorProto.Types.DataType.Double)
                throw Error($"casting to {OnnxTensor.TypeName(target)} is not supported; Fovea computes in float32.");
            if (IsConst(0))
            {
                var c = Const(0, "input");
                OutputConst(c with { Values = c.Values.Select(v => (double)(float)v).ToArray(), DataType = OnnxTensor.Float });
            }
            else Output(In(0));
        }

        private void ImportCast()
        {
            int to = ToInt(Int("to", 0), "to");
            bool toFloat = to == OnnxTensor.Float || to == (int)Proto.TensorProto.Types.DataType.Double;
            if (IsConst(0))
            {
                var c = Const(0, "input");
                if (toFloat) RefuseBatchValue(c, "a float value");
                // Shape values are cast between integer types on their way to a Reshape; float → int truncates toward zero.
                bool toInteger = to is OnnxTensor.Int64 or (int)Proto.TensorProto.Types.DataType.Int32;
                if (!toFloat && !toInteger) throw Error($"casting a constant to {OnnxTensor.TypeName(to)} is not supported.");
                OutputConst(c with { Values = c.Values.Select(v => toFloat ? (double)(float)v : Math.Truncate(v)).ToArray(), DataType = toFloat ? OnnxTensor.Float : to });
                return;
            }
            var output = _current.Output[0];
            // Fovea keeps conditions as floats (non-zero = true), which is exactly what a Where condition needs.
            bool onlyConditions = _graph.Node.Where(n => n.Input.Contains(output)).All(n => n.OpType == "Where" && n.Input[0] == output && !n.Input.Skip(1).Contains(output))
                && _graph.Output.All(o => o.Name != output);
            if (!toFloat && !(to == (int)Proto.TensorProto.Types.DataType.Bool && onlyConditions))
                throw Error($"casting to {OnnxTensor.TypeName(to)} is not supported (Fovea computes in float32; a cast to bool is read only as a Where condition).");
            Output(In(0));
        }

        /// <summary>ReduceMax, ReduceSum, and ReduceMean as a sum times 1/count (one scale layer after it).</summary>
        private void ImportReduce(ReduceKind kind, bool mean = false)
        {
            var x = In(0);
            int rank = Rank(x);
            // The axes moved from an attribute to an input: ReduceSum at opset 13, the others at 18.
            long[]? axes = (_opset >= 18 || (kind == ReduceKind.Sum && !mean && _opset >= 13)) ? (Has(1) ? Const(1, "axes").Longs() : null) : Ints("axes");
            if (axes is null || axes.Length == 0)
            {
                if (Int("noop_with_empty_axes", 0) != 0) { Output(x); return; }
                axes = Enumerable.Range(0, rank).Select(a => (long)a).ToArray();
            }
            var sampleAxes = axes.Select(a => SampleAxis(a, rank, "axis")).Distinct().ToArray();
            var reduced = AddLayer(new Reduce(kind, sampleAxes, Int("keepdims", 1) != 0, mean ? null : LayerName()), x);
            if (!mean) { Output(reduced); return; }
            long count = sampleAxes.Aggregate(1L, (p, a) => p * x.OutputShape[a]);
            // A scalar constant for a sample reduced to a scalar (a [1] constant would have more axes than it).
            var scale = new ConstantArithmetic(BinaryOp.Multiply, reduced.OutputShape.Length == 0 ? [] : [1], name: LayerName());
            var node = AddLayer(scale, reduced);
            scale.Constant.Span[0] = (float)(1.0 / count);
            Output(node);
        }

        private void ImportWhere()
        {
            var inputs = Enumerable.Range(0, 3).ToArray();
            if (inputs.All(IsConst)) throw Error("a Where of constants only is not supported.");
            var anchor = In(inputs.First(i => !IsConst(i)));
            int fullRank = Rank(anchor);
            var nodes = inputs.Select(i => IsConst(i) ? ConstantOperand(Const(i, $"input {i}"), anchor, fullRank) : In(i)).ToArray();
            if (Batched)
            {
                // Computed operands of different ranks would align their batch axes with other axes in ONNX.
                var ranks = inputs.Where(i => !IsConst(i)).Select(i => nodes[i].OutputShape.Length).Distinct().Count();
                if (ranks > 1) throw BatchError("broadcasting computed operands of different ranks");
            }
            Output(AddLayer(new Where(LayerName()), nodes));
        }

        /// <summary>
        /// A constant with more axes than the whole input makes the result gain axes in front of the batch axis, which
        /// then is not first: later axis numbers would name other axes than in the graph.
        /// </summary>
        private void RefuseAxesBeforeBatch(OnnxConst c, int fullRank)
        {
            if (c.Shape.Length > fullRank)
                throw Error($"the constant [{string.Join(", ", c.Shape)}] has more axes than the input (rank {fullRank} with the batch axis), so the result's batch axis would not be first; Fovea keeps it first.");
        }

        /// <summary>A constant operand as a per-sample layer output; ONNX right-aligns it against the whole tensor.</summary>
        private FoveaNode ConstantOperand(OnnxConst c, FoveaNode anchor, int fullRank)
        {
            var shape = c.Shape;
            if (Batched)
            {
                RefuseAxesBeforeBatch(c, fullRank);
                while (shape.Length >= fullRank)
                {
                    if (shape[0] != 1) throw BatchError($"a constant of shape [{string.Join(", ", c.Shape)}]");
                    shape = shape[1..];
                }
            }
            var layer = new ConstantTensor(shape);
            var node = AddLayer(layer, anchor);
            Copy(c, layer.Value, "constant");
            return node;
        }

        /// <summary>
        /// Most values a constant folded at import may hold (64 MB as float32). Its size comes from a few shape values,
        /// not from data in the file, so without a bound a small file could ask for gigabytes.
        /// </summary>
        private const long MaxFoldedValues = 1 << 24;

        /// <summary>The NumPy broadcast of two shapes, checked against <see cref="MaxFoldedValues"/> before anything is allocated.</summary>
        private int[] FoldedShape(int[] a, int[] b)
        {
            var shape = new int[Math.Max(a.Length, b.Length)];
            for (int i = 1; i <= shape.Length; i++)
            {
                int da = i <= a.Length ? a[^i] : 1, db = i <= b.Length ? b[^i] : 1;
                if (da != db && da != 1 && db != 1)
                    throw Error($"shapes [{string.Join(", ", a)}] and [{string.Join(", ", b)}] do not broadcast together.");
                shape[^i] = da == 1 ? db : da;
            }
            long count = shape.Aggregate(1L, (p, d) => p * d);
            if (count > MaxFoldedValues)
                throw Error($"folding constants gives shape [{string.Join(", ", shape)}] ({count} values); Fovea folds constants of at most {MaxFoldedValues} values at import.");
            return shape;
        }

        private OnnxConst Fold(OnnxConst a, OnnxConst b, BinaryOp op)
        {
            FoldedShape(a.Shape, b.Shape);
            var ta = new Tensor(a.Shape, a.Floats()); var tb = new Tensor(b.Shape, b.Floats());
            var y = Tape.NoGrad(() => Ops.Broadcast(ta, tb, op));
            return new OnnxConst(y.Shape, y.ToArray().Select(v => (double)v).ToArray(), a.DataType);
        }
    }
}
