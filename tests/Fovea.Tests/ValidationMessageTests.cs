using Fovea.Losses;
using Fovea.Optimizers;
using Fovea.Tensors;
using Fovea.Training;

namespace Fovea.Tests;

/// <summary>Every validation throws with a message that repeats the value it received.</summary>
public class ValidationMessageTests
{
    private static void Names(string expected, Action action)
    {
        var e = Assert.ThrowsAny<ArgumentException>(action);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Tensors()
    {
        Names("(2, -1)", () => new Tensor(2, -1));
        Names("Got 5 values", () => Tensor.FromArray(new float[5], 2, 3));
        Names("(2, 3)", () => new Tensor(2, 3).View(4, 2));
        Names("Data holds 3", () => new Tensor([2, 2], new float[3]));
        Names("rank 2", () => _ = new Tensor(2, 2)[1]);
    }

    [Fact]
    public void Parallelism() => Names("Received: 0", () => Fovea.Parallelism.Degree = 0);

    [Fact]
    public void Optimizers()
    {
        Names("beta1=1", () => new Adam(beta1: 1f));
        Names("beta2=-0.5", () => new Adam(beta2: -0.5f));
        Names("epsilon=0", () => new AdamW(epsilon: 0f));
        Names("weightDecay=-1", () => new AdamW(weightDecay: -1f));
        Names("weightDecay=-2", () => new Sgd(0.1f, weightDecay: -2f));
        Names("momentum=0", () => new Sgd(0.1f, nesterov: true));
        Names("NaN", () => new Adam(float.NaN));
    }

    [Fact]
    public void Schedules()
    {
        Names("Received: 0", () => new StepSchedule(stepEpochs: 0));
        Names("Received: 1.5", () => new StepSchedule(gamma: 1.5f));
        Names("Received: 2", () => new CosineSchedule(minimumFraction: 2f));
        Names("Received: -1", () => new CosineSchedule(warmupEpochs: -1f));
        Names("Received: 1", () => new ReduceOnPlateauSchedule(factor: 1f));
        Names("Received: -1", () => new ReduceOnPlateauSchedule(patience: -1));
        Names("Received: -1", () => new ReduceOnPlateauSchedule(minimumRate: -1f));
        Names("Received: NaN", () => new ReduceOnPlateauSchedule(minimumRate: float.NaN));
        Names("Received: NaN", () => new CosineSchedule(warmupEpochs: float.NaN));
        Names("Received: NaN", () => new CosineSchedule(minimumFraction: float.NaN));
        Names("Received: NaN", () => new StepSchedule(gamma: float.NaN));
        Assert.Throws<ArgumentNullException>(() => LearningRateSchedule.Parse(null!));
        Assert.Throws<ArgumentNullException>(() => Optimizer.Create(null!, 0.1f));
    }

    [Fact]
    public void LossesAndMetrics()
    {
        Names("Received: 1", () => new SoftmaxCrossEntropyLoss(1f));
        Names("Class weight 1 is NaN", () => new SoftmaxCrossEntropyLoss(classWeights: [1f, float.NaN]));
        Names("Class weight 0 is -1", () => new SoftmaxCrossEntropyLoss(classWeights: [-1f]));
        Names("all 0", () => new SoftmaxCrossEntropyLoss(classWeights: [0f, 0f]));
        Names("the list is empty", () => new SoftmaxCrossEntropyLoss(classWeights: []));
        Names("3 class weights but the model gives 2 outputs", () => new SoftmaxCrossEntropyLoss(classWeights: [1f, 1f, 1f]).Compute(new Tensor(1, 2), [0]));
        Names("Label 5 is outside [0, 2)", () => SoftmaxCrossEntropyLoss.BalancedClassWeights([0, 5], 2));
        Names("Label 7 at row 1", () => new MeanSquaredErrorLoss().Compute(new Tensor(2, 3), [0, 7]));
        Names("Label 2 at row 0", () => new BinaryCrossEntropyLoss().Compute(new Tensor(1, 1), [2]));
        Names("'hinge'", () => Loss.Create("hinge"));
        Names("k=0", () => Metrics.TopKCorrect(new float[3], 3, [0], 0));
        Names("Received: 0", () => new ConfusionMatrix(0));
        Names("1 class name(s) for 3 classes", () => new ConfusionMatrix(3, ["a"]));
        Names("Label 3 is outside [0, 3)", () => new ConfusionMatrix(3).Add(3, 0));
        Names("Label -1 is outside [0, 3)", () => new ConfusionMatrix(3).Add(-1, 0));
        Names("Predicted class 5 is outside [0, 3)", () => new ConfusionMatrix(3).Add(0, 5));
        Names("Class 4 is outside [0, 3)", () => new ConfusionMatrix(3).Recall(4));
        Names("Class -2 is outside [0, 3)", () => new ConfusionMatrix(3).Precision(-2));
        Names("Label 3 at row 1 is outside [0, 3)", () => Metrics.TopKCorrect(new float[6], 3, [0, 3], 1));
        Names("Label -1 at row 0", () => Metrics.TopKCorrect(new float[3], 3, [-1], 1));
        Names("received 3", () => Metrics.TopKCorrect(new float[3], 3, [0, 1], 1));
        Assert.IsType<ArgumentOutOfRangeException>(Record.Exception(() => new ConfusionMatrix(3).Add(7, 0)));
        Assert.IsType<ArgumentOutOfRangeException>(Record.Exception(() => Metrics.TopKCorrect(new float[3], 3, [9], 1)));
        Assert.Throws<ArgumentNullException>(() => Loss.Create(null!));
        Assert.Throws<ArgumentNullException>(() => new ConsoleProgress(null!, false));
        Names("Received: -1", () => new EarlyStopping(patience: -1));
        Names("'f1'", () => new EpochMetrics(1, 0, 0, null, null, 0, 0, 0).Get("f1"));
    }

    [Fact]
    public void CallbackMonitorsAreCheckedWhenCreated()
    {
        const string accepted = "Expected loss, accuracy, val_loss or val_accuracy";
        Names("'val_los'", () => new EarlyStopping("val_los"));
        Names(accepted, () => new EarlyStopping("val_los"));
        Names("'bogus'", () => new ModelCheckpoint("model.fovea", "bogus"));
        Names(accepted, () => new ModelCheckpoint("model.fovea", "bogus"));
        Names("Received: ''", () => new ModelCheckpoint("", "loss"));
        Assert.Throws<ArgumentNullException>(() => new EarlyStopping(null!));
    }

    [Fact]
    public void DataLoaderAndAugmentation()
    {
        var data = new Fovea.Data.InMemoryDataset(new float[2 * 9], [0, 1], [1, 3, 3], ["a", "b"]);
        Names("got 0", () => new Fovea.Data.DataLoader(data, 0));
        Names("got 1.5", () => new Fovea.Data.DataLoader(data, 2, augmentation: new Fovea.Data.Augmentation(HorizontalFlipProbability: 1.5)));
        Names("got -0.5", () => new Fovea.Data.DataLoader(data, 2, augmentation: new Fovea.Data.Augmentation(HorizontalFlipProbability: -0.5)));
        Names("got -1", () => new Fovea.Data.DataLoader(data, 2, augmentation: new Fovea.Data.Augmentation(MaxTranslation: -1)));
        Names("Maximum translation 3 would move a 3 x 3 image", () => new Fovea.Data.DataLoader(data, 2, augmentation: new Fovea.Data.Augmentation(MaxTranslation: 3)));
    }

    [Fact]
    public void InMemoryDataset()
    {
        Names("Images hold 10 values but 3 labels", () => new Fovea.Data.InMemoryDataset(new float[10], new int[3], [1, 2, 2], ["a"]));
        Names("got [1, 0, 2]", () => new Fovea.Data.InMemoryDataset(new float[0], [], [1, 0, 2], ["a"]));
        Names("Label 5 at index 1", () => new Fovea.Data.InMemoryDataset(new float[8], [0, 5], [1, 2, 2], ["a", "b"]));
        Names("got 0", () => new Fovea.Data.InMemoryDataset(new byte[4], 0f, [0], [1, 2, 2], ["a"]));
        var data = new Fovea.Data.InMemoryDataset(new float[8], [0, 1], [1, 2, 2], ["a", "b"]);
        Names("Index 6 at position 1", () => data.Subset([0, 6]));
        Names("got 1", () => data.Split(1.0, 1));
        Names("Sample index -1", () => data.GetLabel(-1));
        Names("Destination holds 3 values but an image has 4", () => data.CopyImage(0, new float[3]));
    }

    [Fact]
    public void DatasetSplits()
    {
        // Refused before any folder is searched or anything downloaded.
        var offline = new Fovea.Data.DatasetLoadOptions { EnvironmentFolder = "", SystemFolder = "/nonexistent", CacheFolder = "/nonexistent", Offline = true };
        Names("Received: 7", () => Fovea.Data.FashionMnist.Load((Fovea.Data.DatasetSplit)7, null, offline));
        Names("Received: -1", () => Fovea.Data.Cifar10.Load((Fovea.Data.DatasetSplit)(-1), null, offline));
    }

    [Fact]
    public void LayerArguments()
    {
        Names("kernelSize=(0, 0)", () => new Fovea.Layers.Conv2D(4, 0));
        Names("kernelSize=(3, -1)", () => new Fovea.Layers.Conv2D(4, (3, -1), (1, 1), Fovea.Layers.Padding.Valid, (1, 1)));
        Names("dilation=(0, 0)", () => new Fovea.Layers.Conv2D(4, 3, dilation: 0));
        Names("dilation=(2, -2)", () => new Fovea.Layers.Conv2D(4, (3, 3), (1, 1), Fovea.Layers.Padding.Valid, (2, -2)));
        Names("stride=(-1, -1)", () => new Fovea.Layers.Conv2D(4, 3, stride: -1));
        Names("groups=3, filters=4", () => new Fovea.Layers.Conv2D(4, 3, groups: 3));
        Names("epsilon=0", () => new Fovea.Layers.BatchNorm2D(epsilon: 0f));
        Names("epsilon=-1", () => new Fovea.Layers.BatchNorm2D(epsilon: -1f));
        Names("epsilon=NaN", () => new Fovea.Layers.BatchNorm2D(epsilon: float.NaN));
        Names("positive and finite", () => new Fovea.Layers.BatchNorm2D(epsilon: float.PositiveInfinity));
        Names("momentum=2", () => new Fovea.Layers.BatchNorm2D(momentum: 2f));
        Names("stride=(0, 0)", () => new Fovea.Layers.MaxPool2D(2, stride: 0));
        Names("stride=(-2, -2)", () => new Fovea.Layers.AvgPool2D(2, stride: -2));
        Names("stride=(1, 0)", () => new Fovea.Layers.MaxPool2D((2, 2), (1, 0), Fovea.Layers.Padding.Valid));
        Names("poolSize=(0, 0)", () => new Fovea.Layers.AvgPool2D(0));
    }

    [Fact]
    public void LayerNamesInAModel()
    {
        var model = new Fovea.Models.Model([1, 6, 6], "net");
        var conv = new Fovea.Layers.Conv2D(2, 3, name: "features");
        model.Add(conv);
        Names("already has a layer named 'features'", () => model.Add(new Fovea.Layers.Conv2D(2, 1, name: "features")));
        Names("Layer 'features' is already in model 'net'", () => model.Add(conv));
        Names("no layer named 'head'", () => model.GetLayer("head"));
    }

    [Fact]
    public void FitOptions()
    {
        var trainer = new Trainer(Fovea.Models.ModelZoo.Reference([1, 28, 28], 10), new Adam());
        var data = new Fovea.Data.InMemoryDataset(new float[784], [0], [1, 28, 28], ["a"]);
        Names("Received: 0", () => trainer.Fit(data, new FitOptions { BatchSize = 0 }));
        Names("Received: 1", () => trainer.Fit(data, new FitOptions { ValidationSplit = 1 }));
    }

    [Fact]
    public void LayerShapesThatDoNotFit()
    {
        // 3 input channels cannot be split into 2 groups (filters 4 are, so the constructor accepts it).
        Names("channels=3, groups=2", () => new Fovea.Layers.Conv2D(4, 3, groups: 2).ComputeOutputShape([3, 6, 6]));
        // A 5x5 kernel does not fit a 3x4 input without padding.
        Names("(1, 3, 4)", () => new Fovea.Layers.Conv2D(2, 5).ComputeOutputShape([1, 3, 4]));
        Names("input 3x4, kernel 5x5", () => new Fovea.Layers.Conv2D(2, 5).ComputeOutputShape([1, 3, 4]));
        Names("(2, 3, 3)", () => new Fovea.Layers.MaxPool2D(4).ComputeOutputShape([2, 3, 3]));
        Names("window 4x4 is larger than the padded input 3x3", () => new Fovea.Layers.AvgPool2D(4).ComputeOutputShape([2, 3, 3]));
        Names("(1, 2) and (1, 3)", () => new Fovea.Layers.Add().ComputeOutputShape([[1, 2], [1, 3]]));
        Names("dilation=(0, 1)", () => new Fovea.Layers.MaxPool2D(2) { Dilation = (0, 1) });
        Names("dilation=(2, -1)", () => new Fovea.Layers.AvgPool2D(2) { Dilation = (2, -1) });
    }

    [Fact]
    public void LayerInputCounts()
    {
        Names("takes 2 input(s); received 1", () => new Fovea.Layers.Add().Build([[2, 2]], new Random(0)));
        Names("takes 1 input(s); received 2", () => new Fovea.Layers.Conv2D(2, 1).Build([[1, 3, 3], [1, 3, 3]], new Random(0)));
        var model = new Fovea.Models.Model([1, 4, 4], "net");
        Names("received 1", () => model.Add(new Fovea.Layers.Add(), model.Input));
        Names("received 3", () => model.Add(new Fovea.Layers.Add(), model.Input, model.Input, model.Input));
    }

    [Fact]
    public void TapeAndTensorIndex()
    {
        Names("shape (2, 3)", () => new Fovea.Autograd.Tape().Backward(new Tensor(2, 3)));
        var e = Assert.Throws<IndexOutOfRangeException>(() => _ = new Tensor(2, 3)[1, 5]);
        Assert.Contains("Index 5 is out of range for axis 1 of size 3", e.Message);
        e = Assert.Throws<IndexOutOfRangeException>(() => new Tensor(2, 3)[-1, 0] = 1f);
        Assert.Contains("Index -1 is out of range for axis 0 of size 2", e.Message);
    }

    [Fact]
    public void ValidationSplitNamesTheDatasetItCannotSplit()
    {
        var trainer = new Trainer(Fovea.Models.ModelZoo.Reference([1, 28, 28], 2), new Adam());
        var streamed = new StreamedDataset(new Fovea.Data.InMemoryDataset(new float[4 * 784], [0, 1, 0, 1], [1, 28, 28], ["a", "b"]));
        Names("received a StreamedDataset", () => trainer.Fit(streamed, new FitOptions { ValidationSplit = 0.5 }));
    }

    [Fact]
    public void ModelBuilders()
    {
        Names("'resnet'", () => Fovea.Models.ModelZoo.Create("resnet", [1, 28, 28], 10));
        Names("default, reference, compact", () => Fovea.Models.ModelZoo.Create("", [1, 28, 28], 10));
        Assert.Throws<ArgumentNullException>(() => Fovea.Models.ModelZoo.Create(null!, [1, 28, 28], 10));
        Names("units=0", () => Fovea.Models.ModelZoo.Create("reference", [1, 28, 28], 0));
        Names("received input shape (28, 28)", () => Fovea.Models.ModelZoo.Reference([28, 28], 10));
        Names("at least 8 × 8 (its pooling halves them); received 6 × 64", () => Fovea.Models.ModelZoo.Compact([3, 6, 64], 10));
        Names("at least 4 × 4 (its pooling halves them); received 28 × 3", () => Fovea.Models.ModelZoo.Create("default", [1, 28, 3], 10));
        var sequential = new Fovea.Models.Sequential([1, 4, 4], "chain").Top(new Fovea.Layers.Flatten());
        var e = Assert.Throws<InvalidOperationException>(() => sequential.Base(new Fovea.Layers.ReLU(name: "late")));
        Assert.Contains("received base layer(s) late (ReLU) after top layer(s) flatten", e.Message);
    }

    /// <summary>A data set that is not an <see cref="Fovea.Data.InMemoryDataset"/>, as a streamed one would be.</summary>
    private sealed class StreamedDataset(Fovea.Data.IDataset inner) : Fovea.Data.IDataset
    {
        public int Count => inner.Count;
        public int[] SampleShape => inner.SampleShape;
        public IReadOnlyList<string> ClassNames => inner.ClassNames;
        public void CopyImage(int index, Span<float> destination) => inner.CopyImage(index, destination);
        public int GetLabel(int index) => inner.GetLabel(index);
    }
}
