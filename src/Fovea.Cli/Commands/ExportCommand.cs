using Fovea.Onnx;
using Fovea.Vision;

namespace Fovea.Cli.Commands;

/// <summary>fovea export MODEL --out model.onnx: writes a model as ONNX.</summary>
internal static class ExportCommand
{
    public static readonly string Help = $"""
        Usage: fovea export MODEL --out FILE.onnx [--opset N]

        Writes a Fovea model (or re-writes an ONNX model) as ONNX, with a dynamic batch dimension "N",
        the model's input normalisation as Sub/Div nodes and its class names in the metadata.

        Options:
          --out FILE    the ONNX file to write (required)
          --opset N     ONNX opset, {OnnxExporter.MinOpset} to {OnnxExporter.MaxOpset} (default: {OnnxExporter.DefaultOpset})
        """;

    public static int Run(string[] args)
    {
        var cl = CommandLine.Parse("export", args, ["out", "opset"], []);
        cl.RequirePositionals(1, "export MODEL --out FILE.onnx [--opset N]");
        var output = cl.Get("out") ?? throw new UsageException("export needs --out FILE.onnx.");
        int opset = cl.GetInt("opset", OnnxExporter.DefaultOpset, OnnxExporter.MinOpset, OnnxExporter.MaxOpset);
        CliFiles.Input(cl.Positionals[0], "Model file");
        CliFiles.Output(output, "--out", cl.Positionals[0]);
        if (output.EndsWith(".fovea", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"export writes ONNX, but --out {output} ends in .fovea; name it .onnx (a .fovea model is already a Fovea file).");
        var model = ModelSource.Load(cl.Positionals[0]);
        byte[] bytes;
        try { bytes = OnnxExporter.ToBytes(model, opset); }
        catch (NotSupportedException e) { throw new UsageException(e.Message); }
        AtomicWrite.Bytes(output, bytes);
        Console.WriteLine($"Exported {model.Name} ({model.Layers.Count()} layers, {model.ParameterCount:N0} parameters) to {output} (ONNX opset {opset}).");
        return 0;
    }
}
