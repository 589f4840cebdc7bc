namespace Fovea.Layers;

/// <summary>How a layer's weights are drawn before training. Seeded through the model's seed.</summary>
public enum Initializer
{
    /// <summary>Normal(0, sqrt(2 / fanIn)) — He et al. 2015, for ReLU networks.</summary>
    HeNormal,
    /// <summary>Uniform(±sqrt(6 / fanIn)) — He et al. 2015.</summary>
    HeUniform,
    /// <summary>Uniform(±sqrt(6 / (fanIn + fanOut))) — Glorot and Bengio 2010.</summary>
    GlorotUniform,
    /// <summary>Normal(0, sqrt(2 / (fanIn + fanOut))) — Glorot and Bengio 2010.</summary>
    GlorotNormal,
    /// <summary>All zeros (biases).</summary>
    Zeros,
    /// <summary>All ones (BatchNorm scale).</summary>
    Ones,
}

internal static class Initializers
{
    public static void Fill(Span<float> values, Initializer kind, int fanIn, int fanOut, Random random)
    {
        switch (kind)
        {
            case Initializer.Zeros: values.Clear(); break;
            case Initializer.Ones: values.Fill(1f); break;
            case Initializer.HeNormal: FillNormal(values, Math.Sqrt(2.0 / fanIn), random); break;
            case Initializer.GlorotNormal: FillNormal(values, Math.Sqrt(2.0 / (fanIn + fanOut)), random); break;
            case Initializer.HeUniform: FillUniform(values, Math.Sqrt(6.0 / fanIn), random); break;
            case Initializer.GlorotUniform: FillUniform(values, Math.Sqrt(6.0 / (fanIn + fanOut)), random); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, $"Unknown initializer {kind}.");
        }
    }

    private static void FillUniform(Span<float> values, double limit, Random random)
    {
        for (int i = 0; i < values.Length; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * limit);
    }

    private static void FillNormal(Span<float> values, double std, Random random)
    {
        // Box-Muller; explicit so results do not depend on a runtime's Gaussian implementation.
        for (int i = 0; i < values.Length; i += 2)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1)) * std;
            values[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < values.Length) values[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
        }
    }
}
