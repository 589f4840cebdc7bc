using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;
using G = Fovea.Onnx.Tests.GraphBuilder;

namespace Fovea.Onnx.Tests;

/// <summary>
/// MatMul and Gemm whose second operand is computed from the input (attention-style products, x·xᵀ), imported as
/// <see cref="Layers.MatMulPair"/> and checked against ONNX Runtime; the batch-first forms that would pair the batch
/// axis with a matrix axis are refused.
/// </summary>
public class ComputedProductTests
{
    private static void CheckAgainstOnnxRuntime(Proto.ModelProto proto, int[] inputShape, bool batched)
    {
        var bytes = G.Bytes(proto);
        var x = RoundTripTests.RandomInput(3, inputShape);
        var model = OnnxImporter.Import(bytes, "product", new OnnxImportOptions { FirstAxisIsBatch = batched });
        // ONNX Runtime takes the declared input: without a batch axis, the one sample alone.
        var expected = RoundTripTests.Run(bytes, batched ? x : x.View(inputShape[1..]));
        var y = model.Predict(x);
        Assert.Equal(expected.Length, y.Length);
        Assert.True(RoundTripTests.MaxAbsDiff(expected, y.Span) <= 1e-5, $"max |diff| {RoundTripTests.MaxAbsDiff(expected, y.Span)}");
        // Exported again, ONNX Runtime gives the same values.
        if (batched) Assert.True(RoundTripTests.MaxAbsDiff(expected, RoundTripTests.Run(OnnxExporter.ToBytes(model), x)) <= 1e-5);
        // The layer is saved and rebuilt from the model file like any other.
        string path = Path.Combine(Path.GetTempPath(), $"fovea-product-{Guid.NewGuid():N}.fovea");
        try
        {
            ModelFile.Save(model, path);
            Assert.Equal(y.ToArray(), ModelFile.Load(path).Predict(x).ToArray());
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData(9)]
    [InlineData(13)]
    public void ASampleTimesItsOwnTransposeMatchesOnnxRuntime(int opset)
    {
        var g = new G(opset, -1, 3, 4);
        g.Node("Transpose", ["x"], "xt", G.Ints("perm", 0, 2, 1));
        g.Node("MatMul", ["x", "xt"], "y");
        CheckAgainstOnnxRuntime(g.Build("y", -1, 3, 3), [2, 3, 4], batched: true);
    }

    [Fact]
    public void GemmOfTwoComputedMatricesWithAComputedBiasMatchesOnnxRuntime()
    {
        // Whole input as one sample: A = x [3, 4], B = relu(x) with transB → [4, 3], C = x·xᵀ (computed), alpha and beta.
        var g = new G(13, 3, 4);
        g.Node("Relu", ["x"], "r");
        g.Node("Transpose", ["x"], "xt", G.Ints("perm", 1, 0));
        g.Node("MatMul", ["x", "xt"], "c");
        g.Node("Gemm", ["x", "r", "c"], "y", G.Int("transB", 1), G.Float("alpha", 0.5f), G.Float("beta", -2f));
        CheckAgainstOnnxRuntime(g.Build("y", 3, 3), [1, 3, 4], batched: false);
    }

    /// <summary>Each per-sample layout of MatMulPair: equal ranks, a vector on either side, and ranks that differ.</summary>
    [Theory]
    [InlineData(11)]
    [InlineData(13)]
    [InlineData(25)]
    public void EveryOperandLayoutExportsToWhatOnnxRuntimeComputes(int opset)
    {
        var m = new Model([2, 3, 4], "products", seed: 1);
        var x = m.Input;
        var xt = m.Add(new Transpose([0, 2, 1]), x);                                    // [2, 4, 3]
        var v = m.Add(new Reduce(ReduceKind.Sum, [0, 1], keepDims: false), x);         // [4]
        var flat = m.Add(new Layers.Reshape([4, 6]), x);                                // [4, 6]
        var same = m.Add(new MatMulPair(), x, xt);                                      // [2, 3, 3]
        var column = m.Add(new MatMulPair(), x, v);                                     // [2, 3]
        var row = m.Add(new MatMulPair(), v, xt);                                       // [2, 3]
        var ranks = m.Add(new MatMulPair(), x, flat);                                   // [2, 3, 6]
        var sum = m.Add(new Arithmetic(BinaryOp.Add), column, row);
        var mixed = m.Add(new Reduce(ReduceKind.Sum, [2], keepDims: false), ranks);    // [2, 3]
        var both = m.Add(new Arithmetic(BinaryOp.Add), sum, mixed);
        var wide = m.Add(new Reduce(ReduceKind.Sum, [2], keepDims: true), same);       // [2, 3, 1]
        m.Add(new Arithmetic(BinaryOp.Multiply), wide, m.Add(new Layers.Reshape([2, 3, 1]), both));
        var input = RoundTripTests.RandomInput(8, 3, 2, 3, 4);
        var expected = m.Predict(input);
        var bytes = OnnxExporter.ToBytes(m, opset);
        Assert.True(RoundTripTests.MaxAbsDiff(expected.Span, RoundTripTests.Run(bytes, input)) <= 1e-4);
        Assert.True(RoundTripTests.MaxAbsDiff(expected.Span, OnnxImporter.Import(bytes, "products").Predict(input).Span) <= 1e-4);
    }

    [Fact]
    public void ProductsThatWouldMixTheBatchAxisAreRefused()
    {
        var g = new G(13, -1, 3, 4);
        g.Node("Transpose", ["x"], "xt", G.Ints("perm", 0, 2, 1));
        g.Node("Flatten", ["xt"], "f", G.Int("axis", 1));
        g.Node("MatMul", ["x", "f"], "y");
        var e = Assert.ThrowsAny<OnnxBatchAxisException>(() => OnnxImporter.Import(G.Bytes(g.Build("y", -1, 3, 12)), "mixed"));
        Assert.Contains("multiplying computed samples (3, 4) and (12)", e.Message);

        var gemm = new G(13, -1, 4);
        gemm.Node("Relu", ["x"], "r");
        gemm.Node("Gemm", ["x", "r"], "y", G.Int("transB", 1));
        var e2 = Assert.ThrowsAny<OnnxBatchAxisException>(() => OnnxImporter.Import(G.Bytes(gemm.Build("y", -1, -1)), "gemm"));
        Assert.Contains("a computed B", e2.Message);

        // Taken whole, a Gemm's A must still be a matrix (ONNX Gemm does not broadcast like MatMul).
        var cube = new G(13, 2, 3, 4).Floats("w", new float[20], 4, 5);
        cube.Node("Gemm", ["x", "w"], "y");
        var e3 = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(G.Bytes(cube.Build("y", 2, 3, 5)), "cube", new OnnxImportOptions { FirstAxisIsBatch = false }));
        Assert.Contains("A must be a matrix; received (2, 3, 4)", e3.Message);
    }
}
