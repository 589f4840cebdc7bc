using Fovea.Models;
using Fovea.Onnx;
using Fovea.Serialization;
using Fovea.Tensors;

namespace Fovea.Cli.Commands;

/// <summary>fovea import SOURCE --out model.fovea: imports an ONNX model (or a named pretrained one) as a Fovea model.</summary>
internal static class ImportCommand
{
    public const string Help = """
        Usage: fovea import SOURCE --out FILE.fovea [options]

        Imports an ONNX model as a Fovea model whose weights are trainable (fine-tune it with fovea train
        or the library). SOURCE is an .onnx file, or the name of a pretrained model:
          resnet18   ImageNet ResNet-18 features (NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1,
                     taken from the NuGet cache or restored into it); input RGB [3, 224, 224] in [0, 1],
                     output 512 features [512, 1, 1]. Every layer is in the base stage.

        Options:
          --out FILE          the Fovea model file to write (required)
          --whole-input       treat the whole declared input as one sample (for graphs that mix values
                              across their first axis); by default the first axis is the batch
          --no-restore        do not download a missing pretrained package
        """;

    public static int Run(string[] args)
    {
        var cl = CommandLine.Parse("import", args, ["out"], ["whole-input", "no-restore"]);
        cl.RequirePositionals(1, "import SOURCE --out FILE.fovea");
        var output = cl.Get("out") ?? throw new UsageException("import needs --out FILE.fovea.");
        var source = cl.Positionals[0];
        CliFiles.Output(output, "--out", source);
        // A Fovea file named .onnx would be refused by ONNX tools (and read as Fovea only because Fovea looks inside).
        if (output.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"import writes a Fovea model file, but --out {output} ends in .onnx; name it .fovea (to write ONNX, use fovea export).");
        Model model;
        if (PretrainedModels.Names.Contains(source.ToLowerInvariant()) && !File.Exists(source))
        {
            if (cl.Has("whole-input"))
                throw new UsageException($"Option --whole-input applies to an .onnx file; the pretrained {source} has a batch axis of its own.");
            if (PretrainedModels.FindResNet18() is null && !cl.Has("no-restore"))
                Console.Error.WriteLine($"Restoring {PretrainedModels.ResNet18Package} {PretrainedModels.ResNet18Version} into {PretrainedModels.NuGetCache}...");
            try { model = PretrainedModels.Load(source, restore: !cl.Has("no-restore")); }
            catch (InvalidOperationException e) { throw new UsageException(e.Message); }
        }
        else
        {
            if (!File.Exists(source) && !Directory.Exists(source)) throw new FileNotFoundException($"ONNX file not found: {source} (pretrained names: {string.Join(", ", PretrainedModels.Names)}).", source);
            CliFiles.Input(source, "ONNX file");
            if (ModelSource.Detect(source) == ModelSource.Format.Fovea)
                throw new UsageException($"{source} is already a Fovea model file (safetensors); import reads ONNX models. Use it as it is, or export it with fovea export.");
            var graph = OnnxImporter.ImportGraph(source, new OnnxImportOptions { FirstAxisIsBatch = !cl.Has("whole-input") });
            model = graph.Model;
            // The model's output is the first graph output; the others stay in the model as named nodes.
            if (graph.Outputs.Count > 1)
                Console.WriteLine($"The graph has {graph.Outputs.Count} outputs; the model's output is '{graph.Outputs[0].Name}', the others are kept as nodes: "
                    + string.Join(", ", graph.Outputs.Skip(1).Select(o => $"'{o.Name}' = node '{o.Node.Name}' ({o.DeclaredType}{(o.DeclaredType == "float" ? "" : ", as float32")})")) + ".");
        }
        ModelFile.Save(model, output);
        Console.WriteLine($"Imported {model.Name}: {model.Layers.Count()} layers, {model.ParameterCount:N0} parameters, input {Tensor.ShapeToString(model.InputShape)}, output {Tensor.ShapeToString(model.OutputShape)} → {output}");
        return 0;
    }
}
