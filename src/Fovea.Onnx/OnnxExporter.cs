using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Onnx.Proto;
using Fovea.Tensors;

namespace Fovea.Onnx;

/// <summary>
/// Writes a Fovea model (sequential or graph) as an ONNX model: input "input" [N, ...InputShape] with a dynamic batch
/// dimension "N", output "output", weights as initializers, the model's input normalisation as Sub/Div nodes, and the
/// class names in the metadata ("class_names", a JSON array). Runs in ONNX Runtime and other ONNX backends.
/// Fovea's metadata keys (<see cref="OnnxMetadata"/>) mark the normalisation nodes and the top-stage nodes for re-import.
/// </summary>
public static partial class OnnxExporter
{
    /// <summary>Default opset of the default (ai.onnx) domain.</summary>
    public const int DefaultOpset = 13;
    /// <summary>Lowest opset Fovea writes.</summary>
    public const int MinOpset = 11;
    /// <summary>
    /// Highest opset Fovea writes: the highest it imports (<see cref="OnnxImporter.MaxOpset"/>), so every export re-imports;
    /// ONNX Runtime 1.31.1 runs it.
    /// </summary>
    public const int MaxOpset = OnnxImporter.MaxOpset;

    /// <summary>
    /// Exports <paramref name="model"/> to <paramref name="path"/>. The whole model is built first and written through a
    /// temporary file in the same folder and a rename: a model that cannot be exported, or a failed write, leaves an
    /// existing file at <paramref name="path"/> as it was.
    /// </summary>
    public static void Export(Model model, string path, int opset = DefaultOpset)
    {
        var bytes = ToBytes(model, opset);
        OnnxFile.WriteAtomic(path, bytes);
    }

    /// <summary>The serialized ONNX model.</summary>
    public static byte[] ToBytes(Model model, int opset = DefaultOpset) => Build(model, opset).ToByteArray();

    internal static ModelProto Build(Model model, int opset)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (opset < MinOpset || opset > MaxOpset)
            throw new ArgumentOutOfRangeException(nameof(opset), opset, $"Fovea exports ONNX opsets {MinOpset} to {MaxOpset}. Received: {opset}.");
        return WriteUniquelyNamed(model, opset);
    }

    // The IR version released with each opset (IR 11 came with opset 23); Fovea uses no IR feature newer than that.
    private static int IrVersion(int opset) => opset switch { <= 14 => 7, <= 18 => 8, <= 20 => 9, <= 22 => 10, _ => 11 };

    private sealed partial class Writer(Model model, int opset, IReadOnlyDictionary<int, string> renamed)
    {
        private readonly GraphProto _graph = new() { Name = model.Name };
        private readonly string[] _names = new string[model.Nodes.Count];
        private readonly List<string> _topNodes = [];
        private readonly List<string> _frozenNodes = [];

        public ModelProto Run()
        {
            _graph.Input.Add(ValueInfo("input", model.InputShape));
            _names[0] = "input";
            if (model.Normalization is { } norm) _names[0] = Normalize(norm);
            Own(-1);
            var needed = Needed();
            for (int i = 1; i < model.Nodes.Count; i++)
            {
                if (!needed[i]) continue;
                var node = model.Nodes[i];
                string name = renamed.GetValueOrDefault(i, node.Name);
                _names[i] = name;
                var inputs = node.InputIndices.Select(j => _names[j]).ToArray();
                int first = _graph.Node.Count;
                try { Emit(node.Layer!, inputs, name, node); }
                catch (ArgumentException e) { throw new NotSupportedException($"Layer '{node.Name}' ({node.Layer!.TypeName}) cannot be exported to ONNX opset {opset}: {e.Message}", e); }
                Own(i);
                if (node.Stage == ModelStage.Top) _topNodes.AddRange(_graph.Node.Skip(first).Select(n => n.Name));
                if (!node.Layer!.Trainable) _frozenNodes.AddRange(_graph.Node.Skip(first).Select(n => n.Name));
            }
            var outName = _names[model.Output.Index];
            // The graph output needs its own name; an Identity also covers a model whose output is its input.
            _graph.Node.Add(Node("Identity", [outName], ["output"], "output_identity"));
            Own(-1);
            _graph.Output.Add(ValueInfo("output", model.OutputShape));
            var proto = new ModelProto
            {
                IrVersion = IrVersion(opset),
                ProducerName = "Fovea",
                ProducerVersion = typeof(Model).Assembly.GetName().Version?.ToString() ?? "0",
                Graph = _graph,
            };
            proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
            // Names describe the outputs one by one; a model cut before its classifier keeps names that no longer do.
            if (model.ClassNames.Count > 0 && model.ClassNames.Count == model.OutputShape.Aggregate(1, (a, b) => a * b))
                proto.MetadataProps.Add(new StringStringEntryProto { Key = "class_names", Value = JsonSerializer.Serialize(model.ClassNames) });
            // Fovea's own keys, so a re-import restores what the graph alone cannot say (other tools ignore them).
            if (model.Normalization is { } n)
                proto.MetadataProps.Add(new StringStringEntryProto
                {
                    Key = OnnxMetadata.Normalization,
                    Value = JsonSerializer.Serialize(new { nodes = new[] { OnnxMetadata.NormalizationSub, OnnxMetadata.NormalizationDiv }, mean = n.Mean, std = n.Std }),
                });
            if (_topNodes.Count > 0)
                proto.MetadataProps.Add(new StringStringEntryProto { Key = OnnxMetadata.TopNodes, Value = JsonSerializer.Serialize(_topNodes) });
            if (_frozenNodes.Count > 0)
                proto.MetadataProps.Add(new StringStringEntryProto { Key = OnnxMetadata.FrozenNodes, Value = JsonSerializer.Serialize(_frozenNodes) });
            return proto;
        }

        private bool[] Needed()
        {
            var needed = new bool[model.Nodes.Count];
            needed[model.Output.Index] = true;
            for (int i = model.Nodes.Count - 1; i > 0; i--)
                if (needed[i]) foreach (int j in model.Nodes[i].InputIndices) needed[j] = true;
            return needed;
        }

        private static ValueInfoProto ValueInfo(string name, int[] sampleShape)
        {
            var shape = new TensorShapeProto();
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
            foreach (int d in sampleShape) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = OnnxTensor.Float, Shape = shape } } };
        }

        private string Normalize(InputNormalization norm)
        {
            var shape = new long[model.InputShape.Length];
            Array.Fill(shape, 1L);
            shape[0] = norm.Mean.Length;
            Init("normalization_mean", norm.Mean, shape);
            Init("normalization_std", norm.Std, shape);
            _graph.Node.Add(Node("Sub", ["input", "normalization_mean"], ["input_centered"], OnnxMetadata.NormalizationSub));
            _graph.Node.Add(Node("Div", ["input_centered", "normalization_std"], ["input_normalized"], OnnxMetadata.NormalizationDiv));
            return "input_normalized";
        }

        private string Init(string name, ReadOnlySpan<float> values, params long[] dims)
        {
            _graph.Initializer.Add(OnnxTensor.FromFloats(name, values, dims));
            return name;
        }

        private string InitLongs(string name, long[] values)
        {
            _graph.Initializer.Add(OnnxTensor.FromLongs(name, values, values.Length));
            return name;
        }

        private static long[] Dims(Tensor t) => t.Shape.Select(d => (long)d).ToArray();

        private static NodeProto Node(string op, string[] inputs, string[] outputs, string name, params AttributeProto[] attributes)
        {
            var n = new NodeProto { OpType = op, Name = name };
            n.Input.AddRange(inputs); n.Output.AddRange(outputs); n.Attribute.AddRange(attributes);
            return n;
        }

        private static AttributeProto Ints(string name, params long[] v)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.AddRange(v);
            return a;
        }

        private static AttributeProto IntAttr(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };
        private static AttributeProto FloatAttr(string name, float v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = v };
        private static AttributeProto StrAttr(string name, string v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(v) };

        private void Add(string op, string[] inputs, string output, string name, params AttributeProto[] attributes) =>
            _graph.Node.Add(Node(op, inputs, [output], name, attributes));

        private void Emit(Layer layer, string[] x, string name, Models.Node node)
        {
            var inShape = layer.InputShapes[0];
            switch (layer)
            {
                case Conv2D c:
                {
                    var (t, b) = c.Padding.Resolve(inShape[1], c.KernelSize.Height, c.Stride.Height, c.Dilation.Height, vertical: true);
                    var (l, r) = c.Padding.Resolve(inShape[2], c.KernelSize.Width, c.Stride.Width, c.Dilation.Width, vertical: false);
                    var inputs = new List<string> { x[0], Init(name + ".weight", c.Weight.Span, Dims(c.Weight)) };
                    if (c.Bias is not null) inputs.Add(Init(name + ".bias", c.Bias.Span, Dims(c.Bias)));
                    Add("Conv", inputs.ToArray(), name, name, Ints("kernel_shape", c.KernelSize.Height, c.KernelSize.Width),
                        Ints("strides", c.Stride.Height, c.Stride.Width), Ints("dilations", c.Dilation.Height, c.Dilation.Width),
                        Ints("pads", t, l, b, r), IntAttr("group", c.Groups));
                    break;
                }
                case Pool2DBase p:
                {
                    var (t, b) = p.Padding.Resolve(inShape[1], p.PoolSize.Height, p.Stride.Height, p.Dilation.Height, vertical: true);
                    var (l, r) = p.Padding.Resolve(inShape[2], p.PoolSize.Width, p.Stride.Width, p.Dilation.Width, vertical: false);
                    var attrs = new List<AttributeProto>
                    {
                        Ints("kernel_shape", p.PoolSize.Height, p.PoolSize.Width), Ints("strides", p.Stride.Height, p.Stride.Width),
                        Ints("pads", t, l, b, r), IntAttr("ceil_mode", p.CeilMode ? 1 : 0),
                    };
                    bool avg = p is AvgPool2D;
                    if (p.Dilation != (1, 1))
                    {
                        if (avg && opset < 19) throw new ArgumentException("AveragePool dilations need opset 19 or later.");
                        attrs.Add(Ints("dilations", p.Dilation.Height, p.Dilation.Width));
                    }
                    if (avg) attrs.Add(IntAttr("count_include_pad", (bool)p.GetConfig()["count_include_pad"]! ? 1 : 0));
                    Add(avg ? "AveragePool" : "MaxPool", [x[0]], name, name, attrs.ToArray());
                    break;
                }
                case GlobalAvgPool2D g: GlobalPool("GlobalAveragePool", g.KeepDims, x[0], name); break;
                case GlobalMaxPool2D g: GlobalPool("GlobalMaxPool", g.KeepDims, x[0], name); break;
                case Dense d:
                {
                    var inputs = new List<string> { x[0], Init(name + ".weight", d.Weight.Span, Dims(d.Weight)) };
                    if (d.Bias is not null) inputs.Add(Init(name + ".bias", d.Bias.Span, Dims(d.Bias)));
                    Add("Gemm", inputs.ToArray(), name, name, IntAttr("transB", 1));
                    break;
                }
                case Layers.Flatten: Add("Flatten", [x[0]], name, name, IntAttr("axis", 1)); break;
                case ReLU: Add("Relu", [x[0]], name, name); break;
                case Sigmoid: Add("Sigmoid", [x[0]], name, name); break;
                case Tanh: Add("Tanh", [x[0]], name, name); break;
                case LeakyReLU lr: Add("LeakyRelu", [x[0]], name, name, FloatAttr("alpha", lr.Alpha)); break;
                case Elu e: Add("Elu", [x[0]], name, name, FloatAttr("alpha", e.Alpha)); break;
                case Layers.Clip c:
                    Add("Clip", [x[0], float.IsInfinity(c.Min) ? "" : Init(name + ".min", [c.Min]), float.IsInfinity(c.Max) ? "" : Init(name + ".max", [c.Max])], name, name);
                    break;
                case Layers.Softmax: Add("Softmax", [x[0]], name, name, IntAttr("axis", opset >= 13 ? -1 : inShape.Length)); break;
                case AxisSoftmax s: Softmax(s, x[0], inShape, name); break;
                case Layers.Dropout dr:
                    if (opset >= 12) Add("Dropout", [x[0], Init(name + ".ratio", [dr.Rate])], name, name);
                    else Add("Dropout", [x[0]], name, name, FloatAttr("ratio", dr.Rate));
                    break;
                case BatchNorm2D bn:
                    Add("BatchNormalization", [x[0], Init(name + ".gamma", bn.Gamma.Span, Dims(bn.Gamma)), Init(name + ".beta", bn.Beta.Span, Dims(bn.Beta)),
                        Init(name + ".running_mean", bn.RunningMean.Span, Dims(bn.RunningMean)), Init(name + ".running_var", bn.RunningVariance.Span, Dims(bn.RunningVariance))],
                        name, name, FloatAttr("epsilon", bn.Epsilon), FloatAttr("momentum", 1f - bn.Momentum));
                    break;
                case Layers.Add: Add("Add", [x[0], x[1]], name, name); break;
                case Arithmetic a:
                {
                    var s0 = layer.InputShapes[0]; var s1 = layer.InputShapes[1];
                    string l = x[0], r = x[1];
                    // Fovea aligns per-sample axes after the batch; ONNX right-aligns whole tensors: lift the lower rank.
                    if (s0.Length < s1.Length) l = Lift(l, s0, s1.Length, name + "_lift_a");
                    else if (s1.Length < s0.Length) r = Lift(r, s1, s0.Length, name + "_lift_b");
                    Binary(a.Op, l, r, name);
                    break;
                }
                case ConstantArithmetic ca:
                {
                    var c = Init(name + ".constant", ca.Constant.Span, Dims(ca.Constant));
                    if (ca.ConstantFirst) Binary(ca.Op, c, x[0], name); else Binary(ca.Op, x[0], c, name);
                    break;
                }
                case Layers.MatMul mm:
                {
                    int ps = inShape.Length, wr = mm.WeightShape.Length;
                    if (ps == 1 ? wr > 2 : wr > ps) throw new ArgumentException($"a weight of rank {wr} on samples of rank {ps} would broadcast over the batch in ONNX.");
                    Add("MatMul", [x[0], Init(name + ".weight", mm.Weight.Span, Dims(mm.Weight))], name, name);
                    break;
                }
                case MatMulPair:
                {
                    // As the layer runs it: vectors as a row (a) or a column (b), then 1s behind the batch axis up to one rank.
                    var s0 = layer.InputShapes[0]; var s1 = layer.InputShapes[1];
                    int[] a = s0.Length == 1 ? [1, s0[0]] : s0, b = s1.Length == 1 ? [s1[0], 1] : s1;
                    int rank = Math.Max(a.Length, b.Length);
                    string l = a.Length < rank || s0.Length == 1 ? Lift(x[0], a, rank, name + "_lift_a") : x[0];
                    string r = b.Length < rank || s1.Length == 1 ? Lift(x[1], b, rank, name + "_lift_b") : x[1];
                    if (l == x[0] && r == x[1]) { Add("MatMul", [l, r], name, name); break; }
                    Add("MatMul", [l, r], name + "_product", name + "_product");
                    ReshapeSamples(name + "_product", node.OutputShape.Select(d => (long)d).ToArray(), name);
                    break;
                }
                case Layers.Reshape rs: ReshapeSamples(x[0], rs.TargetShape.Select(d => (long)d).ToArray(), name); break;
                case Layers.Transpose tr: Add("Transpose", [x[0]], name, name, Ints("perm", [0, .. tr.Permutation.Select(p => (long)p + 1)])); break;
                case Concat cc:
                {
                    int axis = (cc.Axis < 0 ? cc.Axis + inShape.Length : cc.Axis) + 1;
                    Add("Concat", x, name, name, IntAttr("axis", axis));
                    break;
                }
                case Layers.Pad pd:
                {
                    long[] pads = [0, .. pd.Before.Select(v => (long)v), 0, .. pd.After.Select(v => (long)v)];
                    var mode = pd.Mode.ToString().ToLowerInvariant();
                    if (pd.Mode == PadMode.Wrap && opset < 19) throw new ArgumentException("wrap padding needs opset 19 or later.");
                    Add("Pad", [x[0], InitLongs(name + ".pads", pads), Init(name + ".value", [pd.Value])], name, name, StrAttr("mode", mode));
                    break;
                }
                case Exp: Add("Exp", [x[0]], name, name); break;
                case Log: Add("Log", [x[0]], name, name); break;
                case Reduce rd:
                {
                    long[] axes = rd.Axes.Select(a => (long)(a < 0 ? a + inShape.Length : a) + 1).ToArray();
                    var op = rd.Kind == ReduceKind.Sum ? "ReduceSum" : "ReduceMax";
                    var keep = IntAttr("keepdims", rd.KeepDims ? 1 : 0);
                    // Axes moved from an attribute to an input: ReduceSum at opset 13, ReduceMax at 18.
                    if (opset >= (rd.Kind == ReduceKind.Sum ? 13 : 18)) Add(op, [x[0], InitLongs(name + ".axes", axes)], name, name, keep);
                    else Add(op, [x[0]], name, name, Ints("axes", axes), keep);
                    break;
                }
                case Where:
                {
                    var s = layer.InputShapes;
                    int rank = s.Max(v => v.Length);
                    var lifted = x.Select((v, i) => s[i].Length < rank ? Lift(v, s[i], rank, $"{name}_lift_{i}") : v).ToArray();
                    // ONNX wants a bool condition; Fovea keeps it as float (≠ 0 is true).
                    Add("Cast", [lifted[0]], name + "_condition", name + "_condition", IntAttr("to", 9));
                    Add("Where", [name + "_condition", lifted[1], lifted[2]], name, name);
                    break;
                }
                case ConstantTensor ct: Constant(ct, x[0], name); break;
                case MaxPoolIndices2D mi: PoolIndices(mi, inShape, x[0], name); break;
                case InSampleBatchNorm ib: InSampleNorm(ib, inShape, x[0], name); break;
                case InSampleBatchMoment im: InSampleMoment(im, inShape, x[0], name); break;
                default:
                    throw new ArgumentException($"layer type {layer.TypeName} has no ONNX mapping.");
            }
        }

        /// <summary>
        /// Softmax over one axis (opset 13+) or over all axes from one on (opsets before 13 coerce to 2-D), written at any
        /// opset: when the opset's Softmax has the other meaning, an equivalent Transpose or Reshape pair goes around it.
        /// </summary>
        private void Softmax(AxisSoftmax s, string x, int[] inShape, string name)
        {
            int rank = inShape.Length, axis = s.Axis < 0 ? s.Axis + rank : s.Axis;
            string op = s.Log ? "LogSoftmax" : "Softmax";
            bool last = axis == rank - 1, legacy = opset < 13;
            // Over the last axis both meanings agree; otherwise the opset's native form is used when it matches.
            if (last || s.FlattenFrom == legacy) { Add(op, [x], name, name, IntAttr("axis", last ? rank : axis + 1)); return; }
            if (s.FlattenFrom)
            {
                // All axes from `axis` on as one: [N, leading..., rest] → softmax over the last axis → the original shape.
                long rest = inShape[axis..].Aggregate(1L, (p, d) => p * d);
                ReshapeSamples(x, [.. inShape[..axis].Select(d => (long)d), rest], name + "_flat");
                Add(op, [name + "_flat"], name + "_soft", name + "_soft", IntAttr("axis", axis + 1));
                ReshapeSamples(name + "_soft", inShape.Select(d => (long)d).ToArray(), name);
                return;
            }
            // One inner axis before opset 13: move it last, where the 2-D coercion is exactly that axis, and back.
            int full = axis + 1;
            long[] perm = [0, .. Enumerable.Range(1, rank).Where(i => i != full).Select(i => (long)i), full];
            var inverse = new long[perm.Length];
            for (int i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
            Add("Transpose", [x], name + "_moved", name + "_move", Ints("perm", perm));
            Add(op, [name + "_moved"], name + "_soft", name + "_soft", IntAttr("axis", rank));
            Add("Transpose", [name + "_soft"], name, name, Ints("perm", inverse));
        }

        /// <summary>
        /// The per-sample constant repeated for every sample of <paramref name="x"/>'s batch: the constant is stored as
        /// [1, ...shape] and expanded to [N, ...shape], N read from Shape(x) (Shape, Gather, Concat and Expand keep the
        /// same form at every opset Fovea writes, so this needs no opset cases).
        /// </summary>
        private void Constant(ConstantTensor ct, string x, string name)
        {
            long[] sample = ct.Shape.Select(d => (long)d).ToArray();
            var value = Init(name + ".value", ct.Value.Span, [1, .. sample]);
            Add("Shape", [x], name + "_input_shape", name + "_input_shape");
            // Indices [0] (rank 1) keep a rank-1 result: [N].
            Add("Gather", [name + "_input_shape", InitLongs(name + ".batch_axis", [0])], name + "_batch", name + "_batch", IntAttr("axis", 0));
            string target = name + "_batch";
            if (sample.Length > 0)
            {
                target = name + "_target_shape";
                Add("Concat", [name + "_batch", InitLongs(name + ".sample_shape", sample)], target, target, IntAttr("axis", 0));
            }
            Add("Expand", [value, target], name, name);
        }

        private string Lift(string value, int[] shape, int rank, string name)
        {
            ReshapeSamples(value, [.. Enumerable.Repeat(1L, rank - shape.Length), .. shape.Select(d => (long)d)], name);
            return name;
        }

        private void GlobalPool(string op, bool keepDims, string x, string name)
        {
            if (keepDims) { Add(op, [x], name, name); return; }
            Add(op, [x], name + "_pooled", name + "_pool");
            Add("Flatten", [name + "_pooled"], name, name, IntAttr("axis", 1));
        }

        private void Binary(BinaryOp op, string a, string b, string name)
        {
            if (op == BinaryOp.Less)
            {
                // ONNX Less yields bool; Fovea's yields 0/1 floats.
                Add("Less", [a, b], name + "_bool", name + "_less");
                Add("Cast", [name + "_bool"], name, name, IntAttr("to", OnnxTensor.Float));
                return;
            }
            Add(op switch
            {
                BinaryOp.Add => "Add",
                BinaryOp.Subtract => "Sub",
                BinaryOp.Multiply => "Mul",
                BinaryOp.Divide => "Div",
                _ => "Max",
            }, [a, b], name, name);
        }
    }
}
