using Fovea.Onnx.Proto;

namespace Fovea.Onnx;

// Shape arithmetic folded at import: Shape, Gather and Concat of constants. This is how exporters write a dynamic
// flatten — PyTorch's x.view(x.size(0), -1) becomes Shape → Gather → Unsqueeze → Concat → Reshape.
public static partial class OnnxImporter
{
    private sealed partial class GraphImport
    {
        /// <summary>
        /// Stands for the batch size in a folded shape value: unknown at import, it may only reach Reshape's first
        /// position, where it means "keep the batch". Any other use is refused. Exactly representable as a double.
        /// </summary>
        private const long BatchDimension = -4_000_000_000_000_017;

        private void ImportShape()
        {
            int[] full = IsConst(0) ? Const(0, "data").Shape : FullShape(In(0));
            var values = full.Select(d => (double)d).ToArray();
            if (Batched && !IsConst(0)) values[0] = BatchDimension;
            // start and end (opset 15) slice the shape, clamped like Python slices.
            long Clamp(long i) => Math.Clamp(i < 0 ? i + full.Length : i, 0, full.Length);
            int start = (int)Clamp(Int("start", 0)), end = (int)Clamp(Int("end", full.Length));
            var kept = values[start..Math.Max(start, end)];
            OutputConst(new OnnxConst([kept.Length], kept, OnnxTensor.Int64));
        }

        private void ImportGather()
        {
            if (!IsConst(0)) throw Error("Gather of computed values is not supported; Fovea folds Gather of constants, such as a Shape's output.");
            var data = Const(0, "data");
            var indices = Const(1, "indices").Longs();
            if (data.Shape.Length == 0) throw Error("data is a scalar; Gather needs at least one axis.");
            int axis = NormalizeAxis(Int("axis", 0), data.Shape.Length);
            int n = data.Shape[axis], inner = data.Shape[(axis + 1)..].Aggregate(1, (p, d) => p * d);
            int outer = data.Shape[..axis].Aggregate(1, (p, d) => p * d);
            var values = new double[outer * indices.Length * inner];
            for (int o = 0, k = 0; o < outer; o++)
                foreach (long raw in indices)
                {
                    long i = raw < 0 ? raw + n : raw;
                    if (i < 0 || i >= n) throw Error($"index {raw} is out of range for axis {axis} of size {n}.");
                    Array.Copy(data.Values, (o * n + i) * inner, values, k, inner);
                    k += inner;
                }
            int[] shape = [.. data.Shape[..axis], .. Const(1, "indices").Shape, .. data.Shape[(axis + 1)..]];
            OutputConst(data with { Shape = shape, Values = values });
        }

        /// <summary>Concat whose inputs are all constants: folded (shape values being assembled for a Reshape).</summary>
        private void FoldConcat(int[] inputs)
        {
            var parts = inputs.Select(i => Const(i, $"input {i}")).ToArray();
            int rank = parts[0].Shape.Length;
            if (rank == 0) throw Error("Concat of scalars is not defined; inputs need at least one axis.");
            int axis = NormalizeAxis(Int("axis", 0), rank);
            foreach (var p in parts)
                if (p.Shape.Length != rank || Enumerable.Range(0, rank).Any(a => a != axis && p.Shape[a] != parts[0].Shape[a]))
                    throw Error($"inputs of shapes {string.Join(" and ", parts.Select(q => $"[{string.Join(", ", q.Shape)}]"))} cannot be joined on axis {axis}.");
            int outer = parts[0].Shape[..axis].Aggregate(1, (p, d) => p * d), inner = parts[0].Shape[(axis + 1)..].Aggregate(1, (p, d) => p * d);
            var values = new List<double>();
            for (int o = 0; o < outer; o++)
                foreach (var p in parts)
                {
                    int block = p.Shape[axis] * inner;
                    values.AddRange(p.Values.AsSpan(o * block, block).ToArray());
                }
            var shape = (int[])parts[0].Shape.Clone();
            shape[axis] = parts.Sum(p => p.Shape[axis]);
            OutputConst(parts[0] with { Shape = shape, Values = values.ToArray() });
        }

        private int NormalizeAxis(long axis, int rank)
        {
            long a = axis < 0 ? axis + rank : axis;
            if (a < 0 || a >= rank) throw Error($"axis {axis} is out of range for rank {rank}.");
            return (int)a;
        }

        /// <summary>Refuses a folded Shape value holding the batch size where a number is needed: it is unknown at import.</summary>
        private void RefuseBatchValue(OnnxConst c, string use)
        {
            if (c.Values.Contains(BatchDimension)) throw BatchError($"the batch size (unknown when importing) used as {use}");
        }

        /// <summary>Refuses a folded batch size anywhere but where <paramref name="allowedAt"/> says it means "keep the batch".</summary>
        private void RefuseBatchDimension(long[] values, string what, int allowedAt = -1)
        {
            for (int i = 0; i < values.Length; i++)
                if (values[i] == BatchDimension && i != allowedAt) throw BatchError($"the batch size used as {what} (position {i})");
        }
    }
}
