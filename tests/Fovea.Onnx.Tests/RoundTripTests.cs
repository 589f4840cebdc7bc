using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;
using Fovea.Tensors;
using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;
using Tensor = Fovea.Tensors.Tensor;

namespace Fovea.Onnx.Tests;

/// <summary>Fovea models exported to ONNX and run in ONNX Runtime give Fovea's outputs; re-imported, they give them too.</summary>
public class RoundTripTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    internal static float[] Run(byte[] onnx, Tensor x, int threads = 1)
    {
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        using var session = new InferenceSession(onnx, options);
        var name = session.InputMetadata.Keys.First();
        var input = new DenseTensor(x.ToArray(), x.Shape);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(name, input)]);
        return results.First().AsTensor<float>().ToArray();
    }

    internal static Tensor RandomInput(int seed, params int[] shape)
    {
        var rng = new Random(seed);
        var t = new Tensor(shape);
        for (int i = 0; i < t.Length; i++) t.Span[i] = rng.NextSingle() * 2 - 1;
        return t;
    }

    internal static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    private static void Randomize(Model model, int seed)
    {
        // Non-trivial running statistics, so BatchNorm export is really exercised.
        var rng = new Random(seed);
        foreach (var p in model.Parameters.Where(p => p.IsBuffer))
            for (int i = 0; i < p.Value.Length; i++)
                p.Value.Span[i] = p.LocalName == "running_var" ? 0.5f + rng.NextSingle() : rng.NextSingle() - 0.5f;
        foreach (var l in model.Layers.OfType<BatchNorm2D>())
            for (int i = 0; i < l.Gamma.Length; i++) { l.Gamma.Span[i] = 0.5f + rng.NextSingle(); l.Beta.Span[i] = rng.NextSingle() - 0.5f; }
    }

    internal static Model ResidualModel()
    {
        var m = new Model([3, 16, 16], "residual", seed: 3);
        var stem = m.Add(new Conv2D(8, 3, padding: 1, useBias: false));
        stem = m.Add(new BatchNorm2D());
        stem = m.Add(new ReLU());
        var a = m.Add(new Conv2D(8, 3, padding: Padding.Same, useBias: false), stem);
        a = m.Add(new BatchNorm2D(), a);
        a = m.Add(new ReLU(), a);
        a = m.Add(new Conv2D(8, 3, padding: 1), a);
        a = m.Add(new BatchNorm2D(), a);
        var sum = m.Add(new Layers.Add(), a, stem);
        var x = m.Add(new ReLU(), sum);
        x = m.Add(new Conv2D(16, 3, stride: 2, padding: Padding.Same, groups: 2), x);
        x = m.Add(new BatchNorm2D(), x);
        x = m.Add(new ReLU(), x);
        x = m.Add(new GlobalAvgPool2D(), x);
        x = m.AddTop(new Dense(10), x);
        m.ClassNames = Enumerable.Range(0, 10).Select(i => $"class {i}").ToArray();
        Randomize(m, 5);
        return m;
    }

    /// <summary>Every exportable layer type at least once.</summary>
    private static Model KitchenSink()
    {
        var m = new Model([3, 12, 12], "sink", seed: 4);
        var x = m.Add(new Layers.Pad([0, 1, 2], [0, 2, 1], PadMode.Reflect));
        var c = m.Add(new Conv2D(6, (3, 2), (1, 2), Padding.Of(1, 0, 2, 1), (2, 1)), x);
        var e = m.Add(new Elu(0.7f), c);
        var l = m.Add(new LeakyReLU(0.2f), c);
        var cat = m.Add(new Concat(0), e, l);
        var p = m.Add(new AvgPool2D((3, 3), (2, 2), Padding.Of(1), ceilMode: true, countIncludePad: true), cat);
        var q = m.Add(new MaxPool2D((2, 2), (1, 1), Padding.Valid) { Dilation = (2, 2) }, cat);
        var gm = m.Add(new GlobalMaxPool2D(keepDims: true), q);
        var mul = m.Add(new Arithmetic(BinaryOp.Multiply), p, gm);
        var sc = m.Add(new ConstantArithmetic(BinaryOp.Subtract, [12, 1, 1], constantFirst: true), mul);
        var cl = m.Add(new Layers.Clip(-0.5f, 0.8f), sc);
        var tr = m.Add(new Layers.Transpose([1, 2, 0]), cl);
        var rs = m.Add(new Layers.Reshape([tr.OutputShape[0] * tr.OutputShape[1], 12]), tr);
        var mm = m.Add(new Layers.MatMul([12, 5]), rs);
        var sm = m.Add(new AxisSoftmax(0, log: true), mm);
        var th = m.Add(new Tanh(), sm);
        var f = m.Add(new Layers.Flatten(), th);
        var d = m.Add(new Layers.Dropout(0.2f), f);
        var s = m.Add(new Sigmoid(), d);
        m.Add(new Layers.Softmax(), s);
        var rng = new Random(9);
        var k = m.Layers.OfType<ConstantArithmetic>().Single().Constant;
        for (int i = 0; i < k.Length; i++) k.Span[i] = rng.NextSingle();
        return m;
    }

    private void Compare(Model model, int opset, int batch, int seed)
    {
        var bytes = OnnxExporter.ToBytes(model, opset);
        var x = RandomInput(seed, [batch, .. model.InputShape]);
        var expected = model.Predict(x);
        var actual = Run(bytes, x);
        double diff = MaxAbsDiff(expected.Span, actual);
        output.WriteLine($"{model.Name}, opset {opset}, batch {batch}: ONNX Runtime vs Fovea max |diff| = {diff:G3}");
        Assert.True(diff <= Tolerance, $"max |diff| {diff} > {Tolerance}");

        var back = OnnxImporter.Import(bytes, model.Name);
        double diffBack = MaxAbsDiff(expected.Span, back.Predict(x).Span);
        output.WriteLine($"  re-imported into Fovea: max |diff| = {diffBack:G3}");
        Assert.True(diffBack <= Tolerance);
        Assert.Equal(model.ClassNames, back.ClassNames);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(13)]
    [InlineData(21)]
    [InlineData(25)]
    public void ReferenceCnnMatchesOnnxRuntime(int opset)
    {
        var model = ModelZoo.Reference([1, 28, 28], 10, seed: 1);
        model.Normalization = new InputNormalization([0.2860f], [0.3530f]);
        model.ClassNames = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
        Compare(model, opset, batch: 1, seed: 1);
        Compare(model, opset, batch: 5, seed: 2);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(13)]
    [InlineData(21)]
    [InlineData(25)]
    public void ResidualGraphWithBatchNormMatchesOnnxRuntime(int opset)
    {
        var model = ResidualModel();
        model.Normalization = new InputNormalization([0.5f, 0.4f, 0.3f], [0.2f, 0.25f, 0.3f]);
        Compare(model, opset, batch: 1, seed: 3);
        Compare(model, opset, batch: 4, seed: 4);
    }

    [Theory]
    [MemberData(nameof(ExportOpsets))]
    public void EveryExportableLayerMatchesOnnxRuntime(int opset)
    {
        var model = KitchenSink();
        Compare(model, opset, batch: 3, seed: 5);
        // The final sigmoid/softmax squash differences; compare an inner activation as well.
        model.SetOutput(model.Nodes.Single(n => n.Layer is Elu));
        Compare(model, opset, batch: 2, seed: 6);
        model.SetOutput(model.Nodes.Single(n => n.Layer is Layers.MatMul));
        Compare(model, opset, batch: 2, seed: 7);
    }

    /// <summary>The element-wise and reduction layers (the operators of ONNX's expanded function bodies).</summary>
    private static Model ReductionsAndSelect()
    {
        var m = new Model([2, 5, 6], "select", seed: 6);
        var x = m.Input;
        var mx = m.Add(new Reduce(ReduceKind.Max, [2], keepDims: true), x);
        var sh = m.Add(new Arithmetic(BinaryOp.Subtract), x, mx);
        var ex = m.Add(new Exp(), sh);
        var sm = m.Add(new Reduce(ReduceKind.Sum, [0, 1], keepDims: false), ex);
        var lg = m.Add(new Log(), sm);
        var less = m.Add(new ConstantArithmetic(BinaryOp.Less, [1], constantFirst: false), x);
        var relu = m.Add(new ConstantArithmetic(BinaryOp.Maximum, [1]), x);
        var cmp = m.Add(new Arithmetic(BinaryOp.Less), x, relu);
        var sel = m.Add(new Where(), less, ex, relu);
        var sel2 = m.Add(new Where(), cmp, sel, lg);
        m.Add(new Arithmetic(BinaryOp.Maximum), sel2, x);
        m.Layers.OfType<ConstantArithmetic>().First().Constant.Span[0] = 0.2f;
        m.Layers.OfType<ConstantArithmetic>().Last().Constant.Span[0] = -0.1f;
        return m;
    }

    [Theory]
    [InlineData(13)]
    [InlineData(17)]
    [InlineData(18)]
    public void ReductionsAndSelectMatchOnnxRuntime(int opset) => Compare(ReductionsAndSelect(), opset, batch: 3, seed: 13);

    /// <summary>
    /// Wrap padding on an axis cropped at its other end repeats the values that are kept (ONNX Runtime crops, then wraps):
    /// [1..6] cropped by 2 at the start and wrapped by 2 at the end is 3 4 5 6 3 4, not 3 4 5 6 1 2.
    /// </summary>
    [Theory]
    [InlineData(19)]
    [InlineData(26)]
    public void WrapPaddingBesideACropMatchesOnnxRuntime(int opset)
    {
        foreach (var mode in new[] { PadMode.Wrap, PadMode.Edge, PadMode.Reflect })
        {
            var model = new Model([2, 5, 6], "pad_crop_" + mode);
            model.Add(new Layers.Pad([0, -2, 2], [1, 2, -1], mode));
            Compare(model, opset, batch: 2, seed: 31);
        }
        var row = new Model([6], "wrap_row");
        row.Add(new Layers.Pad([-2], [2], PadMode.Wrap));
        Assert.Equal([3f, 4f, 5f, 6f, 3f, 4f], row.Predict(new Tensor([1, 6], [1f, 2f, 3f, 4f, 5f, 6f])).ToArray());
        // Cropped to nothing, there is nothing to repeat: refused when the layer is added, not when it runs.
        var e = Assert.Throws<ArgumentException>(() => new Model([3]).Add(new Layers.Pad([-3], [2], PadMode.Wrap, name: "pad")));
        Assert.Contains("once cropped by 3 and 0", e.Message);
    }

    /// <summary>
    /// Edge and reflect padding fill from the values a crop at the other end keeps too. Where none (edge) or too few
    /// (reflect) are kept, ONNX Runtime fails when it runs the model; Fovea filled from the cropped-away values, so it
    /// exported models ONNX Runtime cannot run and imported such graphs. Both are now refused with the layer's name.
    /// </summary>
    [Theory]
    [InlineData("edge", -3L, 2L, "no values to repeat")]
    [InlineData("reflect", -2L, 1L, "must be smaller than the 1 values left after cropping")]
    [InlineData("reflect", 2L, -1L, "must be smaller than the 2 values left after cropping")]
    public void PaddingFromACroppedAwayAxisIsRefused(string mode, long before, long after, string message)
    {
        var g = new GraphBuilder(13, -1, 3).Longs("pads", 0, before, 0, after);
        g.Node("Pad", ["x", "pads"], "y", GraphBuilder.Str("mode", mode));
        var bytes = GraphBuilder.Bytes(g.Build("y", -1, 3 + before + after));
        Assert.ThrowsAny<OnnxRuntimeException>(() => Run(bytes, RandomInput(1, 2, 3)));
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(bytes, "crop.onnx"));
        Assert.StartsWith("'crop.onnx', node 'pad_0' (Pad): ", e.Message);
        Assert.Contains(message, e.Message);
        var m = new Model([3]);
        Assert.Contains(message, Assert.Throws<ArgumentException>(() => m.Add(new Layers.Pad([(int)before], [(int)after], Enum.Parse<PadMode>(mode, true)))).Message);
    }

    public static TheoryData<int> ExportOpsets() => new(Enumerable.Range(OnnxExporter.MinOpset, OnnxExporter.MaxOpset - OnnxExporter.MinOpset + 1));

    /// <summary>Both softmax meanings (one axis; all axes from one on, as before opset 13), every axis, at every export opset.</summary>
    [Theory]
    [MemberData(nameof(ExportOpsets))]
    public void EverySoftmaxFormExportsAtEveryOpset(int opset)
    {
        int seed = 20;
        foreach (bool flatten in new[] { false, true })
            foreach (bool log in new[] { false, true })
                foreach (int axis in new[] { 0, 1, 2, -1 })
                {
                    var model = new Model([3, 4, 2], $"softmax_{axis}_{log}_{flatten}");
                    model.Add(new AxisSoftmax(axis, log, flattenFrom: flatten));
                    Compare(model, opset, batch: 2, seed: seed++);
                }
    }

    [Fact]
    public void ExportedModelDeclaresDynamicBatchMetadataAndProducer()
    {
        var model = ResidualModel();
        var proto = OnnxExporter.Build(model, 13);
        Assert.Equal("Fovea", proto.ProducerName);
        Assert.Equal("N", proto.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal("N", proto.Graph.Output[0].Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal(13, proto.OpsetImport.Single().Version);
        Assert.Contains(proto.MetadataProps, p => p.Key == "class_names" && p.Value.Contains("class 9"));
    }

    [Fact]
    public void ImportedModelSavesLoadsAndFineTunes()
    {
        var model = ResidualModel();
        var imported = OnnxImporter.Import(OnnxExporter.ToBytes(model), "residual");
        Assert.Equal(model.ParameterCount, imported.ParameterCount);
        Assert.All(imported.Parameters.Where(p => !p.IsBuffer), p => Assert.True(p.IsTrainable));
        var path = Path.Combine(Path.GetTempPath(), $"fovea-onnx-{Guid.NewGuid():N}.fovea");
        try
        {
            ModelFile.Save(imported, path);
            var loaded = ModelFile.Load(path);
            var x = RandomInput(7, 2, 3, 16, 16);
            Assert.True(MaxAbsDiff(imported.Predict(x).Span, loaded.Predict(x).Span) == 0);
        }
        finally { File.Delete(path); }

        // One SGD step on the imported weights lowers the loss on its batch.
        var xb = RandomInput(8, 4, 3, 16, 16);
        int[] labels = [1, 2, 3, 4];
        float Loss()
        {
            var logits = imported.Predict(xb);
            return Tape.NoGrad(() => Ops.SoftmaxCrossEntropy(logits, labels, 0f, out _)).Span[0];
        }
        float before = Loss();
        var tape = new Tape();
        using (tape.Record())
        {
            var loss = Ops.SoftmaxCrossEntropy(imported.Forward(xb, training: false), labels, 0f, out _);
            tape.Backward(loss);
        }
        foreach (var p in imported.TrainableParameters)
        {
            Assert.NotNull(p.Value.Grad);
            for (int i = 0; i < p.Value.Length; i++) p.Value.Span[i] -= 0.05f * p.Value.Grad!.Span[i];
        }
        Assert.True(Loss() < before, $"loss {Loss()} not below {before}");
    }
}
