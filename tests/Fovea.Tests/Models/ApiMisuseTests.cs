using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;
using Fovea.Tensors;
using Fovea.Training;
using Fovea.Tests.Autograd;

namespace Fovea.Tests.Models;

/// <summary>Mistakes an app developer can make with the public API end in a message naming what went wrong.</summary>
public class ApiMisuseTests
{
    [Fact]
    public void ALayerOfOneModelIsRefusedByAnotherWhichWouldRebuildIt()
    {
        var dense = new Dense(3, name: "scores");
        var first = new Sequential([4], "first").Top(dense);
        var x = TestTensors.Random(new Random(1), 2, 4);
        var expected = first.Predict(x).ToArray();

        var second = new Sequential([5], "second");
        var e = Assert.Throws<ArgumentException>(() => second.Top(dense));
        Assert.Contains("'scores' (Dense) already belongs to model 'first'", e.Message);
        // The first model still has its own weights and shapes.
        Assert.Equal(expected, first.Predict(x).ToArray());
        Assert.Empty(second.Layers);
        // A layer whose building failed belongs to no model and can still be used.
        var conv = new Conv2D(2, 5);
        Assert.ThrowsAny<ArgumentException>(() => new Model([1, 3, 3], "small").Add(conv));
        new Model([1, 6, 6], "large").Add(conv);
        // Nor can a layer be rebuilt under its model.
        var rebuild = Assert.Throws<InvalidOperationException>(() => dense.Build([[7]], new Random(0)));
        Assert.Contains("Layer 'scores' (Dense) is in model 'first'", rebuild.Message);
        Assert.Equal(expected, first.Predict(x).ToArray());
    }

    [Fact]
    public void AddWithANullNodeArrayAppliesTheLayerToTheOutput()
    {
        var model = new Model([2], "net");
        var node = model.Add(new ReLU(), (Node[])null!);
        Assert.Equal([0], node.InputIndices);
    }

    [Fact]
    public void SaveRefusesClassNamesThatLoadWouldRefuse()
    {
        var model = new Sequential([4], "net").Top(new Dense(3));
        model.ClassNames = ["cat", "dog"];
        string path = Path.Combine(Path.GetTempPath(), $"fovea-names-{Guid.NewGuid():N}.fovea");
        var e = Assert.Throws<ArgumentException>(() => ModelFile.Save(model, path));
        Assert.Contains("2 class name(s) for 3 output(s) (3)", e.Message);
        Assert.False(File.Exists(path));
        model.ClassNames = ["cat", "dog", "bird"];
        try
        {
            ModelFile.Save(model, path);
            Assert.Equal(["cat", "dog", "bird"], ModelFile.Load(path).ClassNames);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ClassNamesRefuseNullAndNullNames()
    {
        var model = new Sequential([4], "net").Top(new Dense(2));
        Assert.Throws<ArgumentNullException>(() => model.ClassNames = null!);
        Assert.Contains("Class name 1 of 2 is null", Assert.Throws<ArgumentException>(() => model.ClassNames = ["a", null!]).Message);
        Assert.Empty(model.ClassNames);
    }

    [Fact]
    public void CombineDoesNotGiveTheNewTopTheNamesOfTheBasesOldTop()
    {
        var trained = new Sequential([1, 4, 4], "trained").Base(new Conv2D(2, 3)).Top(new Flatten(), new Dense(3));
        trained.ClassNames = ["cat", "dog", "bird"];
        var fiveClasses = Model.Combine(trained, new Sequential([2, 2, 2], "new-top").Top(new Flatten(), new Dense(5)));
        Assert.Empty(fiveClasses.ClassNames);
        string path = Path.Combine(Path.GetTempPath(), $"fovea-combined-{Guid.NewGuid():N}.fovea");
        try { ModelFile.Save(fiveClasses, path); Assert.Equal([5], ModelFile.Load(path).OutputShape); }
        finally { File.Delete(path); }
        // As many outputs as the base's names: they are kept, as before.
        var threeClasses = Model.Combine(trained, new Sequential([2, 2, 2], "same-top").Top(new Flatten(), new Dense(3)));
        Assert.Equal(["cat", "dog", "bird"], threeClasses.ClassNames);
    }

    [Fact]
    public void NullArgumentsAreNamedNotANullReference()
    {
        var model = new Sequential([1, 4, 4], "net").Top(new Flatten(), new Dense(2));
        var trainer = new Trainer(model, new Fovea.Optimizers.Adam());
        var data = new Fovea.Data.InMemoryDataset(new float[2 * 16], [0, 1], [1, 4, 4], ["a", "b"]);
        Assert.Contains("training data set is null", Assert.Throws<ArgumentNullException>(() => trainer.Fit(null!, new FitOptions())).Message);
        Assert.Contains("evaluation data set is null", Assert.Throws<ArgumentNullException>(() => trainer.Evaluate(null!)).Message);
        Assert.Throws<ArgumentNullException>(() => trainer.Predict(null!));
        Assert.Throws<ArgumentNullException>(() => model.Predict(null!));
        Assert.Throws<ArgumentNullException>(() => model.Forward(null!));
        Assert.Throws<ArgumentNullException>(() => new Sequential([2]).Base(null!));
        Assert.Throws<ArgumentNullException>(() => new Sequential([2]).Top(null!));
        Assert.Contains("Received: null", Assert.Throws<ArgumentNullException>(() => trainer.Fit(data, new FitOptions { Callbacks = null! })).Message);
        Assert.Contains("Callback 1 of 2 is null", Assert.Throws<ArgumentException>(
            () => trainer.Fit(data, new FitOptions { Callbacks = [new EarlyStopping(), null!] })).Message);
        Assert.Throws<ArgumentNullException>(() => trainer.Fit(data, new FitOptions { CheckpointMetadata = null! }));
        Assert.Contains("received null means and 1 deviations", Assert.Throws<ArgumentException>(
            () => model.Normalization = new InputNormalization(null!, [1f])).Message);
    }

    [Fact]
    public void CapturingANameTheModelDoesNotHaveIsRefusedListingTheLayers()
    {
        var model = new Sequential([1, 4, 4], "net").Base(new Conv2D(2, 3, name: "features")).Top(new Flatten(), new Dense(2));
        var x = TestTensors.Random(new Random(2), 1, 1, 4, 4);
        var capture = new Dictionary<string, Tensor> { ["feature"] = null! };
        var e = Assert.Throws<ArgumentException>(() => model.Forward(x, capture: capture));
        Assert.Contains("Cannot capture 'feature'", e.Message);
        Assert.Contains("Layers: input, features, flatten, dense", e.Message);
        capture = new() { ["features"] = null!, ["input"] = null! };
        model.Forward(x, capture: capture);
        Assert.Equal([1, 2, 2, 2], capture["features"].Shape);
        Assert.Equal([1, 1, 4, 4], capture["input"].Shape);
    }

    [Fact]
    public void AModelThatCannotBeSavedIsRefusedBeforeTrainingThatWouldSaveIt()
    {
        var model = new Sequential([1, 4, 4], "net").Top(new Flatten(), new Dense(3));
        model.ClassNames = ["a", "b"];
        var data = new Fovea.Data.InMemoryDataset(new float[2 * 16], [0, 1], [1, 4, 4], ["a", "b"]);
        string dir = Path.Combine(Path.GetTempPath(), $"fovea-unsaveable-{Guid.NewGuid():N}");
        int batches = 0;
        var counter = new BatchCounter(() => batches++);
        try
        {
            var e = Assert.Throws<ArgumentException>(() => new Trainer(model, new Fovea.Optimizers.Adam())
                .Fit(data, new FitOptions { Epochs = 1, Callbacks = [counter, new ModelCheckpoint(Path.Combine(dir, "best.fovea"), "loss")] }));
            Assert.Contains("2 class name(s) for 3 output(s)", e.Message);
            e = Assert.Throws<ArgumentException>(() => new Trainer(model, new Fovea.Optimizers.Adam())
                .Fit(data, new FitOptions { Epochs = 1, Callbacks = [counter], CheckpointPath = Path.Combine(dir, "run.checkpoint") }));
            Assert.Contains("2 class name(s) for 3 output(s)", e.Message);
            Assert.Equal(0, batches);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ProbabilitiesOfAModelEndingInAnAxisSoftmaxAreItsOutputsNotASecondSoftmax(bool mapsOfOne)
    {
        // As ONNX import makes them: a softmax layer over the class axis of [K] or [K, 1, 1] scores.
        var model = mapsOfOne
            ? new Sequential([2, 3, 3], "net").Base(new Conv2D(4, 3)).Top(new AxisSoftmax(0))
            : new Sequential([4], "net").Top(new Dense(3), new AxisSoftmax(0));
        var x = TestTensors.Random(new Random(5), [2, .. model.InputShape]);
        var outputs = model.Predict(x).ToArray();
        var probabilities = model.PredictProbabilities(x);
        Assert.Equal([2, outputs.Length / 2], probabilities.Shape);
        Assert.Equal(outputs, probabilities.ToArray());
        var fast = model.ToInference().PredictProbabilities(x).ToArray();
        for (int i = 0; i < outputs.Length; i++) Assert.Equal(outputs[i], fast[i], 1e-6f);
        // A log-softmax, or a softmax over one axis of several, is not one distribution: the softmax is still applied.
        var log = new Sequential([4], "log").Top(new Dense(3), new AxisSoftmax(0, log: true));
        var v = TestTensors.Random(new Random(6), 2, 4);
        Assert.NotEqual(log.Predict(v).ToArray(), log.PredictProbabilities(v).ToArray());
    }

    private sealed class BatchCounter(Action onBatch) : ITrainingCallback
    {
        public void OnBatchEnd(Trainer trainer, in BatchProgress progress) => onBatch();
    }
}
