namespace Fovea.Data;

/// <summary>
/// Random changes applied to each training image as it is batched by <see cref="DataLoader"/>.
/// The random draws for a sample depend only on the loader's seed, the epoch number and the sample's position in the epoch,
/// so runs are reproducible whatever the thread timing.
/// </summary>
/// <param name="HorizontalFlipProbability">Chance, in [0, 1], of mirroring an image left-right. Default 0 (never).</param>
/// <param name="MaxTranslation">Shift the image by a whole number of pixels drawn uniformly from [-N, N] on each axis, filling
/// uncovered pixels with 0. Default 0 (no shift).</param>
public sealed record Augmentation(double HorizontalFlipProbability = 0, int MaxTranslation = 0)
{
    /// <summary>Mirror with probability 0.5 and shift by up to ±2 pixels: the usual recipe for 28 x 28 images.</summary>
    public static Augmentation ShiftAndFlip { get; } = new(0.5, 2);

    /// <summary>Mirror with probability 0.5 and shift by up to ±4 pixels, filling with 0: the usual recipe for 32 x 32 colour
    /// images such as CIFAR-10 (padding by 4 and cropping at random, as it is usually described).</summary>
    public static Augmentation PaddedCropAndFlip { get; } = new(0.5, 4);

    /// <summary>Throws when a setting is out of range.</summary>
    internal void Validate(int height, int width)
    {
        if (!(HorizontalFlipProbability is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(HorizontalFlipProbability), $"Flip probability must be in [0, 1]; got {HorizontalFlipProbability}.");
        if (MaxTranslation < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxTranslation), $"Maximum translation must be non-negative; got {MaxTranslation}.");
        if (MaxTranslation >= Math.Max(height, width))
            throw new ArgumentOutOfRangeException(nameof(MaxTranslation), $"Maximum translation {MaxTranslation} would move a {height} x {width} image entirely out of frame.");
    }

    /// <summary>
    /// Augments one image in place. <paramref name="image"/> is C*H*W values; <paramref name="scratch"/> at least as long.
    /// </summary>
    internal void Apply(Span<float> image, Span<float> scratch, int channels, int height, int width, ref SplitMix64 rng)
    {
        // Draw in a fixed order so the result depends only on the generator's seed.
        bool flip = HorizontalFlipProbability > 0 && rng.NextDouble() < HorizontalFlipProbability;
        int dx = 0, dy = 0;
        if (MaxTranslation > 0)
        {
            dx = rng.NextInt(2 * MaxTranslation + 1) - MaxTranslation;
            dy = rng.NextInt(2 * MaxTranslation + 1) - MaxTranslation;
        }
        if (!flip && dx == 0 && dy == 0) return;

        int plane = height * width;
        var src = scratch[..(channels * plane)];
        image.CopyTo(src);
        for (int c = 0; c < channels; c++)
        {
            var s = src.Slice(c * plane, plane);
            var d = image.Slice(c * plane, plane);
            for (int y = 0; y < height; y++)
            {
                int sy = y - dy;
                var row = d.Slice(y * width, width);
                if ((uint)sy >= (uint)height)
                {
                    row.Clear();
                    continue;
                }
                var srcRow = s.Slice(sy * width, width);
                for (int x = 0; x < width; x++)
                {
                    // Output pixel x shows the flipped image's pixel x - dx.
                    int fx = x - dx;
                    row[x] = (uint)fx < (uint)width ? srcRow[flip ? width - 1 - fx : fx] : 0f;
                }
            }
        }
    }
}

/// <summary>Small, allocation-free, seedable generator (SplitMix64) whose sequence is fixed by its seed on every platform.</summary>
internal struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    /// <summary>Combines several values into one well-mixed seed.</summary>
    public static ulong Seed(ulong a, ulong b, ulong c = 0)
    {
        var g = new SplitMix64(a);
        ulong s = g.NextUInt64() ^ b;
        g = new SplitMix64(s);
        s = g.NextUInt64() ^ c;
        g = new SplitMix64(s);
        return g.NextUInt64();
    }

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, maxExclusive); multiply-shift keeps the bias below 2^-32.</summary>
    public int NextInt(int maxExclusive) => (int)(((NextUInt64() >> 32) * (ulong)maxExclusive) >> 32);

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));
}
