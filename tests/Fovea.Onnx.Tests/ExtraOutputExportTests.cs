using Fovea.Layers;
using Fovea.Models;
using Tensor = Fovea.Tensors.Tensor;

namespace Fovea.Onnx.Tests;

/// <summary>
/// MaxPoolIndices2D, InSampleBatchNorm and InSampleBatchMoment exported (MaxPool's Indices cast to float; the statistics
/// spelt out with ReduceMean) and run in ONNX Runtime at every export opset, then re-imported into Fovea.
/// </summary>
public class ExtraOutputExportTests(ITestOutputHelper output)
{
    public static TheoryData<int> Opsets() => RoundTripTests.ExportOpsets();

    private void Compare(Model model, Node node, int opset, Tensor x, double tolerance)
    {
        model.SetOutput(node);
        var bytes = OnnxExporter.ToBytes(model, opset);
        var expected = model.Predict(x);
        double diff = RoundTripTests.MaxAbsDiff(expected.Span, RoundTripTests.Run(bytes, x));
        double back = RoundTripTests.MaxAbsDiff(expected.Span, OnnxImporter.Import(bytes, model.Name).Predict(x).Span);
        output.WriteLine($"{node.Name} ({node.Layer!.TypeName}), opset {opset}: ONNX Runtime max |diff| {diff:G3}, re-imported {back:G3}");
        Assert.True(diff <= tolerance, $"ONNX Runtime: max |diff| {diff}");
        Assert.True(back <= tolerance, $"re-imported: max |diff| {back}");
    }

    [Theory]
    [MemberData(nameof(Opsets))]
    public void MaxPoolIndicesExportAsMaxPoolIndicesCastToFloat(int opset)
    {
        var model = new Model([3, 7, 8], "indices");
        var pooling = new MaxPool2D((3, 2), (2, 2), Padding.Of(1, 0, 1, 1), ceilMode: true) { Dilation = (1, 2) };
        var rows = model.Add(new MaxPoolIndices2D(pooling, name: "rows"), model.Input);
        var columns = model.Add(new MaxPoolIndices2D(new MaxPool2D(2, stride: 1), columnMajor: true, name: "columns"), model.Input);
        var x = RoundTripTests.RandomInput(opset, 2, 3, 7, 8);
        Compare(model, rows, opset, x, tolerance: 0);
        Compare(model, columns, opset, x, tolerance: 0);
    }

    [Theory]
    [MemberData(nameof(Opsets))]
    public void InSampleStatisticsExportAsReduceMean(int opset)
    {
        var model = new Model([4, 3, 5, 2], "statistics");
        var norm = new InSampleBatchNorm(1e-3f, name: "norm");
        var normalized = model.Add(norm, model.Input);
        norm.Gamma.CopyFrom(RoundTripTests.RandomInput(1, 3).Span);
        norm.Beta.CopyFrom(RoundTripTests.RandomInput(2, 3).Span);
        var mean = model.Add(new InSampleBatchMoment(variance: false, name: "mean"), model.Input);
        var variance = model.Add(new InSampleBatchMoment(variance: true, name: "variance"), model.Input);
        var x = RoundTripTests.RandomInput(opset + 10, 2, 4, 3, 5, 2);
        Compare(model, normalized, opset, x, tolerance: 1e-5);
        Compare(model, mean, opset, x, tolerance: 1e-6);
        Compare(model, variance, opset, x, tolerance: 1e-6);

        var flat = new Model([6, 2], "flat");
        var flatNorm = flat.Add(new InSampleBatchNorm(name: "flat_norm"));
        Compare(flat, flatNorm, opset, RoundTripTests.RandomInput(opset + 20, 3, 6, 2), tolerance: 1e-5);
    }
}
