using Fovea.Tensors;

namespace Fovea.Tests;

public class SmokeTests
{
    [Fact]
    public void TensorOfShapeHasProductLength() => Assert.Equal(24, new Tensor(2, 3, 4).Length);

    [Fact]
    public void NegativeDimensionThrowsNamingShape()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Tensor(2, -1));
        Assert.Contains("(2, -1)", ex.Message);
    }
}
