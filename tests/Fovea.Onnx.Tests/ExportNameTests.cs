using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Models;

namespace Fovea.Onnx.Tests;

/// <summary>Layer names become ONNX names: an export stays a valid ONNX model whatever the layers are called.</summary>
public class ExportNameTests
{
    /// <summary>
    /// A layer named like a value the export writes itself ("output", the normalisation's values) or like a value another layer
    /// writes ("scale_lift_b", lifting the lower-rank operand of "scale") gave a model ONNX Runtime refused ("Duplicate definition of name").
    /// </summary>
    [Theory]
    [InlineData("output")]
    [InlineData("output_identity")]
    [InlineData("input_centered")]
    [InlineData("input_normalized")]
    [InlineData("normalization_mean")]
    [InlineData("normalization_std")]
    [InlineData(OnnxMetadata.NormalizationDiv)]
    [InlineData("scale_lift_b")]
    public void LayerNamesThatClashWithExportNamesStillExport(string name)
    {
        var m = new Model([3, 4, 4], "clash", seed: 1) { Normalization = new InputNormalization([0.1f, 0.2f, 0.3f], [1f, 2f, 3f]) };
        var conv = m.Add(new Conv2D(2, 1, name: "conv"));
        var sum = m.Add(new Reduce(ReduceKind.Sum, [0, 1], keepDims: false), conv);
        var scale = m.Add(new Arithmetic(BinaryOp.Multiply, "scale"), conv, sum);
        var relu = m.Add(new ReLU(name: name), scale);
        var pool = m.Add(new GlobalAvgPool2D(), relu);
        m.AddTop(new Dense(3, name: name + "_top"), pool);
        m.ClassNames = ["a", "b", "c"];
        var bytes = OnnxExporter.ToBytes(m, 13);
        var x = RoundTripTests.RandomInput(2, 2, 3, 4, 4);
        var expected = m.Predict(x);
        Assert.True(RoundTripTests.MaxAbsDiff(expected.Span, RoundTripTests.Run(bytes, x)) <= 1e-5);
        var back = OnnxImporter.Import(bytes, "clash.onnx");
        Assert.True(RoundTripTests.MaxAbsDiff(expected.Span, back.Predict(x).Span) <= 1e-5);
        // The normalisation and the top stage are still recognised.
        Assert.NotNull(back.Normalization);
        Assert.Equal(ModelStage.Top, back.Nodes.Single(n => n.Layer is Dense).Stage);
    }
}
