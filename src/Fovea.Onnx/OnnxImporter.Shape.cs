using System.Text.Json;
using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Onnx.Proto;
using Fovea.Tensors;
using FoveaNode = Fovea.Models.Node;

namespace Fovea.Onnx;

// Operators that only move values: Flatten, Reshape, Squeeze, Unsqueeze, Concat, Pad, Transpose.
public static partial class OnnxImporter
{
    private sealed partial class GraphImport
    {
        private void ImportFlatten()
        {
            var x = In(0);
            int rank = Rank(x);
            long axis = Int("axis", 1);
            if (axis < 0) axis += rank;
            if (axis < 0 || axis > rank) throw Error($"axis {Int("axis", 1)} is out of range for rank {rank}.");
            var s = x.OutputShape;
            if (!Batched)
            {
                int outer = (int)CheckedCount(s[..(int)axis], "the leading axes"), inner = (int)CheckedCount(s[(int)axis..], "the trailing axes");
                Output(AddLayer(new Layers.Reshape([outer, inner], LayerName()), x));
                return;
            }
            if (axis == 0) throw BatchError("axis 0");
            long lead = CheckedCount(s[..((int)axis - 1)], "the leading axes");
            if (lead != 1) throw BatchError($"axis {axis}");
            Output(axis == 1 ? AddLayer(new Layers.Flatten(LayerName()), x) : AddLayer(new Layers.Reshape([(int)CheckedCount(s, "the input")], LayerName()), x));
        }

        private void ImportReshape()
        {
            var target = Const(1, "shape").Longs();
            bool allowZero = Int("allowzero", 0) != 0;
            // A folded Shape's batch size in the first position keeps the batch, whatever allowzero says of the other 0s
            // (Fovea's export of an empty sample shape writes exactly that, with allowzero = 1).
            RefuseBatchDimension(target, "a target dimension", allowedAt: Batched && !IsConst(0) ? 0 : -1);
            bool batchFirst = target.Length > 0 && target[0] == BatchDimension;
            if (batchFirst) { target = (long[])target.Clone(); target[0] = 0; }
            if (IsConst(0))
            {
                var c = Const(0, "data");
                OutputConst(c with { Shape = ResolveShape(c.Shape, target, allowZero) });
                return;
            }
            var x = In(0);
            var s = x.OutputShape;
            int[] sample;
            if (!Batched) sample = ResolveShape(s, target, allowZero);
            else
            {
                if (target.Length == 0) throw BatchError("reshaping to a scalar");
                long count = s.Aggregate(1L, (p, d) => p * d);
                // 0 at position i copies the full tensor's axis i, which is sample axis i - 1: resolved first, so that
                // [-1, 0, 12] is seen to keep the batch like [-1, C, 12].
                var rest = target.Skip(1).Select((d, i) => d == 0 && !allowZero ? (i < s.Length ? s[i] : throw Error($"shape copies axis {i + 1}, which the input lacks.")) : d).ToArray();
                bool keepsBatch = batchFirst || (target[0] == 0 && !allowZero)
                    || (target[0] == -1 && !rest.Contains(-1) && !rest.Contains(0) && rest.Aggregate(1L, (p, d) => p * d) == count)
                    || (target[0] == _declaredBatch && _declaredBatch > 0);
                if (!keepsBatch) throw BatchError($"shape [{string.Join(", ", target)}]");
                sample = ResolveShape(s, rest, allowZero: true);
                if (sample.Aggregate(1L, (p, d) => p * d) != count) throw BatchError($"shape [{string.Join(", ", target)}]");
            }
            Output(AddLayer(new Layers.Reshape(sample, LayerName()), x));
        }

        /// <summary>The axes of Squeeze/Unsqueeze: an attribute before opset 13, an optional constant input from 13 on.</summary>
        private long[]? SqueezeAxes() => _opset >= 13 ? (Has(1) ? Const(1, "axes").Longs() : null) : Ints("axes");

        private void ImportSqueeze()
        {
            var axes = SqueezeAxes();
            int[] full = IsConst(0) ? Const(0, "data").Shape : FullShape(In(0));
            var drop = new HashSet<int>();
            if (axes is null || axes.Length == 0)
            {
                // Without axes every size-1 axis goes, the batch axis too when a batch of 1 runs: not per sample.
                if (Batched && !IsConst(0)) throw BatchError("Squeeze without axes");
                for (int i = 0; i < full.Length; i++) if (full[i] == 1) drop.Add(i);
            }
            else
                foreach (long a in axes)
                {
                    long axis = a < 0 ? a + full.Length : a;
                    if (axis < 0 || axis >= full.Length) throw Error($"axis {a} is out of range for rank {full.Length}.");
                    if (axis == 0 && Batched && !IsConst(0)) throw BatchError("axis 0");
                    if (full[axis] != 1) throw Error($"axis {a} has size {full[axis]}; Squeeze removes only axes of size 1.");
                    drop.Add((int)axis);
                }
            ReshapeTo(Enumerable.Range(0, full.Length).Where(i => !drop.Contains(i)).Select(i => full[i]).ToArray());
        }

        private void ImportUnsqueeze()
        {
            var axes = SqueezeAxes() ?? throw Error("axes are required.");
            int[] full = IsConst(0) ? Const(0, "data").Shape : FullShape(In(0));
            int outRank = full.Length + axes.Length;
            var inserted = new HashSet<int>();
            foreach (long a in axes)
            {
                long axis = a < 0 ? a + outRank : a;
                if (axis < 0 || axis >= outRank) throw Error($"axis {a} is out of range for the output rank {outRank}.");
                if (!inserted.Add((int)axis)) throw Error($"axis {a} is given twice.");
            }
            if (Batched && !IsConst(0) && inserted.Contains(0)) throw BatchError("axis 0 (a new axis before the batch)");
            var result = new int[outRank];
            for (int i = 0, k = 0; i < outRank; i++) result[i] = inserted.Contains(i) ? 1 : full[k++];
            ReshapeTo(result);
        }

        /// <summary>The full ONNX shape of a computed value: the batch axis (size unknown, shown as 1) and the sample's axes.</summary>
        private int[] FullShape(FoveaNode x) => Batched ? [1, .. x.OutputShape] : x.OutputShape;

        /// <summary>Outputs input 0 with the full shape <paramref name="full"/> (same values, same order): folded for a constant.</summary>
        private void ReshapeTo(int[] full)
        {
            if (IsConst(0)) { OutputConst(Const(0, "data") with { Shape = full }); return; }
            Output(AddLayer(new Layers.Reshape(Batched ? full[1..] : full, LayerName()), In(0)));
        }

        private int[] ResolveShape(int[] input, long[] target, bool allowZero)
        {
            long count = input.Aggregate(1L, (p, d) => p * d);
            var result = new long[target.Length];
            int infer = -1;
            for (int i = 0; i < target.Length; i++)
            {
                long d = target[i];
                if (d == 0 && !allowZero) d = i < input.Length ? input[i] : throw Error($"shape copies axis {i}, which the input lacks.");
                if (d == -1) { if (infer >= 0) throw Error("shape has more than one -1."); infer = i; d = 1; }
                else if (d < 0) throw Error($"shape has an invalid dimension {d}.");
                result[i] = d;
            }
            long known = result.Aggregate(1L, (p, d) => p * d);
            if (infer >= 0)
            {
                if (known == 0 || count % known != 0) throw Error($"cannot infer the -1 in [{string.Join(", ", target)}] for {count} values.");
                result[infer] = count / known;
            }
            if (result.Aggregate(1L, (p, d) => p * d) != count) throw Error($"shape [{string.Join(", ", target)}] does not hold the {count} values of [{string.Join(", ", input)}].");
            return result.Select(d => (int)d).ToArray();
        }

        /// <summary>
        /// Expand (opset 8+): broadcasts the input to a shape, as NumPy does. A constant expanded to [batch, ...] (how Fovea
        /// writes a ConstantTensor) becomes a ConstantTensor again; a constant expanded to a fixed shape is folded; a computed
        /// input is broadcast per sample by adding zeros of the target's shape, so its gradient sums over the copies.
        /// </summary>
        private void ImportExpand()
        {
            if (_opset < 8) throw Error($"Expand exists from opset 8; this model declares opset {_opset}.");
            var target = Const(1, "shape").Longs();
            if (target.Any(d => d < 0 && d != BatchDimension)) throw Error($"shape [{string.Join(", ", target)}] has a negative dimension.");
            if (target.Any(d => d == 0)) throw Error($"shape [{string.Join(", ", target)}] has a zero dimension; Fovea does not expand to empty tensors.");
            if (target.Any(d => d > int.MaxValue)) throw Error($"shape [{string.Join(", ", target)}] has a dimension above {int.MaxValue}.");
            bool batchFirst = target.Length > 0 && target[0] == BatchDimension;
            RefuseBatchDimension(target, "an Expand dimension", allowedAt: 0);
            if (IsConst(0))
            {
                var c = Const(0, "input");
                RefuseBatchValue(c, "an expanded value");
                if (!batchFirst) { OutputConst(Broadcast(c, target.Select(d => (int)d).ToArray())); return; }
                // The constant's own leading axis (if it reaches the batch position) must be 1: the same for every sample.
                var shape = c.Shape;
                if (shape.Length >= target.Length)
                {
                    if (shape.Length > target.Length || shape[0] != 1) throw BatchError($"expanding a constant of shape [{string.Join(", ", c.Shape)}] over the batch");
                    shape = shape[1..];
                }
                var sample = Broadcast(c with { Shape = shape }, target[1..].Select(d => (int)d).ToArray());
                var layer = new ConstantTensor(sample.Shape, LayerName());
                var node = AddLayer(layer, _model.Input);
                Copy(sample, layer.Value, "expanded constant");
                Output(node);
                return;
            }
            var x = In(0);
            int[] sampleTarget;
            if (Batched)
            {
                // ONNX right-aligns the target against [batch, ...sample]: a target longer than that would move the batch axis,
                // and the batch size anywhere but at the batch axis would expand a sample axis to it.
                int full = x.OutputShape.Length + 1;
                if (target.Length > full || (target.Length == full && !batchFirst && target[0] != 1) || (batchFirst && target.Length != full))
                    throw BatchError($"expanding samples {Tensor.ShapeToString(x.OutputShape)} to [{string.Join(", ", target.Select(d => d == BatchDimension ? "batch" : d.ToString()))}]");
                sampleTarget = (target.Length == x.OutputShape.Length + 1 ? target[1..] : target).Select(d => (int)d).ToArray();
            }
            else sampleTarget = target.Select(d => (int)d).ToArray();
            // Zeros only along the axes the input does not already fill (1 elsewhere): the stored constant stays small.
            var xs = x.OutputShape;
            int offset = sampleTarget.Length - xs.Length;
            var zerosShape = sampleTarget.Select((d, i) => i >= offset && xs[i - offset] == d ? 1 : d).ToArray();
            long count = zerosShape.Aggregate(1L, (p, d) => p * d);
            if (count > MaxFoldedValues)
                throw Error($"expanding {Tensor.ShapeToString(xs)} needs zeros of shape [{string.Join(", ", zerosShape)}] ({count} values); Fovea makes constants of at most {MaxFoldedValues} values at import.");
            var zeros = AddLayer(new ConstantTensor(zerosShape), x);
            Output(AddLayer(new Arithmetic(BinaryOp.Add, LayerName()), x, zeros));
        }

        /// <summary>A constant broadcast (NumPy rules) against <paramref name="shape"/>.</summary>
        private OnnxConst Broadcast(OnnxConst c, int[] shape)
        {
            FoldedShape(c.Shape, shape);
            try { return Fold(c, new OnnxConst(shape, new double[shape.Aggregate(1, (p, d) => p * d)], OnnxTensor.Float), BinaryOp.Add) with { DataType = c.DataType }; }
            catch (ArgumentException) { throw Error($"a constant of shape [{string.Join(", ", c.Shape)}] cannot be expanded to [{string.Join(", ", shape)}]."); }
        }

        private void ImportConcat()
        {
            var inputs = Enumerable.Range(0, _current.Input.Count).Where(Has).ToArray();
            if (inputs.Length == 0) throw Error("has no inputs; Concat needs at least one.");
            if (inputs.All(IsConst)) { FoldConcat(inputs); return; }
            var anchor = In(inputs.First(i => !IsConst(i)));
            var nodes = inputs.Select(i => IsConst(i) ? ConstantNode(Const(i, $"input {i}"), anchor) : In(i)).ToArray();
            int axis = SampleAxis(Int("axis", _opset < 4 ? 1 : long.MinValue) is var a && a == long.MinValue ? throw Error("axis is required.") : a, Rank(nodes[0]), "axis");
            Output(AddLayer(new Concat(axis, LayerName()), nodes));
        }

        /// <summary>A layer producing constant <paramref name="c"/> per sample of <paramref name="anchor"/>'s batch.</summary>
        private FoveaNode ConstantNode(OnnxConst c, FoveaNode anchor)
        {
            var shape = c.Shape;
            if (Batched)
            {
                if (shape.Length == 0 || shape[0] != 1) throw BatchError($"a constant of shape [{string.Join(", ", c.Shape)}] used as a batch of data");
                shape = shape[1..];
            }
            var layer = new ConstantTensor(shape);
            var node = AddLayer(layer, anchor);
            Copy(c, layer.Value, "constant");
            return node;
        }

        private void ImportPad()
        {
            var x = In(0);
            int rank = Rank(x);
            long[] pads;
            float value = 0f;
            string mode = Str("mode", "constant");
            if (_opset < 11)
            {
                pads = Ints("pads") ?? throw Error("pads is required.");
                value = Float("value", 0f);
            }
            else
            {
                pads = Const(1, "pads").Longs();
                if (Has(2)) value = Const(2, "constant_value").Scalar("constant_value");
            }
            var axes = Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
            if (_opset >= 18 && Has(3)) axes = Const(3, "axes").Longs().Select(a => a < 0 ? a + rank : a).ToArray();
            if (pads.Length != 2 * axes.Length) throw Error($"pads has {pads.Length} values for {axes.Length} axes.");
            var before = new int[rank]; var after = new int[rank];
            for (int i = 0; i < axes.Length; i++)
            {
                if (axes[i] < 0 || axes[i] >= rank) throw Error($"axis {axes[i]} is out of range for rank {rank}.");
                before[axes[i]] = ToInt(pads[i], "pads"); after[axes[i]] = ToInt(pads[i + axes.Length], "pads");
            }
            var padMode = mode switch
            {
                "constant" => PadMode.Constant,
                "reflect" => PadMode.Reflect,
                "edge" => PadMode.Edge,
                "wrap" => PadMode.Wrap,
                _ => throw Error($"mode '{mode}' is not one of constant, reflect, edge, wrap."),
            };
            if (Batched)
            {
                if (before[0] != 0 || after[0] != 0) throw BatchError("padding axis 0");
                before = before[1..]; after = after[1..];
            }
            Output(AddLayer(new Layers.Pad(before, after, padMode, value, LayerName()), x));
        }

        private void ImportTranspose()
        {
            var x = In(0);
            int rank = Rank(x);
            var perm = (Ints("perm") is { } pm ? ToInts(pm, "perm") : null) ?? Enumerable.Range(0, rank).Reverse().ToArray();
            if (perm.Length != rank) throw Error($"perm has {perm.Length} axes for rank {rank}.");
            if (Batched)
            {
                if (perm[0] != 0) throw BatchError($"perm [{string.Join(", ", perm)}]");
                perm = perm[1..].Select(p => p - 1).ToArray();
            }
            Output(AddLayer(new Layers.Transpose(perm, LayerName()), x));
        }
    }
}
