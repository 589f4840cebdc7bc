using Fovea.Layers;
using Fovea.Models;

namespace Fovea.Tests.Models;

/// <summary>The receptive field column of the summary, against fields worked out by hand.</summary>
public class ReceptiveFieldTests
{
    private static string[] Fields(Model model) => model.Summary().Layers.Select(l => l.ReceptiveField?.ToString() ?? "-").ToArray();

    [Fact]
    public void The_default_network_grows_from_3x3_to_10x10_then_sees_everything()
    {
        // conv 3 → 3; pool 2 (jump 2) → 4; conv 3 at jump 2 → 8; pool 2 → 10; flatten and dense → all.
        var model = ModelZoo.Default([1, 28, 28], 10);
        Assert.Equal(["3×3", "3×3", "3×3", "4×4", "8×8", "8×8", "8×8", "10×10", "all", "all", "all", "all", "all", "all"], Fields(model));
        string table = model.Summary().ToString();
        Assert.Contains("Sees", table);
        Assert.Contains("10×10", table);
    }

    [Fact]
    public void Strides_dilation_rectangles_and_branches_are_followed()
    {
        var m = new Model([3, 32, 32], "branches");
        var a = m.Add(new Conv2D(4, 3, stride: 2, padding: Padding.Same, name: "s2"), m.Input);                    // 3, jump 2
        var b = m.Add(new Conv2D(4, 3, dilation: 2, padding: Padding.Same, name: "dilated"), a);                     // 3 + 4·2 = 11
        var c = m.Add(new Conv2D(4, (1, 5), (1, 1), Padding.Same, (1, 1), name: "wide"), a);                          // 3×(3 + 4·2)
        var sum = m.Add(new Add(name: "sum"), b, c);                                                                  // the larger of each side
        var pool = m.Add(new GlobalAvgPool2D(name: "gap"), sum);
        m.Add(new Dense(2, name: "out"), m.Add(new Flatten(), pool));
        var fields = m.Summary().Layers.ToDictionary(l => l.Name, l => l.ReceptiveField);
        Assert.Equal(new ReceptiveField(3, 3, 2, 2), fields["s2"]);
        Assert.Equal(new ReceptiveField(11, 11, 2, 2), fields["dilated"]);
        Assert.Equal(new ReceptiveField(3, 11, 2, 2), fields["wide"]);
        Assert.Equal(new ReceptiveField(11, 11, 2, 2), fields["sum"]);
        Assert.True(fields["gap"]!.WholeInput);
        Assert.True(fields["out"]!.WholeInput);
        // An input that is no image has no receptive field to speak of.
        Assert.All(new Sequential([8]).Top(new Dense(3)).Summary().Layers, l => Assert.Null(l.ReceptiveField));
    }
}
