using Fovea.Tensors;
using Fovea.Vision;

namespace Fovea.Benchmarks;

/// <summary>
/// texture-folder mode: writes an image folder (one subfolder per class, PNG) for the fine-tuning measurement
/// (benchmarks/fine-tune.sh). Every picture is a colour texture: a sinusoidal grating of fine stripes (period 4-10 px)
/// in a random colour, a second, weaker grating (0.3-0.7 of its contrast) at a random orientation over it, on a random
/// grey level, with Gaussian pixel noise (sigma 0.1). The class is the orientation of the stronger grating: 0, 45, 90 or 135 degrees, each jittered by
/// up to 15 degrees, so that neighbouring classes come within 15 degrees of each other. Colours, periods, phases, contrasts
/// and the second grating say nothing about the class.
/// </summary>
internal static class TextureFolder
{
    private static readonly string[] s_classNames = ["stripes-000", "stripes-045", "stripes-090", "stripes-135"];

    public static int Run(string[] args)
    {
        string? outDir = null;
        int perClass = 75, seed = 1, size = 224;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--out": outDir = args[i + 1]; break;
                case "--per-class": perClass = int.Parse(args[i + 1]); break;
                case "--seed": seed = int.Parse(args[i + 1]); break;
                case "--size": size = int.Parse(args[i + 1]); break;
                default: Console.Error.WriteLine($"texture-folder: unknown option {args[i]}"); return 1;
            }
        }
        if (outDir is null) { Console.Error.WriteLine("Usage: texture-folder --out DIR [--per-class N] [--seed N] [--size N]"); return 1; }
        var rng = new Random(seed);
        for (int c = 0; c < s_classNames.Length; c++)
        {
            string dir = Path.Combine(outDir, s_classNames[c]);
            Directory.CreateDirectory(dir);
            for (int i = 0; i < perClass; i++) ImageLoader.SavePng(Draw(c, size, rng), Path.Combine(dir, $"{i:D4}.png"));
        }
        Console.WriteLine($"{s_classNames.Length * perClass} images of {size} x {size} in {s_classNames.Length} classes ({string.Join(", ", s_classNames)}) in {outDir}, seed {seed}");
        return 0;
    }

    private static Tensor Draw(int label, int size, Random rng)
    {
        var image = new Tensor(3, size, size);
        var px = image.Span;
        int plane = size * size;
        float level = 0.3f + 0.4f * rng.NextSingle();
        var main = Grating.Random(45.0 * label + 30.0 * (rng.NextDouble() - 0.5), 0.15f + 0.2f * rng.NextSingle(), rng);
        var second = Grating.Random(180.0 * rng.NextDouble(), main.Contrast * (0.3f + 0.4f * rng.NextSingle()), rng);
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                float a = main.At(x, y), b = second.At(x, y);
                for (int ch = 0; ch < 3; ch++)
                {
                    float v = level + a * main.Colour[ch] + b * second.Colour[ch] + 0.1f * Gaussian(rng);
                    px[ch * plane + y * size + x] = Math.Clamp(v, 0f, 1f);
                }
            }
        return image;
    }

    /// <summary>
    /// A sinusoidal grating: stripes along <c>degrees</c> (the wave varies across them), period 4-10 px, random phase, and a
    /// random colour: per channel a weight of 0.5 to 1 with a random sign, so the stripes show in every channel.
    /// </summary>
    private sealed record Grating(double Cos, double Sin, double Period, double Phase, float Contrast, float[] Colour)
    {
        public static Grating Random(double degrees, float contrast, Random rng) =>
            new(Math.Cos(degrees * Math.PI / 180), Math.Sin(degrees * Math.PI / 180), 4 + 6 * rng.NextDouble(), 2 * Math.PI * rng.NextDouble(), contrast,
                [.. Enumerable.Range(0, 3).Select(_ => (rng.Next(2) == 0 ? -1f : 1f) * (0.5f + 0.5f * rng.NextSingle()))]);

        public float At(int x, int y) => Contrast * (float)Math.Sin(2 * Math.PI * (-x * Sin + y * Cos) / Period + Phase);
    }

    private static float Gaussian(Random rng) =>
        (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
}
