using Fovea.Data;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Serialization;
using Fovea.Tensors;
using Fovea.Tests.Models;
using Fovea.Training;

namespace Fovea.Tests.Training;

public class TransferLearningTests
{
    private static Sequential Net(int seed = 0) => new Sequential([3, 8, 8], "net", seed)
        .Base(new Conv2D(4, 3, padding: 1), new BatchNorm2D(), new ReLU(), new MaxPool2D(2))
        .Top(new Flatten(), new Dense(8), new ReLU(), new Dense(3));

    /// <summary>Noise images in which the channel named by the label is brighter: learnable from the base's features.</summary>
    private static InMemoryDataset Data(int n, int seed)
    {
        var rng = new Random(seed);
        var images = new float[n * 3 * 64];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % 3;
            for (int k = 0; k < 3 * 64; k++) images[i * 192 + k] = rng.NextSingle() * 0.5f + (k / 64 == labels[i] ? 0.4f : 0f);
        }
        return new InMemoryDataset(images, labels, [3, 8, 8], ["r", "g", "b"]);
    }

    private static Tensor Batch(InMemoryDataset data) => Tensor.FromArray(data.Images, [data.Count, .. data.SampleShape]);

    [Fact]
    public void The_base_output_is_the_node_the_top_reads()
    {
        var net = Net();
        Assert.Equal("maxpool2d", net.BaseOutput.Name);
        Assert.Equal("relu_1", ModelTests.ResidualNet().BaseOutput.Name);
        var baseOnly = new Sequential([3, 8, 8]).Base(new Conv2D(2, 3), new ReLU());
        Assert.Same(baseOnly.Output, baseOnly.BaseOutput);
        var topOnly = new Sequential([3, 8, 8]).Top(new Flatten(), new Dense(2));
        Assert.Same(topOnly.Input, topOnly.BaseOutput);
        var x = Tensor.FromArray(Enumerable.Range(0, 192).Select(i => i / 192f).ToArray(), [1, 3, 8, 8]);
        Assert.Equal(x.ToArray(), topOnly.Predict(x, topOnly.BaseOutput).ToArray());

        var twoFeeds = new Model([3, 8, 8], "two-feeds");
        var a = twoFeeds.Add(new Conv2D(3, 1, name: "a"));
        var b = twoFeeds.Add(new Conv2D(3, 1, name: "b"), twoFeeds.Input);
        twoFeeds.AddTop(new Add(), a, b);
        var e = Assert.Throws<InvalidOperationException>(() => twoFeeds.BaseOutput);
        Assert.Contains("a, b", e.Message);
    }

    [Fact]
    public void Predict_up_to_the_base_output_equals_the_activation_there()
    {
        var net = Net(seed: 3);
        var x = Batch(Data(5, seed: 1));
        var capture = new Dictionary<string, Tensor> { ["maxpool2d"] = null! };
        Fovea.Autograd.Tape.NoGrad(() => net.Forward(x, capture: capture));
        var features = net.Predict(x, net.BaseOutput);
        Assert.Equal([5, 4, 4, 4], features.Shape);
        Assert.Equal(capture["maxpool2d"].ToArray(), features.ToArray());
        Assert.Throws<ArgumentException>(() => net.Predict(x, Net().BaseOutput));
    }

    [Fact]
    public void The_copied_top_on_the_base_output_and_the_combined_model_compute_what_the_model_computes()
    {
        var model = ModelTests.ResidualNet(seed: 2);
        model.ClassNames = ["a", "b", "c", "d", "e"];
        model.Normalization = new InputNormalization([0.5f, 0.4f, 0.3f], [0.2f, 0.3f, 0.25f]);
        model.Freeze(ModelStage.Base);
        var x = Tensor.FromArray(Enumerable.Range(0, 2 * 192).Select(i => (i * 37 % 101) / 101f).ToArray(), [2, 3, 8, 8]);
        var expected = model.Predict(x).ToArray();

        var top = model.CopyTop();
        Assert.Equal(model.BaseOutput.OutputShape, top.InputShape);
        Assert.Equal(model.ClassNames, top.ClassNames);
        Assert.Equal(expected, top.Predict(model.Predict(x, model.BaseOutput)).ToArray());

        var combined = Model.Combine(model, top, "combined");
        Assert.Equal(expected, combined.Predict(x).ToArray());
        Assert.Equal(model.StageLayers(ModelStage.Base).Select(l => l.Name), combined.StageLayers(ModelStage.Base).Select(l => l.Name));
        Assert.All(combined.StageLayers(ModelStage.Base), l => Assert.False(l.Trainable));
        Assert.All(combined.StageLayers(ModelStage.Top), l => Assert.True(l.Trainable));
        Assert.Equal(model.Normalization, combined.Normalization);
        Assert.Equal(model.ClassNames, combined.ClassNames);

        string path = Path.Combine(Path.GetTempPath(), $"fovea-combined-{Guid.NewGuid():N}.fovea");
        try
        {
            ModelFile.Save(combined, path);
            var loaded = ModelFile.Load(path);
            Assert.Equal(expected, loaded.Predict(x).ToArray());
            Assert.Equal(model.ClassNames, loaded.ClassNames);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Combine_names_both_shapes_when_the_top_does_not_fit_and_renames_clashing_layers()
    {
        var wrong = new Sequential([10], "wrong-top").Top(new Dense(2));
        var e = Assert.Throws<ArgumentException>(() => Model.Combine(Net(), wrong));
        Assert.Contains("(10)", e.Message);
        Assert.Contains("(4, 4, 4)", e.Message);

        var baseModel = new Sequential([4], "base").Base(new Dense(6, name: "dense"));
        var top = new Sequential([6], "top").Top(new Dense(2, name: "dense"));
        var combined = Model.Combine(baseModel, top);
        Assert.Equal(["dense", "dense_1"], combined.Layers.Select(l => l.Name));
    }

    [Fact]
    public void Features_carry_the_labels_and_equal_the_base_output_image_by_image()
    {
        var net = Net(seed: 4);
        var data = Data(11, seed: 2);
        var features = TransferLearning.ExtractFeatures(net, data, batchSize: 4);
        Assert.Equal([4, 4, 4], features.SampleShape);
        Assert.Equal(data.Labels.ToArray(), features.Labels.ToArray());
        Assert.Equal(data.ClassNames, features.ClassNames);
        for (int i = 0; i < data.Count; i++)
        {
            // Features come from the fused inference model (BatchNorm folded): equal up to float rounding.
            var single = net.Predict(Tensor.FromArray(data.GetImage(i), [1, 3, 8, 8]), net.BaseOutput).ToArray();
            var feature = features.GetImage(i).ToArray();
            for (int j = 0; j < single.Length; j++)
                Assert.True(Math.Abs(single[j] - feature[j]) <= 1e-5f * (1 + Math.Abs(single[j])), $"image {i} feature {j}: {feature[j]} vs {single[j]}");
        }
    }

    [Fact]
    public void FitTop_trains_the_top_as_training_the_whole_model_with_a_frozen_base_does()
    {
        var data = Data(48, seed: 5);
        var options = new FitOptions { Epochs = 4, BatchSize = 8, Seed = 6 };
        var cached = Net(seed: 7);
        var whole = Net(seed: 7);
        cached.Freeze(ModelStage.Base);
        whole.Freeze(ModelStage.Base);
        var initialTop = cached.StageLayers(ModelStage.Top).SelectMany(l => l.Parameters).Select(p => p.Value.ToArray()).ToList();
        var initialBase = cached.StageLayers(ModelStage.Base).SelectMany(l => l.Parameters).Select(p => p.Value.ToArray()).ToList();

        var cachedHistory = TransferLearning.FitTop(cached, data, new Adam(0.01f), options);
        var wholeHistory = new Trainer(whole, new Adam(0.01f)).Fit(data, options);

        Assert.True(cachedHistory.Epochs[^1].Loss < cachedHistory.Epochs[0].Loss, "the top should learn");
        for (int e = 0; e < options.Epochs; e++) Assert.Equal(wholeHistory.Epochs[e].Loss, cachedHistory.Epochs[e].Loss, 4);
        var cachedParameters = cached.Parameters.ToList();
        var wholeParameters = whole.Parameters.ToList();
        for (int p = 0; p < cachedParameters.Count; p++)
        {
            var a = cachedParameters[p].Value.Span;
            var b = wholeParameters[p].Value.Span;
            for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-4, $"{cachedParameters[p].Name}[{i}]: {a[i]} vs {b[i]}");
        }
        Assert.Equal(initialBase, cached.StageLayers(ModelStage.Base).SelectMany(l => l.Parameters).Select(p => p.Value.ToArray()));
        Assert.NotEqual(initialTop, cached.StageLayers(ModelStage.Top).SelectMany(l => l.Parameters).Select(p => p.Value.ToArray()));
    }

    [Fact]
    public void FitTop_refuses_a_trainable_base_and_augmentation()
    {
        var data = Data(6, seed: 8);
        var e = Assert.Throws<InvalidOperationException>(() => TransferLearning.FitTop(Net(), data, new Adam(0.01f), new FitOptions()));
        Assert.Contains("Freeze(ModelStage.Base)", e.Message);
        var frozen = Net();
        frozen.Freeze(ModelStage.Base);
        var a = Assert.Throws<ArgumentException>(() => TransferLearning.FitTop(frozen, data, new Adam(0.01f), new FitOptions { Augmentation = Augmentation.ShiftAndFlip }));
        Assert.Contains("Augmentation", a.Message);
    }

    [Fact]
    public void Bad_fit_options_are_refused_before_any_image_goes_through_the_base()
    {
        var net = Net();
        net.Freeze(ModelStage.Base);
        var images = new UnreadDataset(Data(6, 1));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TransferLearning.FitTop(net, images, new Adam(), new FitOptions { BatchSize = 0 }));
        Assert.Contains("Received: 0", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => TransferLearning.FineTune(net, "batchnorm2d", images, new Adam(), new FitOptions { Epochs = -2 }));
        Assert.Contains("Received: -2", e.Message);
    }

    [Fact]
    public void A_base_that_ends_in_vectors_is_refused_before_any_image_goes_through_it()
    {
        var net = new Sequential([3, 8, 8], "pooled").Base(new Conv2D(4, 3), new GlobalAvgPool2D()).Top(new Dense(3));
        net.Freeze(ModelStage.Base);
        var images = new UnreadDataset(Data(6, 1));
        var e = Assert.Throws<ArgumentException>(() => TransferLearning.ExtractFeatures(net, images));
        Assert.Contains("outputs (4) per sample (at 'globalavgpool2d')", e.Message);
        Assert.Contains("GlobalAvgPool2D(keepDims: true)", e.Message);
        Assert.Contains("outputs (4) per sample", Assert.Throws<ArgumentException>(
            () => TransferLearning.FitTop(net, images, new Adam(), new FitOptions { Epochs = 1 })).Message);
    }

    [Fact]
    public void Cancelling_the_feature_pass_stops_it_after_the_batch_in_hand_and_stops_the_reading()
    {
        var net = Net(seed: 4);
        var images = new CountingDataset(Data(40, seed: 3));
        using var stop = new CancellationTokenSource();
        var reports = new List<int>();
        var e = Assert.ThrowsAny<OperationCanceledException>(() => TransferLearning.ExtractFeatures(net, images, batchSize: 4,
            progress: (done, _) => { reports.Add(done); stop.Cancel(); }, cancellation: stop.Token));
        Assert.Equal(stop.Token, e.CancellationToken);
        Assert.Equal([4], reports);
        // The batch done and the one read ahead at most: the loader's background task has ended, so no more are read.
        int read = images.Reads;
        Assert.InRange(read, 4, 8);
        Thread.Sleep(20);
        Assert.Equal(read, images.Reads);

        // A token cancelled before the call: nothing is read.
        var untouched = new UnreadDataset(Data(6, 1));
        Assert.ThrowsAny<OperationCanceledException>(() => TransferLearning.ExtractFeatures(net, untouched, cancellation: stop.Token));
        Assert.ThrowsAny<OperationCanceledException>(() => TransferLearning.ExtractHeadOutputs(net, "relu", untouched, cancellation: stop.Token));
    }

    /// <summary>Counts the images read (on the loader's background task).</summary>
    private sealed class CountingDataset(IDataset inner) : IDataset
    {
        private int _reads;
        public int Reads => Volatile.Read(ref _reads);
        public int Count => inner.Count;
        public int[] SampleShape => inner.SampleShape;
        public IReadOnlyList<string> ClassNames => inner.ClassNames;
        public void CopyImage(int index, Span<float> destination)
        {
            Interlocked.Increment(ref _reads);
            inner.CopyImage(index, destination);
        }
        public int GetLabel(int index) => inner.GetLabel(index);
    }

    /// <summary>Fails the test if an image is read.</summary>
    private sealed class UnreadDataset(IDataset inner) : IDataset
    {
        public int Count => inner.Count;
        public int[] SampleShape => inner.SampleShape;
        public IReadOnlyList<string> ClassNames => inner.ClassNames;
        public void CopyImage(int index, Span<float> destination) => throw new InvalidOperationException("an image was read");
        public int GetLabel(int index) => inner.GetLabel(index);
    }
}
