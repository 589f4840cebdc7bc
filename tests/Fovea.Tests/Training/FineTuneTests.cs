using Fovea.Data;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Serialization;
using Fovea.Tensors;
using Fovea.Tests.Models;
using Fovea.Training;

namespace Fovea.Tests.Training;

/// <summary>Cutting a graph after a named layer (head and tail), and fine-tuning the tail on cached head outputs.</summary>
public class FineTuneTests
{
    /// <summary>
    /// A frozen-base-and-top network in miniature: a stem (the head), one residual block whose skip reads the stem's
    /// ReLU, and a dense top. BatchNorm running statistics are set away from 0 and 1, as a pretrained network's are, so
    /// that inference mode and batch statistics would give different results.
    /// </summary>
    private static Model Net(int seed)
    {
        var m = new Model([3, 8, 8], "tiny", seed);
        var stem = m.Add(new Conv2D(4, 3, padding: 1, name: "stem"));
        stem = m.Add(new BatchNorm2D(name: "stem_bn"), stem);
        stem = m.Add(new ReLU(name: "stem_relu"), stem);
        var block = m.Add(new Conv2D(4, 3, padding: 1, name: "block_conv"), stem);
        block = m.Add(new BatchNorm2D(name: "block_bn"), block);
        block = m.Add(new Add(name: "block_add"), block, stem);
        block = m.Add(new ReLU(name: "block_relu"), block);
        m.AddTop(new Flatten(name: "flatten"), block);
        m.AddTop(new Dense(3, name: "scores"));
        var rng = new Random(seed + 100);
        foreach (var p in m.Parameters.Where(p => p.IsBuffer))
            for (int i = 0; i < p.Value.Length; i++)
                p.Value.Span[i] = p.LocalName == "running_var" ? 0.5f + rng.NextSingle() : 0.4f * (rng.NextSingle() - 0.5f);
        m.ClassNames = ["r", "g", "b"];
        m.Freeze(ModelStage.Base);
        return m;
    }

    /// <summary>Noise images in which the channel named by the label is brighter.</summary>
    private static InMemoryDataset Data(int n, int seed)
    {
        var rng = new Random(seed);
        var images = new float[n * 192];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % 3;
            for (int k = 0; k < 192; k++) images[i * 192 + k] = rng.NextSingle() * 0.6f + (k / 64 == labels[i] ? 0.25f : 0f);
        }
        return new InMemoryDataset(images, labels, [3, 8, 8], ["r", "g", "b"]);
    }

    private static Tensor Batch(InMemoryDataset data) => Tensor.FromArray(data.Images, [data.Count, .. data.SampleShape]);

    private static float[][] Weights(Model model, params string[] layers) =>
        layers.SelectMany(l => model.GetLayer(l).Parameters).Select(p => p.Value.ToArray()).ToArray();

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"{what}[{i}]: {actual[i]} vs {expected[i]}");
    }

    /// <summary>Keeps the model a callback's trainer trains: FineTune's tail.</summary>
    private sealed class TailCapture : ITrainingCallback
    {
        public Model? Tail { get; private set; }
        public void OnTrainEnd(Trainer trainer, History history) => Tail = trainer.Model;
    }

    [Fact]
    public void Head_and_tail_cut_after_a_layer_compute_what_the_whole_network_computes()
    {
        var model = ModelTests.ResidualNet(seed: 4);
        model.ClassNames = ["a", "b", "c", "d", "e"];
        model.Normalization = new InputNormalization([0.5f, 0.4f, 0.3f], [0.2f, 0.3f, 0.25f]);
        var x = Fovea.Tests.Autograd.TestTensors.Random(new Random(2), 3, 3, 8, 8);
        // The residual add reads the first ReLU: cutting there is allowed, the skip starts at the cut itself.
        var head = model.CopyUntil("relu");
        var tail = model.CopyAfter("relu");
        Assert.Equal([4, 8, 8], tail.InputShape);
        Assert.Equal(["conv2d", "batchnorm2d_1", "residual_add", "relu_1", "globalavgpool2d", "classifier"], tail.Layers.Select(l => l.Name));
        Assert.Equal(["conv2d", "batchnorm2d_1", "residual_add", "relu_1"], tail.StageLayers(ModelStage.Base).Select(l => l.Name));
        Assert.Equal(model.ClassNames, tail.ClassNames);
        Assert.Null(tail.Normalization);
        AssertClose(model.Predict(x).Span, tail.Predict(head.Predict(x)).Span, 1e-6, "tail(head(x))");
        // After the input: the whole network, normalisation included.
        AssertClose(model.Predict(x).Span, model.CopyAfter("input").Predict(x).Span, 0, "CopyAfter(input)");
    }

    [Fact]
    public void A_cut_that_a_skip_connection_crosses_is_refused_naming_the_layers()
    {
        var model = ModelTests.ResidualNet();
        // After the block's convolution the add still reads the ReLU before it.
        foreach (var inside in new[] { "conv2d", "batchnorm2d_1" })
        {
            var e = Assert.Throws<ArgumentException>(() => model.CopyAfter(inside));
            Assert.Contains($"after '{inside}'", e.Message);
            Assert.Contains("layer 'residual_add' after the cut also reads 'relu'", e.Message);
            Assert.Contains("skip connection crosses the cut", e.Message);
        }
        Assert.Contains("it is the model's output", Assert.Throws<ArgumentException>(() => model.CopyAfter("classifier")).Message);
        Assert.Contains("no layer named 'nope'", Assert.Throws<ArgumentException>(() => model.CopyAfter("nope")).Message);
        // The same refusals come from FineTune before any image is read.
        var data = Data(6, seed: 1);
        var f = Assert.Throws<ArgumentException>(() => TransferLearning.FineTune(model, "conv2d", data, new Adam(1e-3f), new FitOptions()));
        Assert.Contains("skip connection crosses the cut", f.Message);
    }

    [Fact]
    public void FineTune_trains_what_the_whole_network_with_a_frozen_head_and_frozen_batchnorm_learns()
    {
        var data = Data(36, seed: 5);
        var validation = Data(9, seed: 6);
        var options = new FitOptions { Epochs = 3, BatchSize = 8, Seed = 6, ValidationData = validation };
        var tuned = Net(seed: 7);
        var whole = Net(seed: 7);
        string[] head = ["stem", "stem_bn"];
        var headBefore = Weights(tuned, head);
        var blockBnBefore = Weights(tuned, "block_bn");
        var tailBefore = Weights(tuned, "block_conv", "scores");

        var history = TransferLearning.FineTune(tuned, "stem_relu", data, new Adam(0.01f), options);
        // The reference: every layer after the stem trainable but BatchNorm, trained on the images themselves.
        foreach (var name in new[] { "block_conv", "block_add", "block_relu" }) whole.GetLayer(name).Unfreeze();
        var reference = new Trainer(whole, new Adam(0.01f)).Fit(data, options);

        Assert.Equal(3, history.Epochs.Count);
        Assert.True(history.Epochs[^1].Loss < history.Epochs[0].Loss, "the tail should learn");
        for (int e = 0; e < options.Epochs; e++)
        {
            Assert.Equal(reference.Epochs[e].Loss, history.Epochs[e].Loss, 4);
            Assert.Equal(reference.Epochs[e].ValidationLoss!.Value, history.Epochs[e].ValidationLoss!.Value, 4);
        }
        var expected = whole.Parameters.ToList();
        var actual = tuned.Parameters.ToList();
        for (int p = 0; p < expected.Count; p++) AssertClose(expected[p].Value.Span, actual[p].Value.Span, 1e-4, actual[p].Name);

        // The head and the tail's BatchNorm (scale, shift and running statistics) are untouched; the rest of the tail learned.
        Assert.Equal(headBefore, Weights(tuned, head));
        Assert.Equal(blockBnBefore, Weights(tuned, "block_bn"));
        var tailAfter = Weights(tuned, "block_conv", "scores");
        for (int p = 0; p < tailBefore.Length; p++) Assert.NotEqual(tailBefore[p], tailAfter[p]);
        // The model's own frozen flags are as they were.
        Assert.All(tuned.StageLayers(ModelStage.Base), l => Assert.False(l.Trainable));
    }

    [Fact]
    public void The_fine_tuned_model_predicts_tail_of_head_and_saves_as_one_model()
    {
        var model = Net(seed: 8);
        var head = model.CopyUntil("stem_relu");
        var data = Data(24, seed: 9);
        var capture = new TailCapture();
        TransferLearning.FineTune(model, "stem_relu", data, new Adam(0.01f), new FitOptions { Epochs = 2, BatchSize = 8, Callbacks = [capture] });
        var tail = capture.Tail!;
        Assert.Equal([4, 8, 8], tail.InputShape);
        // The tail trained with BatchNorm frozen and everything else trainable.
        Assert.All(tail.Layers, l => Assert.Equal(l is not BatchNorm2D, l.Trainable));

        var x = Batch(Data(5, seed: 10));
        var expected = tail.Predict(head.Predict(x));
        AssertClose(expected.Span, model.Predict(x).Span, 1e-5, "model(x) against tail(head(x))");
        string path = Path.Combine(Path.GetTempPath(), $"fovea-finetuned-{Guid.NewGuid():N}.fovea");
        try
        {
            ModelFile.Save(model, path);
            var loaded = ModelFile.Load(path);
            AssertClose(expected.Span, loaded.Predict(x).Span, 1e-5, "loaded model");
            Assert.Equal(model.ClassNames, loaded.ClassNames);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_cancelled_fine_tuning_stops_between_batches_and_leaves_the_model_as_it_was()
    {
        var model = Net(seed: 14);
        var before = model.Parameters.Select(p => p.Value.ToArray()).ToArray();
        var outputs = TransferLearning.ExtractHeadOutputs(model, "stem_relu", Data(24, seed: 15));
        using var stop = new CancellationTokenSource();
        var stopAfterTwoBatches = new StopAfter(stop, batches: 2);
        var e = Assert.Throws<TrainingInterruptedException>(() => TransferLearning.FineTuneOnHeadOutputs(model, "stem_relu", outputs, new Adam(0.01f),
            new FitOptions { Epochs = 3, BatchSize = 8, Callbacks = [stopAfterTwoBatches] }, cancellation: stop.Token));
        Assert.Equal((1, 2), (e.Epoch, e.Batch));
        Assert.Null(e.CheckpointPath);
        var after = model.Parameters.Select(p => p.Value.ToArray()).ToArray();
        for (int i = 0; i < before.Length; i++) Assert.Equal(before[i], after[i]);
    }

    [Fact]
    public void A_fine_tuning_stopped_with_a_checkpoint_resumes_to_the_uninterrupted_weights()
    {
        var outputs = TransferLearning.ExtractHeadOutputs(Net(seed: 16), "stem_relu", Data(24, seed: 17));
        var options = new FitOptions { Epochs = 3, BatchSize = 8, Seed = 5 };
        var whole = Net(seed: 16);
        TransferLearning.FineTuneOnHeadOutputs(whole, "stem_relu", outputs, new Adam(0.01f), options);

        string path = Path.Combine(Path.GetTempPath(), $"fovea-finetune-{Guid.NewGuid():N}.checkpoint");
        try
        {
            var model = Net(seed: 16);
            using var stop = new CancellationTokenSource();
            var e = Assert.Throws<TrainingInterruptedException>(() => TransferLearning.FineTuneOnHeadOutputs(model, "stem_relu", outputs, new Adam(0.01f),
                options with { CheckpointPath = path, Callbacks = [new StopAfter(stop, batches: 4)] }, cancellation: stop.Token));
            Assert.Equal((2, 1), (e.Epoch, e.Batch));
            Assert.Equal(path, e.CheckpointPath);
            var history = TransferLearning.FineTuneOnHeadOutputs(model, "stem_relu", outputs, new Adam(0.01f), options with { CheckpointPath = path },
                resumeFrom: TrainingCheckpoint.Load(path));
            Assert.Equal(3, history.Epochs.Count);
            var expected = whole.Parameters.Select(p => p.Value.ToArray()).ToArray();
            var actual = model.Parameters.Select(p => p.Value.ToArray()).ToArray();
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i]);
        }
        finally { File.Delete(path); }
    }

    private sealed class StopAfter(CancellationTokenSource stop, int batches) : ITrainingCallback
    {
        private int _seen;
        public void OnBatchEnd(Trainer trainer, in BatchProgress progress) { if (++_seen == batches) stop.Cancel(); }
    }

    [Fact]
    public void Head_outputs_are_the_cut_layer_output_and_the_tail_can_train_on_them_directly()
    {
        var model = Net(seed: 11);
        var data = Data(10, seed: 12);
        var outputs = TransferLearning.ExtractHeadOutputs(model, "stem_relu", data, batchSize: 3);
        Assert.Equal([4, 8, 8], outputs.SampleShape);
        Assert.Equal(data.Labels.ToArray(), outputs.Labels.ToArray());
        AssertClose(model.Predict(Batch(data), model.GetNode("stem_relu")).Span, outputs.Images, 1e-5, "head outputs");

        var history = TransferLearning.FineTuneOnHeadOutputs(model, "stem_relu", outputs, new Sgd(0.05f), new FitOptions { Epochs = 1, BatchSize = 5 });
        Assert.Single(history.Epochs);
        // The images themselves in place of the head outputs: the shapes named, and how to make the outputs.
        var e = Assert.Throws<ArgumentException>(() => TransferLearning.FineTuneOnHeadOutputs(model, "stem_relu", data, new Sgd(0.05f), new FitOptions()));
        Assert.Contains("(3, 8, 8) but layer 'stem_relu' of model 'tiny' outputs (4, 8, 8)", e.Message);
        Assert.Contains("ExtractHeadOutputs", e.Message);
    }

    [Fact]
    public void FineTune_refuses_head_outputs_that_do_not_fit_in_memory_augmentation_and_cuts_that_are_not_maps()
    {
        var model = Net(seed: 13);
        var data = Data(10, seed: 14);
        // 4 x 8 x 8 floats = 1 KB per image; 10 images need 10 KB, and half of 8 KB holds 4.
        var e = Assert.Throws<ArgumentException>(() => TransferLearning.ExtractHeadOutputsWithin(model, "stem_relu", data, 4, null, availableBytes: 8192));
        Assert.Contains("after 'stem_relu'", e.Message);
        Assert.Contains("(4, 8, 8)", e.Message);
        Assert.Contains("use at most 4 images", e.Message);
        var f = Assert.Throws<ArgumentException>(() => TransferLearning.FineTune(model, "stem_relu", data, new Adam(1e-3f),
            new FitOptions { ValidationData = data, MemoryLimitBytes = 30_000 }));
        Assert.Contains("20 images need", f.Message);

        // The check alone, for the total of several image sets: 1 KB per image, far more images than memory holds.
        TransferLearning.CheckHeadOutputsFit(model, "stem_relu", 1000);
        var total = Assert.Throws<ArgumentException>(() => TransferLearning.CheckHeadOutputsFit(model, "stem_relu", 1L << 40));
        Assert.Contains($"{1L << 40:N0} images need", total.Message);
        Assert.Contains("after 'stem_relu'", total.Message);
        Assert.Contains("'nope'", Assert.Throws<ArgumentException>(() => TransferLearning.CheckHeadOutputsFit(model, "nope", 1)).Message);

        var a = Assert.Throws<ArgumentException>(() => TransferLearning.FineTune(model, "stem_relu", data, new Adam(1e-3f), new FitOptions { Augmentation = Augmentation.ShiftAndFlip }));
        Assert.Contains("Augmentation", a.Message);
        var flat = Assert.Throws<ArgumentException>(() => TransferLearning.FineTune(model, "flatten", data, new Adam(1e-3f), new FitOptions()));
        Assert.Contains("'flatten'", flat.Message);
        Assert.Contains("[C, H, W]", flat.Message);
        Assert.Contains("no head to freeze", Assert.Throws<ArgumentException>(() => TransferLearning.FineTune(model, "input", data, new Adam(1e-3f), new FitOptions())).Message);
    }

    [Fact]
    public void Concatenated_histories_number_the_later_epochs_on()
    {
        var model = Net(seed: 15);
        var data = Data(6, seed: 16);
        var first = TransferLearning.FineTune(model, "stem_relu", data, new Adam(1e-3f), new FitOptions { Epochs = 2, BatchSize = 6 });
        var second = TransferLearning.FineTune(model, "stem_relu", data, new Adam(1e-4f), new FitOptions { Epochs = 3, BatchSize = 6 });
        var both = first.Concat(second);
        Assert.Equal([1, 2, 3, 4, 5], both.Epochs.Select(e => e.Epoch));
        Assert.Equal(second.Epochs[2].Loss, both.Epochs[4].Loss);
        Assert.Equal(1e-4f, both.Epochs[3].LearningRate);
        Assert.Equal([1, 2, 3], second.Epochs.Select(e => e.Epoch));
    }
}
