using Fovea.Models;
using Fovea.Onnx.Proto;
using Google.Protobuf;

namespace Fovea.Onnx.Tests;

/// <summary>Export then import keeps the input normalisation and the base/top split (Fovea's metadata keys).</summary>
public class MetadataTests
{
    private static Model Reference()
    {
        var model = ModelZoo.Reference([1, 28, 28], 10, seed: 1);
        model.Normalization = new InputNormalization([0.2860f], [0.3530f]);
        return model;
    }

    [Theory]
    [InlineData(11)]
    [InlineData(13)]
    public void NormalizationAndStagesSurviveTheRoundTrip(int opset)
    {
        var model = Reference();
        var back = OnnxImporter.Import(OnnxExporter.ToBytes(model, opset), "reference");
        Assert.NotNull(back.Normalization);
        Assert.Equal(model.Normalization!.Mean, back.Normalization!.Mean);
        Assert.Equal(model.Normalization.Std, back.Normalization.Std);
        // The Sub/Div became the normalisation again, not two extra layers.
        Assert.Equal(model.Layers.Count(), back.Layers.Count());
        int top = model.StageLayers(ModelStage.Top).Count();
        Assert.True(top > 0);
        Assert.Equal(top, back.StageLayers(ModelStage.Top).Count());
        Assert.Equal(model.StageLayers(ModelStage.Base).Count(), back.StageLayers(ModelStage.Base).Count());

        back.Freeze(ModelStage.Base);
        Assert.All(back.StageLayers(ModelStage.Top).SelectMany(l => l.Parameters).Where(p => !p.IsBuffer), p => Assert.True(p.IsTrainable));
        Assert.All(back.StageLayers(ModelStage.Base).SelectMany(l => l.Parameters), p => Assert.False(p.IsTrainable));
        Assert.Equal(model.BaseOutput.OutputShape, back.BaseOutput.OutputShape);

        var x = RoundTripTests.RandomInput(4, 3, 1, 28, 28);
        Assert.True(RoundTripTests.MaxAbsDiff(model.Predict(x).Span, back.Predict(x).Span) < 1e-5);
    }

    [Fact]
    public void FilesWithoutFoveaMetadataImportFromTheGraphAlone()
    {
        var model = Reference();
        var proto = OnnxExporter.Build(model, 13);
        Assert.Contains(proto.MetadataProps, p => p.Key == OnnxMetadata.Normalization);
        Assert.Contains(proto.MetadataProps, p => p.Key == OnnxMetadata.TopNodes);
        foreach (var p in proto.MetadataProps.Where(p => p.Key.StartsWith("fovea_", StringComparison.Ordinal)).ToList()) proto.MetadataProps.Remove(p);
        var back = OnnxImporter.Import(proto.ToByteArray(), "plain");
        Assert.Null(back.Normalization);
        Assert.Equal(model.Layers.Count() + 2, back.Layers.Count());
        Assert.Empty(back.StageLayers(ModelStage.Top));
        var x = RoundTripTests.RandomInput(5, 2, 1, 28, 28);
        Assert.True(RoundTripTests.MaxAbsDiff(model.Predict(x).Span, back.Predict(x).Span) < 1e-5);
    }

    [Fact]
    public void NormalizationMetadataWithoutTheExpectedNodesKeepsTheGraph()
    {
        // A renamed Sub no longer matches the marked form: imported as layers, outputs unchanged.
        var model = Reference();
        var proto = OnnxExporter.Build(model, 13);
        proto.Graph.Node.First(n => n.OpType == "Sub").Name = "renamed";
        var back = OnnxImporter.Import(proto.ToByteArray(), "renamed");
        Assert.Null(back.Normalization);
        var x = RoundTripTests.RandomInput(6, 2, 1, 28, 28);
        Assert.True(RoundTripTests.MaxAbsDiff(model.Predict(x).Span, back.Predict(x).Span) < 1e-5);
    }

    [Fact]
    public void MalformedTopNodesMetadataIsRefusedNamingTheKey()
    {
        var proto = OnnxExporter.Build(Reference(), 13);
        proto.MetadataProps.First(p => p.Key == OnnxMetadata.TopNodes).Value = "{not json";
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(proto.ToByteArray(), "meta.onnx"));
        Assert.Contains(OnnxMetadata.TopNodes, e.Message);
        Assert.Contains("meta.onnx", e.Message);
    }

    [Fact]
    public void AClassNameListWithANullNameIsAnImportErrorNamingTheMetadata()
    {
        var proto = OnnxExporter.Build(ModelZoo.Reference([1, 28, 28], 2, seed: 1), 13);
        proto.MetadataProps.Add(new StringStringEntryProto { Key = OnnxMetadata.ClassNames, Value = "[\"cat\", null]" });
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(proto.ToByteArray(), "pets"));
        Assert.Contains("'pets': metadata 'class_names' is [\"cat\", null]", e.Message);
        Assert.Contains("Class name 1 of 2 is null", e.Message);
    }

    /// <summary>
    /// Class names that do not fit the model (a null name, more or fewer names than outputs) were taken as they were, and
    /// fovea import then wrote a .fovea file its own loader refuses ("1 class names for 10 outputs").
    /// </summary>
    [Theory]
    [InlineData("[\"a\", \"b\"]", "2 class names for 10 outputs")]
    [InlineData("a, b, c", "3 class names for 10 outputs")]
    [InlineData("[null, \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\", \"i\", \"j\"]", "Class name 0 of 10 is null")]
    public void ClassNamesThatDoNotFitTheOutputsAreRefused(string value, string message)
    {
        var proto = OnnxExporter.Build(Reference(), 13);
        proto.MetadataProps.Add(new StringStringEntryProto { Key = "class_names", Value = value });
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(proto.ToByteArray(), "names.onnx"));
        Assert.StartsWith("'names.onnx': metadata 'class_names'", e.Message);
        Assert.Contains(message, e.Message);
        // An empty value names no classes.
        proto.MetadataProps[^1].Value = " ";
        Assert.Empty(OnnxImporter.Import(proto.ToByteArray(), "names.onnx").ClassNames);
    }

    /// <summary>
    /// A model whose output was moved off its classifier (features for transfer learning) keeps class names that no longer
    /// describe its outputs: they are left out of the export, which the import would refuse (or, before, carry into a
    /// .fovea file its loader refuses).
    /// </summary>
    [Fact]
    public void ClassNamesThatDoNotFitTheOutputAreNotExported()
    {
        var model = RoundTripTests.ResidualModel();
        model.SetOutput(model.Nodes.Single(n => n.Layer is Layers.GlobalAvgPool2D));
        var proto = OnnxExporter.Build(model, 13);
        Assert.DoesNotContain(proto.MetadataProps, p => p.Key == OnnxMetadata.ClassNames);
        Assert.Empty(OnnxImporter.Import(proto.ToByteArray(), "features.onnx").ClassNames);
        model.SetOutput(model.Nodes[^1]);
        Assert.Equal(model.ClassNames, OnnxImporter.Import(OnnxExporter.ToBytes(model), "classes.onnx").ClassNames);
    }

    [Fact]
    public void FrozenLayersStayFrozenThroughTheRoundTrip()
    {
        var model = Reference();
        model.Freeze(ModelStage.Base);
        var proto = OnnxExporter.Build(model, 13);
        Assert.Contains(proto.MetadataProps, p => p.Key == OnnxMetadata.FrozenNodes);
        var back = OnnxImporter.Import(proto.ToByteArray(), "frozen");
        var frozenBefore = model.Layers.Select(l => l.Trainable).ToArray();
        Assert.Equal(frozenBefore, back.Layers.Select(l => l.Trainable).ToArray());
        Assert.Contains(back.Layers, l => !l.Trainable);
        Assert.All(back.StageLayers(ModelStage.Top), l => Assert.True(l.Trainable));
        Assert.Equal(model.TrainableParameters.Sum(p => p.Value.Length), back.TrainableParameters.Sum(p => p.Value.Length));

        // A model with nothing frozen writes no such key, and imports with every layer trainable.
        var open = OnnxExporter.Build(Reference(), 13);
        Assert.DoesNotContain(open.MetadataProps, p => p.Key == OnnxMetadata.FrozenNodes);
        Assert.All(OnnxImporter.Import(open.ToByteArray(), "open").Layers, l => Assert.True(l.Trainable));
    }

    [Fact]
    public void MalformedFrozenNodesMetadataIsRefusedNamingTheKey()
    {
        var model = Reference();
        model.Freeze(ModelStage.Base);
        var proto = OnnxExporter.Build(model, 13);
        proto.MetadataProps.First(p => p.Key == OnnxMetadata.FrozenNodes).Value = "[1, 2";
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(proto.ToByteArray(), "meta.onnx"));
        Assert.Contains(OnnxMetadata.FrozenNodes, e.Message);
        Assert.Contains("meta.onnx", e.Message);
    }
}
