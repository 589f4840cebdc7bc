using System.Text.Json.Nodes;
using Fovea.Models;
using Fovea.Serialization;

namespace Fovea.Cli.Commands;

/// <summary>fovea summary MODEL | --model NAME: layers, output shapes, parameters, FLOPs and receptive fields.</summary>
internal static class SummaryCommand
{
    public const string Help = """
        Usage: fovea summary MODEL_FILE
               fovea summary --model NAME [--input C,H,W] [--classes N]

        Prints layer, stage (base/top), output shape, parameter count, FLOPs and receptive field ("Sees":
        the input pixels one output position depends on) per layer, plus totals.

        Options:
          --model NAME     a zoo network (default | reference | compact | vgg-small) instead of a file
          --input C,H,W    input shape for --model (default: 3,32,32 for vgg-small, else 1,28,28)
          --classes N      outputs for --model (default: 10)
          --json           print as JSON
        """;

    public static int Run(string[] args)
    {
        var cl = CommandLine.Parse("summary", args, ["model", "input", "classes"], ["json"]);
        var model = LoadModelOrZoo(cl, "summary");
        var summary = model.Summary();
        if (!cl.Has("json")) { Console.Write(summary.ToString()); return 0; }
        JsonOutput.Write(new JsonObject
        {
            ["name"] = summary.Name, ["input_shape"] = JsonOutput.Array(summary.InputShape),
            ["total_parameters"] = summary.TotalParameters, ["trainable_parameters"] = summary.TrainableParameters, ["total_flops"] = summary.TotalFlops,
            ["layers"] = new JsonArray(summary.Layers.Select(l => (JsonNode)new JsonObject
            {
                ["name"] = l.Name, ["type"] = l.Type, ["stage"] = l.Stage.ToString().ToLowerInvariant(), ["output_shape"] = JsonOutput.Array(l.OutputShape),
                ["parameters"] = l.Parameters, ["flops"] = l.Flops, ["trainable"] = l.Trainable, ["inputs"] = JsonOutput.Array(l.Inputs),
                ["receptive_field"] = l.ReceptiveField is not { } f ? null : f.WholeInput ? "all" : JsonOutput.Array(new[] { f.Height, f.Width }),
            }).ToArray()),
        });
        return 0;
    }

    /// <summary>The model file of the one positional argument, or the zoo network of --model NAME (with --input and --classes).</summary>
    internal static Model LoadModelOrZoo(CommandLine cl, string command)
    {
        if (cl.Has("model"))
        {
            cl.RequirePositionals(0, $"{command} --model NAME [--input C,H,W] [--classes N]");
            // Each network on the images it is the default for: vgg-small on CIFAR-10's, the others on Fashion-MNIST's.
            string defaultInput = cl.Get("model")!.Equals("vgg-small", StringComparison.OrdinalIgnoreCase) ? "3,32,32" : "1,28,28";
            var input = ParseShape(cl.Get("input", defaultInput)!);
            int classes = cl.GetInt("classes", 10, 1, 100_000);
            try { return ModelZoo.Create(cl.Get("model")!, input, classes); }
            catch (ArgumentException e) { throw new UsageException($"--model {cl.Get("model")} with --input {cl.Get("input", defaultInput)}: {Cli.UserMessage(e)}"); }
        }
        cl.RequirePositionals(1, $"{command} MODEL_FILE  (or: fovea {command} --model NAME)");
        foreach (var only in new[] { "input", "classes" })
            if (cl.Has(only)) throw new UsageException($"--{only} applies to --model NAME; a model file has its own input and classes.");
        return ModelSource.Load(cl.Positionals[0]);
    }

    private static int[] ParseShape(string text)
    {
        var parts = text.Split(',', 'x');
        var shape = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], out shape[i]) || shape[i] <= 0)
                throw new UsageException($"Option --input expects positive sizes like 3,224,224; received '{text}'.");
        return shape;
    }
}
