using System.Text.Json;
using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Onnx.Proto;
using Fovea.Tensors;
using FoveaNode = Fovea.Models.Node;

namespace Fovea.Onnx;

// Reading the current node: its inputs, attributes (checked to int), errors naming it, and adding its layers.
public static partial class OnnxImporter
{
    private sealed partial class GraphImport
    {

        private OnnxImportException Error(string message, Exception? inner = null) => new($"'{_source}', node '{_current.Name}' ({_current.OpType}): {message}", inner);

        private OnnxBatchAxisException BatchError(string what) =>
            new($"'{_source}', node '{_current.Name}' ({_current.OpType}): {what} mixes values across the first (batch) axis, which Fovea keeps per sample. Import with FirstAxisIsBatch = false (command line: fovea import --whole-input) to treat the whole input as one sample.");

        private bool Has(int i) => i < _current.Input.Count && _current.Input[i].Length > 0;

        /// <summary>The name of input <paramref name="i"/>, or a clear error when the node has fewer inputs.</summary>
        private string InputName(int i, string? what = null) => i < _current.Input.Count ? _current.Input[i]
            : throw Error($"{(what is null ? $"input {i}" : $"{what} (input {i})")} is missing; the node has {_current.Input.Count} input{(_current.Input.Count == 1 ? "" : "s")}.");

        private FoveaNode In(int i)
        {
            var name = InputName(i);
            if (_nodes.TryGetValue(name, out var n)) return n;
            if (_consts.ContainsKey(name)) throw Error($"input {i} ('{name}') is a constant; Fovea needs it computed from the model input.");
            throw Error($"input {i} ('{name}') is not produced by any earlier node.");
        }

        private OnnxConst Const(int i, string what)
        {
            var name = InputName(i, what);
            if (_consts.TryGetValue(name, out var c)) return c;
            if (_nodes.ContainsKey(name)) throw Error($"{what} ('{name}') must be a constant (initializer), not computed from the input.");
            throw Error($"{what} ('{name}') is not defined.");
        }

        private bool IsConst(int i) => Has(i) && _consts.ContainsKey(_current.Input[i]);

        private AttributeProto? Attr(string name) => _current.Attribute.FirstOrDefault(a => a.Name == name);
        private long Int(string name, long fallback) => Attr(name) is { } a ? a.I : fallback;
        private float Float(string name, float fallback) => Attr(name) is { } a ? a.F : fallback;
        private string Str(string name, string fallback) => Attr(name) is { } a ? a.S.ToStringUtf8() : fallback;
        private long[]? Ints(string name) => Attr(name)?.Ints.ToArray();

        /// <summary>An attribute (or constant input) value as int; values a 32-bit int cannot hold are refused, never truncated.</summary>
        private int ToInt(long value, string name)
        {
            if (value < int.MinValue || value > int.MaxValue)
                throw Error($"{name} value {value} is outside the 32-bit integer range Fovea uses.");
            return (int)value;
        }

        private int[] ToInts(long[] values, string name) => values.Select(v => ToInt(v, name)).ToArray();

        /// <summary>Strides, kernels and dilations must be at least 1 (0 would divide by zero when resolving pads).</summary>
        private int[] RequirePositive(int[] values, string name)
        {
            foreach (int v in values)
                if (v <= 0) throw Error($"{name} [{string.Join(", ", values)}] must be positive; received {v}.");
            return values;
        }

        /// <summary>Elements per sample as long; Fovea tensors index with int, so larger samples are refused.</summary>
        private long CheckedCount(int[] shape, string what)
        {
            long count = 1;
            foreach (int d in shape) count = checked(count * d);
            if (count > int.MaxValue) throw Error($"{what} {Tensor.ShapeToString(shape)} holds {count} values per sample; Fovea's limit is {int.MaxValue}.");
            return count;
        }

        private void Output(FoveaNode node) => _nodes[_current.Output[0]] = node;
        private void Output(int i, FoveaNode node) => _nodes[_current.Output[i]] = node;
        private void OutputConst(OnnxConst c) => _consts[_current.Output[0]] = c;

        /// <summary>Whether output <paramref name="i"/> of the current node exists and is read: by a node or as a graph output.</summary>
        private bool IsUsed(int i) =>
            i < _current.Output.Count && _current.Output[i].Length > 0
            && (_graph.Node.Any(n => n.Input.Contains(_current.Output[i])) || _graph.Output.Any(o => o.Name == _current.Output[i]));

        private void RequireUnusedExtraOutputs(string what, int first = 1)
        {
            for (int i = first; i < _current.Output.Count; i++)
                if (IsUsed(i)) throw Error($"output {i} ({what}) is used, which Fovea does not compute.");
        }

        /// <summary><paramref name="name"/> + <paramref name="suffix"/> for a further layer of the current node, or null (the model names it) when taken.</summary>
        private string? DerivedName(string? name, string suffix) => name is not null && _layerNames.Add(name + suffix) ? name + suffix : null;

        private FoveaNode AddLayer(Layer layer, params FoveaNode[] inputs)
        {
            var node = _model.Add(layer, _topNodes.Contains(_current.Name) ? ModelStage.Top : ModelStage.Base, inputs);
            if (_frozenNodes.Contains(_current.Name)) layer.Freeze();
            CheckedCount(node.OutputShape, "the output");
            return node;
        }

        private string? LayerName()
        {
            var raw = _current.Name;
            if (string.IsNullOrWhiteSpace(raw)) return null;
            var name = raw.Replace('.', '_').Replace('/', '_').Trim('_');
            if (name.Length == 0 || name == "input" || !_layerNames.Add(name)) return null;
            return name;
        }

        private int Rank(FoveaNode n) => n.OutputShape.Length + (Batched ? 1 : 0);

        /// <summary>ONNX axis (of the full tensor) → per-sample axis.</summary>
        private int SampleAxis(long axis, int fullRank, string what)
        {
            long a = axis < 0 ? axis + fullRank : axis;
            if (a < 0 || a >= fullRank) throw Error($"{what} {axis} is out of range for rank {fullRank}.");
            if (!Batched) return (int)a;
            if (a == 0) throw BatchError($"{what} 0");
            return (int)a - 1;
        }
    }
}
