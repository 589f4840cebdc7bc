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
}
