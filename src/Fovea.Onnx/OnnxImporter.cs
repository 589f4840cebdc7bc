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
    /// False: the whole declared input shape is one sample, run as a batch of 1 (for graphs that mix values across their first axis);
    /// a symbolic first axis (a dynamic batch) is then taken as 1.
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
/// Supported operators: see <see cref="SupportedOperators"/>; opsets 7 to 26 of the default domain.
/// </summary>
public static partial class OnnxImporter
{
    /// <summary>The ONNX operators the importer maps to Fovea layers.</summary>
    public static IReadOnlyList<string> SupportedOperators { get; } =
    [
        "Add", "AveragePool", "BatchNormalization", "Cast", "CastLike", "Clip", "Concat", "Constant", "Conv", "Div", "Dropout", "Elu", "Exp",
        "Expand", "Flatten", "Gather", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "HardSigmoid", "HardSwish", "Identity", "LeakyRelu", "Less", "Log", "LogSoftmax", "MatMul", "Max",
        "MaxPool", "Mul", "Pad", "PRelu", "ReduceMax", "ReduceMean", "ReduceSum", "Relu", "Reshape", "Shape", "Sigmoid", "Softmax", "Squeeze", "Sub", "Tanh",
        "Transpose", "Unsqueeze", "Where",
    ];

    /// <summary>Lowest supported opset of the default (ai.onnx) domain.</summary>
    public const int MinOpset = 7;

    /// <summary>
    /// Highest supported opset of the default domain: 26, the newest released (ONNX 1.21). It only added BitCast and
    /// CumProd, so every supported operator reads as at 25, the newest the shared conformance cases use; round trips
    /// through ONNX Runtime cover every opset up to it.
    /// </summary>
    public const int MaxOpset = 26;

    /// <summary>
    /// Reads <paramref name="path"/> and imports it; the model's output is the graph's first output (see
    /// <see cref="ImportGraph(string, OnnxImportOptions?)"/> for the others). Throws <see cref="OnnxImportException"/>
    /// (a FormatException) naming the file and the problem.
    /// </summary>
    public static Model Import(string path, OnnxImportOptions? options = null) => ImportGraph(path, options).Model;

    /// <summary>Imports a model from its serialized bytes; <paramref name="source"/> names it in messages.</summary>
    public static Model Import(byte[] bytes, string source = "ONNX model", OnnxImportOptions? options = null) =>
        ImportGraph(bytes, source, options).Model;

    /// <summary>
    /// As <see cref="Import(string, OnnxImportOptions?)"/>, also returning the node of every graph output by name (a
    /// MaxPool's Indices, a Dropout's mask, the running statistics of a training-mode BatchNormalization, ...).
    /// </summary>
    public static OnnxImportResult ImportGraph(string path, OnnxImportOptions? options = null)
    {
        var proto = OnnxFile.ReadModel(path);
        options ??= new OnnxImportOptions();
        return ImportGraph(proto, path, options.Name is null ? options.WithName(Path.GetFileNameWithoutExtension(path), proto) : options);
    }

    /// <summary>As <see cref="Import(byte[], string, OnnxImportOptions?)"/>, also returning the node of every graph output by name.</summary>
    public static OnnxImportResult ImportGraph(byte[] bytes, string source = "ONNX model", OnnxImportOptions? options = null) =>
        ImportGraph(OnnxFile.ParseModel(bytes, source), source, options ?? new OnnxImportOptions());

    private static OnnxImportOptions WithName(this OnnxImportOptions o, string fileName, ModelProto proto) => new()
    {
        FirstAxisIsBatch = o.FirstAxisIsBatch,
        FixedInputs = o.FixedInputs,
        Name = string.IsNullOrWhiteSpace(proto.Graph.Name) ? fileName : proto.Graph.Name,
    };

    internal static Model Import(ModelProto proto, string source, OnnxImportOptions options) => ImportGraph(proto, source, options).Model;

    internal static OnnxImportResult ImportGraph(ModelProto proto, string source, OnnxImportOptions options)
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

    private sealed partial class GraphImport
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
        private HashSet<string> _topNodes = [], _frozenNodes = [];

        public GraphImport(ModelProto proto, string source, OnnxImportOptions options)
        {
            _proto = proto; _graph = proto.Graph; _source = source; _options = options;
        }

        public OnnxImportResult Run()
        {
            _opset = ReadOpset();
            try { foreach (var init in _graph.Initializer) _consts[init.Name] = OnnxTensor.Read(init, "initializer"); }
            catch (OnnxTensorException e) { throw new OnnxImportException($"'{_source}': {e.Message}", e); }
            var input = CreateModel();
            _nodes[input] = _model.Input;
            var skipped = RestoreNormalization(input);
            ReadTopNodes();
            var defined = DefinedNames();
            foreach (var node in _graph.Node)
            {
                _current = node;
                // Checked for every node, the normalisation ones too: a later definition would silently replace a value.
                foreach (var name in node.Output)
                    if (name.Length > 0 && !defined.TryAdd(name, $"node '{node.Name}'"))
                        throw Error($"output '{name}' is already defined by {defined[name]}; ONNX names each value once.");
                if (skipped.Contains(node)) continue;
                try { ImportNode(node); }
                catch (OnnxTensorException e) { throw Error(e.Message, e); }
                catch (OnnxImportException) { throw; }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    throw new OnnxImportException($"'{_source}', node '{node.Name}' ({node.OpType}): {Describe(e)}", e);
                }
            }
            var outputs = ReadGraphOutputs();
            _model.SetOutput(outputs[0].Node);
            ReadMetadata();
            return new OnnxImportResult(_model, outputs);
        }

        /// <summary>The values defined before any node runs, each with what defines it.</summary>
        private Dictionary<string, string> DefinedNames()
        {
            var defined = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var init in _graph.Initializer) defined.TryAdd(init.Name, "an initializer");
            // Old opsets list initializers among the inputs too: those names stay initializers.
            foreach (var input in _graph.Input) defined.TryAdd(input.Name, "the graph input");
            return defined;
        }

        /// <summary>Every graph output as a node of the model; each must be computed from the input.</summary>
        private List<OnnxGraphOutput> ReadGraphOutputs()
        {
            if (_graph.Output.Count == 0) throw new OnnxImportException($"'{_source}' declares no graph outputs.");
            var outputs = new List<OnnxGraphOutput>();
            foreach (var info in _graph.Output)
            {
                if (!_nodes.TryGetValue(info.Name, out var node))
                    throw new OnnxImportException(_consts.ContainsKey(info.Name)
                        ? $"'{_source}': the graph output '{info.Name}' is a constant, not computed from the input."
                        : $"'{_source}': no node produces the graph output '{info.Name}'.");
                outputs.Add(new OnnxGraphOutput(info.Name, node, OnnxTensor.TypeName(info.Type?.TensorType?.ElemType ?? 0)));
            }
            return outputs;
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
                : d.DimValue > int.MaxValue || d.DimValue < 0 ? -2 : (int)d.DimValue).ToArray(); // out of int range: reported with the shape below
            // Taken whole, a graph exported with a dynamic batch axis is one sample of one: its symbolic first axis is 1.
            if (!Batched && dims.Length > 1 && dims[0] == -1) dims[0] = 1;
            int[] sample;
            if (Batched)
            {
                if (dims.Length < 2) throw new OnnxBatchAxisException($"'{_source}': input '{info.Name}' has rank {dims.Length}; with a batch axis first, a sample would have no axes.");
                _declaredBatch = dims[0];
                sample = dims[1..];
            }
            else sample = dims;
            // A 0 is a real size (an empty tensor, which layers that only move values take); symbolic sizes are not.
            if (sample.Length == 0 || sample.Any(d => d < 0))
                throw new OnnxImportException($"'{_source}': input '{info.Name}' has shape [{string.Join(", ", tt.Shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue.ToString() : d.DimParam))}]; Fovea needs fixed, non-negative sample dimensions{(Batched ? " after the batch axis" : "")}.");
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
            _topNodes = NodeNames(OnnxMetadata.TopNodes);
            _frozenNodes = NodeNames(OnnxMetadata.FrozenNodes);
        }

        private HashSet<string> NodeNames(string key)
        {
            if (Metadata(key) is not { } json) return [];
            try { return (JsonSerializer.Deserialize<string[]>(json) ?? []).ToHashSet(StringComparer.Ordinal); }
            catch (JsonException e) { throw new OnnxImportException($"'{_source}': metadata '{key}' is not a JSON array of node names ({e.Message}).", e); }
        }

        private void ReadMetadata()
        {
            foreach (var p in _proto.MetadataProps)
            {
                if (p.Key != OnnxMetadata.ClassNames) continue;
                if (string.IsNullOrWhiteSpace(p.Value)) { _model.ClassNames = []; continue; }
                try { _model.ClassNames = JsonSerializer.Deserialize<string[]>(p.Value) ?? []; }
                catch (JsonException) { _model.ClassNames = p.Value.Split(',').Select(s => s.Trim()).ToArray(); }
                catch (ArgumentException e) { throw new OnnxImportException($"'{_source}': metadata '{OnnxMetadata.ClassNames}' is {p.Value}: {e.Message}", e); }
            }
            // Checked as a saved model is when loaded, so that fovea import never writes a file its loader refuses (a null
            // name is refused by the ClassNames setter above).
            var names = _model.ClassNames;
            int outputs = _model.OutputShape.Aggregate(1, (a, b) => a * b);
            string where = $"'{_source}': metadata '{OnnxMetadata.ClassNames}'";
            if (names.Count != 0 && names.Count != outputs)
                throw new OnnxImportException($"{where} has {names.Count} class names for {outputs} outputs ({Tensor.ShapeToString(_model.OutputShape)}); one per output expected.");
        }

        // ---------------- operators ----------------

        private void ImportNode(NodeProto node)
        {
            if (!string.IsNullOrEmpty(node.Domain) && node.Domain != "ai.onnx")
                throw Error($"operators of domain '{node.Domain}' are not supported (only the default ai.onnx domain). Supported operators: {string.Join(", ", SupportedOperators)}.");
            // Every operator read here has a first output (later ones may be optional, written as "").
            if (node.Output.Count == 0 || node.Output[0].Length == 0) throw Error("has no output; its first output is required.");
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
                case "ReduceMean": ImportReduce(ReduceKind.Sum, mean: true); break;
                case "Squeeze": ImportSqueeze(); break;
                case "Unsqueeze": ImportUnsqueeze(); break;
                case "Where": ImportWhere(); break;
                case "CastLike": ImportCastLike(); break;
                case "Cast": ImportCast(); break;
                case "Flatten": ImportFlatten(); break;
                case "Reshape": ImportReshape(); break;
                case "Concat": ImportConcat(); break;
                case "Shape": ImportShape(); break;
                case "Expand": ImportExpand(); break;
                case "HardSigmoid": ImportHardSigmoid(); break;
                case "HardSwish": ImportHardSwish(); break;
                case "PRelu": ImportPRelu(); break;
                case "Gather": ImportGather(); break;
                case "Pad": ImportPad(); break;
                case "Transpose": ImportTranspose(); break;
                default:
                    throw new OnnxImportException($"'{_source}': operator '{node.OpType}' of node '{node.Name}' is not supported. Supported operators: {string.Join(", ", SupportedOperators)}.");
            }
        }
    }
}

