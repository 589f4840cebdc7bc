using System.Text.Json;
using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Onnx.Proto;
using Fovea.Tensors;
using FoveaNode = Fovea.Models.Node;

namespace Fovea.Onnx;

/// <summary>Options of <see cref="OnnxImporter"/>.</summary>
public sealed class OnnxImportOptions
{
    /// <summary>
    /// True (default): the input's first axis is the batch (it may be symbolic) and every other axis is per sample.
    /// False: the whole declared input shape is one sample, run as a batch of 1 (for graphs that mix values across their first axis).
    /// </summary>
    public bool FirstAxisIsBatch { get; init; } = true;

    /// <summary>Model name (default: the ONNX graph name, else the file name).</summary>
    public string? Name { get; init; }

    /// <summary>Graph inputs bound to fixed values, which then act as initializers (all inputs but one must be bound or initializers).</summary>
    internal IReadOnlyDictionary<string, OnnxConst>? FixedInputs { get; init; }
}

/// <summary>
/// Imports an ONNX model as a Fovea <see cref="Model"/>: each node becomes a layer, initializers become the layers'
/// weights (trainable: an imported network can be fine-tuned) and saved with <c>ModelFile</c> like any other model.
/// Supported operators: see <see cref="SupportedOperators"/>; opsets 7 to 25 of the default domain.
/// </summary>
public static class OnnxImporter
{
    /// <summary>The ONNX operators the importer maps to Fovea layers.</summary>
    public static IReadOnlyList<string> SupportedOperators { get; } =
    [
        "Add", "AveragePool", "BatchNormalization", "Cast", "CastLike", "Clip", "Concat", "Constant", "Conv", "Div", "Dropout", "Elu", "Exp",
        "Flatten", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "Identity", "LeakyRelu", "Less", "Log", "LogSoftmax", "MatMul", "Max",
        "MaxPool", "Mul", "Pad", "ReduceMax", "ReduceSum", "Relu", "Reshape", "Sigmoid", "Softmax", "Sub", "Tanh", "Transpose", "Where",
    ];

    /// <summary>Lowest supported opset of the default (ai.onnx) domain.</summary>
    public const int MinOpset = 7;

    /// <summary>Highest supported opset of the default domain: the newest one the conformance cases and round trips cover.</summary>
    public const int MaxOpset = 25;

    /// <summary>Reads <paramref name="path"/> and imports it. Throws <see cref="OnnxImportException"/> (a FormatException) naming the file and the problem.</summary>
    public static Model Import(string path, OnnxImportOptions? options = null)
    {
        var proto = OnnxFile.ReadModel(path);
        options ??= new OnnxImportOptions();
        return Import(proto, path, options.Name is null ? options.WithName(Path.GetFileNameWithoutExtension(path), proto) : options);
    }

    /// <summary>Imports a model from its serialized bytes; <paramref name="source"/> names it in messages.</summary>
    public static Model Import(byte[] bytes, string source = "ONNX model", OnnxImportOptions? options = null) =>
        Import(OnnxFile.ParseModel(bytes, source), source, options ?? new OnnxImportOptions());

    private static OnnxImportOptions WithName(this OnnxImportOptions o, string fileName, ModelProto proto) => new()
    {
        FirstAxisIsBatch = o.FirstAxisIsBatch,
        FixedInputs = o.FixedInputs,
        Name = string.IsNullOrWhiteSpace(proto.Graph.Name) ? fileName : proto.Graph.Name,
    };

    internal static Model Import(ModelProto proto, string source, OnnxImportOptions options)
    {
        try { return new GraphImport(proto, source, options).Run(); }
        catch (OnnxImportException) { throw; }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Safety net: a malformed file must end in a format error, never in a crash of the caller.
            throw new OnnxImportException($"'{source}': {Describe(e)}", e);
        }
    }

    /// <summary>The message of an exception; types that only a malformed file can provoke are named, as they say little alone.</summary>
    private static string Describe(Exception e) =>
        e is ArgumentException or InvalidOperationException or IndexOutOfRangeException or KeyNotFoundException or OverflowException
            ? e.Message : $"malformed model ({e.GetType().Name}: {e.Message})";

    private sealed class GraphImport
    {
        private readonly ModelProto _proto;
        private readonly GraphProto _graph;
        private readonly string _source;
        private readonly OnnxImportOptions _options;
        private readonly Dictionary<string, OnnxConst> _consts = new(StringComparer.Ordinal);
        private readonly Dictionary<string, FoveaNode> _nodes = new(StringComparer.Ordinal);
        private readonly HashSet<string> _layerNames = new(StringComparer.Ordinal);
        private Model _model = null!;
        private int _opset;
        private bool Batched => _options.FirstAxisIsBatch;
        private int _declaredBatch = -1;
        private NodeProto _current = null!;
        private HashSet<string> _topNodes = [];

        public GraphImport(ModelProto proto, string source, OnnxImportOptions options)
        {
            _proto = proto; _graph = proto.Graph; _source = source; _options = options;
        }

        public Model Run()
        {
            _opset = ReadOpset();
            foreach (var init in _graph.Initializer) _consts[init.Name] = OnnxTensor.Read(init, "Initializer");
            var input = CreateModel();
            _nodes[input] = _model.Input;
            var skipped = RestoreNormalization(input);
            ReadTopNodes();
            foreach (var node in _graph.Node)
            {
                if (skipped.Contains(node)) continue;
                _current = node;
                try { ImportNode(node); }
                catch (OnnxImportException) { throw; }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    throw new OnnxImportException($"'{_source}', node '{node.Name}' ({node.OpType}): {Describe(e)}", e);
                }
            }
            if (_graph.Output.Count != 1)
                throw new OnnxImportException($"'{_source}' has {_graph.Output.Count} graph outputs ({string.Join(", ", _graph.Output.Select(o => o.Name))}); Fovea models have exactly one.");
            var outName = _graph.Output[0].Name;
            if (!_nodes.TryGetValue(outName, out var outNode))
                throw new OnnxImportException(_consts.ContainsKey(outName)
                    ? $"'{_source}': the graph output '{outName}' is a constant, not computed from the input."
                    : $"'{_source}': no node produces the graph output '{outName}'.");
            _model.SetOutput(outNode);
            ReadMetadata();
            return _model;
        }

        private int ReadOpset()
        {
            int opset = -1;
            foreach (var o in _proto.OpsetImport)
                if (string.IsNullOrEmpty(o.Domain) || o.Domain == "ai.onnx") opset = (int)Math.Clamp(o.Version, -1, int.MaxValue);
            if (opset < 0) throw new OnnxImportException($"'{_source}' declares no opset for the default ONNX domain (opset_import is required; is the file truncated?).");
            if (opset < MinOpset)
                throw new OnnxImportException($"'{_source}' uses opset {opset}; Fovea imports opsets {MinOpset} and later. Convert it with onnx.version_converter first.");
            if (opset > MaxOpset)
                throw new OnnxImportException($"'{_source}' uses opset {opset}; Fovea imports opsets {MinOpset} to {MaxOpset} (later opsets may change operators it reads). Convert it with onnx.version_converter first.");
            return opset;
        }

        private string CreateModel()
        {
            var free = _graph.Input.Where(i => !_consts.ContainsKey(i.Name)).ToList();
            if (_options.FixedInputs is { } fixedInputs)
                foreach (var i in free.ToList())
                    if (fixedInputs.TryGetValue(i.Name, out var c)) { _consts[i.Name] = c; free.Remove(i); }
            if (free.Count != 1)
                throw new OnnxImportException($"'{_source}' has {free.Count} graph inputs that are not initializers ({string.Join(", ", free.Select(i => i.Name))}); Fovea models take exactly one input.");
            var info = free[0];
            var tt = info.Type?.TensorType ?? throw new OnnxImportException($"'{_source}': input '{info.Name}' is not a tensor.");
            if (tt.ElemType != OnnxTensor.Float)
                throw new OnnxImportException($"'{_source}': input '{info.Name}' has element type {OnnxTensor.TypeName(tt.ElemType)}; Fovea models take float32 input.");
            if (tt.Shape is null) throw new OnnxImportException($"'{_source}': input '{info.Name}' has no declared shape; Fovea needs the per-sample shape.");
            var dims = tt.Shape.Dim.Select(d => d.ValueCase != TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? -1
                : d.DimValue > int.MaxValue ? 0 : (int)d.DimValue).ToArray(); // too large for int: reported with the shape below
            int[] sample;
            if (Batched)
            {
                if (dims.Length < 2) throw new OnnxBatchAxisException($"'{_source}': input '{info.Name}' has rank {dims.Length}; with a batch axis first, a sample would have no axes.");
                _declaredBatch = dims[0];
                sample = dims[1..];
            }
            else sample = dims;
            if (sample.Length == 0 || sample.Any(d => d <= 0))
                throw new OnnxImportException($"'{_source}': input '{info.Name}' has shape [{string.Join(", ", tt.Shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue.ToString() : d.DimParam))}]; Fovea needs fixed, positive sample dimensions{(Batched ? " after the batch axis" : "")}.");
            long count = sample.Aggregate(1L, (p, d) => p * d);
            if (count > int.MaxValue)
                throw new OnnxImportException($"'{_source}': input '{info.Name}' has {count} values per sample ({Tensor.ShapeToString(sample)}); Fovea's limit is {int.MaxValue}.");
            _model = new Model(sample, _options.Name ?? (string.IsNullOrWhiteSpace(_graph.Name) ? "onnx_model" : _graph.Name));
            return info.Name;
        }

        private string? Metadata(string key) => _proto.MetadataProps.LastOrDefault(p => p.Key == key)?.Value;

        /// <summary>
        /// A Fovea export marks its normalisation Sub/Div nodes in the metadata: they become Model.Normalization again.
        /// Only the exact form the exporter writes is recognised; anything else is imported as ordinary layers.
        /// </summary>
        private HashSet<NodeProto> RestoreNormalization(string input)
        {
            var none = new HashSet<NodeProto>();
            if (Metadata(OnnxMetadata.Normalization) is null) return none;
            var sub = _graph.Node.FirstOrDefault(n => n.Name == OnnxMetadata.NormalizationSub);
            var div = _graph.Node.FirstOrDefault(n => n.Name == OnnxMetadata.NormalizationDiv);
            if (sub is not { OpType: "Sub", Input.Count: 2, Output.Count: 1 } || div is not { OpType: "Div", Input.Count: 2, Output.Count: 1 }
                || sub.Input[0] != input || div.Input[0] != sub.Output[0]
                || !_consts.TryGetValue(sub.Input[1], out var mean) || !_consts.TryGetValue(div.Input[1], out var std)
                || _graph.Node.Count(n => n.Input.Contains(sub.Output[0])) != 1 || _graph.Output.Any(o => o.Name == sub.Output[0])
                || mean.Length != _model.InputShape[0] || std.Length != _model.InputShape[0])
                return none;
            _model.Normalization = new InputNormalization(mean.Floats(), std.Floats());
            _nodes[div.Output[0]] = _model.Input;
            return [sub, div];
        }

        private void ReadTopNodes()
        {
            if (Metadata(OnnxMetadata.TopNodes) is not { } json) return;
            try { _topNodes = (JsonSerializer.Deserialize<string[]>(json) ?? []).ToHashSet(StringComparer.Ordinal); }
            catch (JsonException e) { throw new OnnxImportException($"'{_source}': metadata '{OnnxMetadata.TopNodes}' is not a JSON array of node names ({e.Message}).", e); }
        }

        private void ReadMetadata()
        {
            foreach (var p in _proto.MetadataProps)
            {
                if (p.Key != OnnxMetadata.ClassNames) continue;
                try { _model.ClassNames = JsonSerializer.Deserialize<string[]>(p.Value) ?? []; }
                catch (JsonException) { _model.ClassNames = p.Value.Split(',').Select(s => s.Trim()).ToArray(); }
            }
        }

        // ---------------- helpers ----------------

        private OnnxImportException Error(string message) => new($"'{_source}', node '{_current.Name}' ({_current.OpType}): {message}");

        private OnnxBatchAxisException BatchError(string what) =>
            new($"'{_source}', node '{_current.Name}' ({_current.OpType}): {what} mixes values across the first (batch) axis, which Fovea keeps per sample. Import with FirstAxisIsBatch = false to treat the whole input as one sample.");

        private bool Has(int i) => i < _current.Input.Count && _current.Input[i].Length > 0;

        private FoveaNode In(int i)
        {
            var name = _current.Input[i];
            if (_nodes.TryGetValue(name, out var n)) return n;
            if (_consts.ContainsKey(name)) throw Error($"input {i} ('{name}') is a constant; Fovea needs it computed from the model input.");
            throw Error($"input {i} ('{name}') is not produced by any earlier node.");
        }

        private OnnxConst Const(int i, string what)
        {
            var name = _current.Input[i];
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
        private void OutputConst(OnnxConst c) => _consts[_current.Output[0]] = c;

        private void RequireUnusedExtraOutputs(string what)
        {
            for (int i = 1; i < _current.Output.Count; i++)
                if (_current.Output[i].Length > 0 && (_graph.Node.Any(n => n.Input.Contains(_current.Output[i])) || _graph.Output.Any(o => o.Name == _current.Output[i])))
                    throw Error($"output {i} ({what}) is used, which Fovea does not compute.");
        }

        private FoveaNode AddLayer(Layer layer, params FoveaNode[] inputs)
        {
            var node = _model.Add(layer, _topNodes.Contains(_current.Name) ? ModelStage.Top : ModelStage.Base, inputs);
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

        // ---------------- operators ----------------

        private void ImportNode(NodeProto node)
        {
            if (!string.IsNullOrEmpty(node.Domain) && node.Domain != "ai.onnx")
                throw Error($"operators of domain '{node.Domain}' are not supported (only the default ai.onnx domain).");
            switch (node.OpType)
            {
                case "Constant": ImportConstant(); break;
                case "Identity":
                    if (IsConst(0)) OutputConst(Const(0, "input")); else Output(In(0));
                    break;
                case "Dropout": ImportDropout(); break;
                case "Relu": Output(AddLayer(new ReLU(LayerName()), In(0))); break;
                case "Sigmoid": Output(AddLayer(new Sigmoid(LayerName()), In(0))); break;
                case "Tanh": Output(AddLayer(new Tanh(LayerName()), In(0))); break;
                case "LeakyRelu": Output(AddLayer(new LeakyReLU(Float("alpha", 0.01f), LayerName()), In(0))); break;
                case "Elu": Output(AddLayer(new Elu(Float("alpha", 1f), LayerName()), In(0))); break;
                case "Clip": ImportClip(); break;
                case "Softmax": ImportSoftmax(log: false); break;
                case "LogSoftmax": ImportSoftmax(log: true); break;
                case "Conv": ImportConv(); break;
                case "BatchNormalization": ImportBatchNorm(); break;
                case "MaxPool": ImportPool(max: true); break;
                case "AveragePool": ImportPool(max: false); break;
                case "GlobalAveragePool": Output(AddLayer(new GlobalAvgPool2D(keepDims: true, LayerName()), Spatial(In(0)))); break;
                case "GlobalMaxPool": Output(AddLayer(new GlobalMaxPool2D(keepDims: true, LayerName()), Spatial(In(0)))); break;
                case "Gemm": ImportGemm(); break;
                case "MatMul": ImportMatMul(); break;
                case "Add": ImportArithmetic(BinaryOp.Add); break;
                case "Sub": ImportArithmetic(BinaryOp.Subtract); break;
                case "Mul": ImportArithmetic(BinaryOp.Multiply); break;
                case "Div": ImportArithmetic(BinaryOp.Divide); break;
                case "Max": ImportMax(); break;
                case "Less": ImportArithmetic(BinaryOp.Less); break;
                case "Exp": Output(AddLayer(new Exp(LayerName()), In(0))); break;
                case "Log": Output(AddLayer(new Log(LayerName()), In(0))); break;
                case "ReduceMax": ImportReduce(ReduceKind.Max); break;
                case "ReduceSum": ImportReduce(ReduceKind.Sum); break;
                case "Where": ImportWhere(); break;
                case "CastLike": ImportCastLike(); break;
                case "Cast": ImportCast(); break;
                case "Flatten": ImportFlatten(); break;
                case "Reshape": ImportReshape(); break;
                case "Concat": ImportConcat(); break;
                case "Pad": ImportPad(); break;
                case "Transpose": ImportTranspose(); break;
                default:
                    throw new OnnxImportException($"'{_source}': operator '{node.OpType}' of node '{node.Name}' is not supported. Supported operators: {string.Join(", ", SupportedOperators)}.");
            }
        }

        private FoveaNode Spatial(FoveaNode x)
        {
            if (x.OutputShape.Length != 3)
                throw Batched || x.OutputShape.Length != 4
                    ? Error($"only 2-D (NCHW) inputs are supported; received a sample of shape {Tensor.ShapeToString(x.OutputShape)}{(Batched ? "" : " (whole tensor)")}.")
                    : BatchError("a spatial operator on a whole-tensor import");
            return x;
        }

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

        private void ImportDropout()
        {
            RequireUnusedExtraOutputs("the dropout mask");
            float ratio = _opset >= 12 ? (IsConst(1) ? Const(1, "ratio").Scalar("ratio") : 0.5f) : Float("ratio", 0.5f);
            if (Has(2) && IsConst(2) && Const(2, "training_mode").Values[0] != 0)
                throw Error("training_mode = true makes the output random; Fovea imports inference graphs (its Dropout layer drops only while training).");
            // Kept as a layer (identity at inference) so fine-tuning regularises as the original network did.
            Output(ratio > 0f && ratio < 1f ? AddLayer(new Layers.Dropout(ratio, LayerName()), In(0)) : In(0));
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

        private void ImportConv()
        {
            var x = In(0);
            var w = Const(1, "weight W");
            if (w.Shape.Length != 4) throw Error($"only 2-D convolutions are supported; the weight has shape [{string.Join(", ", w.Shape)}].");
            Spatial(x);
            var kernel = RequirePositive([w.Shape[2], w.Shape[3]], "the weight's kernel size");
            if (Ints("kernel_shape") is { } ks && (ks.Length != 2 || ks[0] != kernel[0] || ks[1] != kernel[1]))
                throw Error($"kernel_shape [{string.Join(", ", ks)}] does not match the weight [{string.Join(", ", w.Shape)}].");
            var strides = RequirePositive(IntsOr("strides", 2, 1), "strides");
            var dilations = RequirePositive(IntsOr("dilations", 2, 1), "dilations");
            int group = ToInt(Int("group", 1), "group");
            if (group <= 0) throw Error($"group must be positive; received {group}.");
            var pads = ResolvePads(x.OutputShape[1..], kernel, strides, dilations);
            OnnxConst? b = Has(2) ? Const(2, "bias B") : null;
            var conv = new Conv2D(w.Shape[0], (kernel[0], kernel[1]), (strides[0], strides[1]), ToPadding(pads), (dilations[0], dilations[1]),
                group, useBias: b is not null, name: LayerName());
            var node = AddLayer(conv, x);
            Copy(w, conv.Weight, "weight W");
            if (b is not null) Copy(b, conv.Bias!, "bias B");
            Output(node);
        }

        private void Copy(OnnxConst c, Tensor target, string what)
        {
            if (c.Length != target.Length)
                throw Error($"{what} has {c.Length} values (shape [{string.Join(", ", c.Shape)}]) but the layer needs {Tensor.ShapeToString(target.Shape)}.");
            for (int i = 0; i < c.Length; i++) target.Span[i] = (float)c.Values[i];
        }

        private void ImportBatchNorm()
        {
            RequireUnusedExtraOutputs("updated running statistics");
            // Training mode normalises with the batch's own statistics even without the extra outputs: refused, not approximated.
            if (Int("training_mode", 0) != 0)
                throw Error($"training_mode = {Int("training_mode", 0)} is a training step (batch statistics); Fovea imports inference graphs.");
            if (Int("spatial", 1) != 1) throw Error("spatial = 0 (per-activation statistics) is not supported.");
            var x = In(0);
            if (x.OutputShape.Length != 3 && x.OutputShape.Length != 1)
                throw Batched ? Error($"BatchNormalization needs samples [C, H, W] or [C]; received {Tensor.ShapeToString(x.OutputShape)}.") : BatchError("BatchNormalization on a whole-tensor import");
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

        private void ImportPool(bool max)
        {
            RequireUnusedExtraOutputs("the argmax indices");
            var x = In(0);
            var ks = Ints("kernel_shape") ?? throw Error("kernel_shape is required.");
            int n = ks.Length;
            if (n < 1 || n > 3) throw Error($"pooling over {n} axes is not supported (1 to 3).");
            if (x.OutputShape.Length != n + 1)
                throw Batched ? Error($"kernel_shape has {n} axes but a sample has shape {Tensor.ShapeToString(x.OutputShape)}; [C, spatial...] expected.") : BatchError("pooling on a whole-tensor import");
            var kernel = RequirePositive(ToInts(ks, "kernel_shape"), "kernel_shape");
            var strides = RequirePositive(IntsOr("strides", n, 1), "strides");
            var dilations = RequirePositive(IntsOr("dilations", n, 1), "dilations");
            var pads = ResolvePads(x.OutputShape[1..], kernel, strides, dilations);
            bool ceil = Int("ceil_mode", 0) != 0, includePad = Int("count_include_pad", 0) != 0;
            Pool2DBase Pool(int kh, int kw, int sh, int sw, int dh, int dw, (int B, int A) ph, (int B, int A) pw, string? name) => max
                ? new MaxPool2D((kh, kw), (sh, sw), ToPadding([ph, pw]), ceil, name) { Dilation = (dh, dw) }
                : new AvgPool2D((kh, kw), (sh, sw), ToPadding([ph, pw]), ceil, includePad, name) { Dilation = (dh, dw) };
            int c = x.OutputShape[0];
            switch (n)
            {
                case 2:
                    Output(AddLayer(Pool(kernel[0], kernel[1], strides[0], strides[1], dilations[0], dilations[1], pads[0], pads[1], LayerName()), x));
                    break;
                case 1:
                {
                    // [C, L] pooled as [C, 1, L] with a 1 × k window.
                    var flat = AddLayer(new Layers.Reshape([c, 1, x.OutputShape[1]]), x);
                    var pooled = AddLayer(Pool(1, kernel[0], 1, strides[0], 1, dilations[0], (0, 0), pads[0], null), flat);
                    Output(AddLayer(new Layers.Reshape([c, pooled.OutputShape[2]], LayerName()), pooled));
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
                    Output(AddLayer(new Layers.Reshape([c, depth.OutputShape[1], oh, ow], LayerName()), depth));
                    break;
                }
            }
        }

        private void ImportGemm()
        {
            var x = In(0);
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

        private void ImportMatMul()
        {
            var x = In(0);
            var b = Const(1, "B");
            int ps = x.OutputShape.Length;
            if (Batched && (ps == 1 ? b.Shape.Length > 2 : b.Shape.Length > ps)) throw BatchError($"multiplying samples {Tensor.ShapeToString(x.OutputShape)} by B [{string.Join(", ", b.Shape)}]");
            if (Batched && ps == 1 && b.Shape.Length == 2)
            {
                // [K] · [K, N]: exactly a Dense layer without bias.
                int k = b.Shape[0], n = b.Shape[1];
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
            int target = _nodes.ContainsKey(_current.Input[1]) ? OnnxTensor.Float : Const(1, "target_type").DataType;
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
                if (!toFloat) throw Error($"casting a constant to {OnnxTensor.TypeName(to)} is not supported.");
                var c = Const(0, "input");
                OutputConst(c with { Values = c.Values.Select(v => (double)(float)v).ToArray(), DataType = OnnxTensor.Float });
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

        private void ImportReduce(ReduceKind kind)
        {
            var x = In(0);
            int rank = Rank(x);
            long[]? axes = (_opset >= 18 || (kind == ReduceKind.Sum && _opset >= 13)) ? (Has(1) ? Const(1, "axes").Longs() : null) : Ints("axes");
            if (axes is null || axes.Length == 0)
            {
                if (Int("noop_with_empty_axes", 0) != 0) { Output(x); return; }
                axes = Enumerable.Range(0, rank).Select(a => (long)a).ToArray();
            }
            var sampleAxes = axes.Select(a => SampleAxis(a, rank, "axis")).ToArray();
            Output(AddLayer(new Reduce(kind, sampleAxes, Int("keepdims", 1) != 0, LayerName()), x));
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

        /// <summary>A constant operand as a per-sample layer output; ONNX right-aligns it against the whole tensor.</summary>
        private FoveaNode ConstantOperand(OnnxConst c, FoveaNode anchor, int fullRank)
        {
            var shape = c.Shape;
            if (Batched)
                while (shape.Length >= fullRank)
                {
                    if (shape[0] != 1) throw BatchError($"a constant of shape [{string.Join(", ", c.Shape)}]");
                    shape = shape[1..];
                }
            var layer = new ConstantTensor(shape);
            var node = AddLayer(layer, anchor);
            Copy(c, layer.Value, "constant");
            return node;
        }

        private static OnnxConst Fold(OnnxConst a, OnnxConst b, BinaryOp op)
        {
            var ta = new Tensor(a.Shape, a.Floats()); var tb = new Tensor(b.Shape, b.Floats());
            var y = Tape.NoGrad(() => Ops.Broadcast(ta, tb, op));
            return new OnnxConst(y.Shape, y.ToArray().Select(v => (double)v).ToArray(), a.DataType);
        }

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
                bool keepsBatch = (target[0] == 0 && !allowZero)
                    || (target[0] == -1 && !target.Skip(1).Contains(-1) && !target.Skip(1).Contains(0) && target.Skip(1).Aggregate(1L, (p, d) => p * d) == count)
                    || (target[0] == _declaredBatch && _declaredBatch > 0);
                if (!keepsBatch) throw BatchError($"shape [{string.Join(", ", target)}]");
                // 0 at position i copies the full tensor's axis i, which is sample axis i - 1.
                var rest = target.Skip(1).Select((d, i) => d == 0 && !allowZero ? (i < s.Length ? s[i] : throw Error($"shape copies axis {i + 1}, which the input lacks.")) : d).ToArray();
                sample = ResolveShape(s, rest, allowZero: true);
                if (sample.Aggregate(1L, (p, d) => p * d) != count) throw BatchError($"shape [{string.Join(", ", target)}]");
            }
            Output(AddLayer(new Layers.Reshape(sample, LayerName()), x));
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

        private void ImportConcat()
        {
            var inputs = Enumerable.Range(0, _current.Input.Count).Where(Has).ToArray();
            if (inputs.All(IsConst)) throw Error("concatenating constants only is not supported.");
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
