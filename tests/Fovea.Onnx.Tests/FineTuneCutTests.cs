using Fovea.Data;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Training;

namespace Fovea.Onnx.Tests;

/// <summary>Where fine-tuning cuts the imported ResNet-18 by default, and a fine-tuned model exported to ONNX.</summary>
public class FineTuneCutTests
{
    [Fact]
    public void The_default_fine_tuning_layer_of_ResNet18_is_where_its_last_stage_begins()
    {
        var resnet = PretrainedModels.Load("resnet18");
        var cut = resnet.GetNode(PretrainedModels.ResNet18LastStageInput);
        // The third stage ends in the last layer with 14 x 14 maps; everything after it works on 7 x 7 maps (then pools).
        Assert.Equal([256, 14, 14], cut.OutputShape);
        Assert.Same(resnet.Nodes.Last(n => n.OutputShape is [_, 14, 14]), cut);
        Assert.IsType<ReLU>(cut.Layer);

        var tail = resnet.CopyAfter(PretrainedModels.ResNet18LastStageInput);
        Assert.Equal([256, 14, 14], tail.InputShape);
        Assert.All(tail.Nodes.Skip(1).SkipLast(1), n => Assert.Equal([512, 7, 7], n.OutputShape));
        Assert.Equal([512, 1, 1], tail.OutputShape);
        // The stride-2 block's two paths (3 x 3 and 1 x 1 downsampling convolutions) both start at the cut.
        var firstConvs = tail.Nodes.Where(n => n.Layer is Conv2D && n.InputIndices.SequenceEqual([0])).ToList();
        Assert.Equal(2, firstConvs.Count);
        Assert.Equal(13_114_368, tail.ParameterCount);
        Assert.Equal(resnet.ParameterCount, resnet.CopyUntil(PretrainedModels.ResNet18LastStageInput).ParameterCount + tail.ParameterCount);
    }

    [Fact]
    public void A_fine_tuned_model_exports_to_ONNX_and_runs_as_in_Fovea()
    {
        var model = new Model([3, 8, 8], "tuned", seed: 3);
        var stem = model.Add(new Conv2D(4, 3, padding: 1, name: "stem"));
        stem = model.Add(new ReLU(name: "stem_relu"), stem);
        var block = model.Add(new Conv2D(4, 3, padding: 1, name: "block"), stem);
        block = model.Add(new BatchNorm2D(name: "block_bn"), block);
        model.Add(new Add(name: "skip"), block, stem);
        model.AddTop(new Flatten());
        model.AddTop(new Dense(2, name: "scores"));
        model.Freeze(ModelStage.Base);
        var rng = new Random(4);
        var images = Enumerable.Range(0, 16 * 192).Select(_ => rng.NextSingle()).ToArray();
        var data = new InMemoryDataset(images, Enumerable.Range(0, 16).Select(i => i % 2).ToArray(), [3, 8, 8], ["a", "b"]);
        TransferLearning.FineTune(model, "stem_relu", data, new Adam(0.01f), new FitOptions { Epochs = 2, BatchSize = 4 });

        var x = RoundTripTests.RandomInput(5, 3, 3, 8, 8);
        var onnx = OnnxExporter.ToBytes(model);
        Assert.True(RoundTripTests.MaxAbsDiff(model.Predict(x).Span, RoundTripTests.Run(onnx, x)) <= 1e-4);
    }
}
