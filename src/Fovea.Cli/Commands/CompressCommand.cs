using System.Text.Json.Nodes;
using Fovea.Models;
using Fovea.Serialization;
using Fovea.Tensors;

namespace Fovea.Cli.Commands;

/// <summary>fovea compress MODEL --out SMALL.fovea [--weights float16|int8]: a smaller model file, and what it changes.</summary>
internal static class CompressCommand
{
    public const string Help = """
        Usage: fovea compress MODEL --out FILE.fovea [--weights float16|int8] [--json]

        Writes MODEL (.fovea or .onnx) as a smaller Fovea file: its convolution filters and dense matrices
        stored in 16-bit floats (about half the size) or 8-bit integers with one scale per filter or unit
        (about a quarter); biases and BatchNorm stay float32, and loaded, every weight is float32 again.
        Then runs both models on the same 32 random inputs and reports how far the outputs moved and how
        often the top class stayed the same. Check the accuracy on your data with fovea eval before shipping.

        Options:
          --out FILE      the file to write (.fovea; required)
          --weights W     float16 | int8 (default: int8)
          --json          print the result as JSON
        """;

    private const int Samples = 32;

    public static int Run(string[] args)
    {
        var cl = CommandLine.Parse("compress", args, ["out", "weights"], ["json"]);
        cl.RequirePositionals(1, "compress MODEL --out FILE.fovea [--weights float16|int8]");
        string modelPath = cl.Positionals[0];
        string output = cl.Get("out") ?? throw new UsageException("compress needs --out FILE.fovea (the smaller model file to write).");
        var storage = cl.Get("weights", "int8") switch
        {
            "float16" => WeightStorage.Float16,
            "int8" => WeightStorage.Int8,
            var other => throw new UsageException($"Option --weights expects float16 or int8; received '{other}'."),
        };
        if (!output.EndsWith(".fovea", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"compress writes a Fovea model file, but --out {output} does not end in .fovea.");
        CliFiles.Input(modelPath, "Model file");
        CliFiles.Output(output, "--out", modelPath);
        var model = ModelSource.Load(modelPath);
        ModelFile.Save(model, output, storage);
        var small = ModelFile.Load(output);

        var inputs = RandomInputs(model.InputShape);
        var before = model.ToInference().Predict(inputs).ToArray();
        var after = small.ToInference().Predict(inputs).ToArray();
        int perSample = before.Length / Samples;
        double maxDifference = 0, maxOutput = 0;
        int sameTop = 0;
        for (int n = 0; n < Samples; n++)
        {
            var a = before.AsSpan(n * perSample, perSample);
            var b = after.AsSpan(n * perSample, perSample);
            for (int i = 0; i < perSample; i++)
            {
                maxDifference = Math.Max(maxDifference, Math.Abs(a[i] - b[i]));
                maxOutput = Math.Max(maxOutput, Math.Abs(a[i]));
            }
            if (a.IndexOf(TensorMax(a)) == b.IndexOf(TensorMax(b))) sameTop++;
        }
        long inBytes = new FileInfo(modelPath).Length, outBytes = new FileInfo(output).Length;
        string weights = storage == WeightStorage.Float16 ? "float16" : "int8";
        if (cl.Has("json"))
        {
            JsonOutput.Write(new JsonObject
            {
                ["model"] = Path.GetFullPath(modelPath), ["output"] = Path.GetFullPath(output), ["weights"] = weights,
                ["bytes_before"] = inBytes, ["bytes_after"] = outBytes, ["samples"] = Samples,
                ["max_output_difference"] = maxDifference, ["max_output"] = maxOutput, ["same_top_class"] = sameTop,
            });
            return 0;
        }
        Console.WriteLine($"Wrote {output}: {Megabytes(outBytes)} with {weights} weights ({Megabytes(inBytes)} before, {100.0 * outBytes / inBytes:F0}%).");
        Console.WriteLine($"On {Samples} random inputs the outputs moved by at most {maxDifference:G3} (largest output {maxOutput:G3}); " +
            $"the top output stayed the same for {sameTop} of {Samples}. Run fovea eval on both to compare accuracy.");
        return 0;
    }

    private static float TensorMax(ReadOnlySpan<float> values)
    {
        float max = float.NegativeInfinity;
        foreach (float v in values) if (v > max) max = v;
        return max;
    }

    /// <summary>Uniform [0, 1] inputs, the range images have before the model's own normalisation; seeded, so runs agree.</summary>
    private static Tensor RandomInputs(int[] inputShape)
    {
        var random = new Random(1);
        var x = new Tensor([Samples, .. inputShape]);
        foreach (ref float v in x.Span) v = random.NextSingle();
        return x;
    }

    private static string Megabytes(long bytes) => bytes >= 1 << 20 ? $"{bytes / 1048576.0:F1} MB" : $"{bytes / 1024.0:F0} KB";
}
