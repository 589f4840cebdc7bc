using Fovea.Layers;
using Fovea.Models;
using Fovea.Tensors;
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
    }

    [Fact]
    public void AddWithANullNodeArrayAppliesTheLayerToTheOutput()
    {
        var model = new Model([2], "net");
        var node = model.Add(new ReLU(), (Node[])null!);
        Assert.Equal([0], node.InputIndices);
    }
}
