using Fovea.Models;
using Fovea.Onnx;
using Fovea.Serialization;

namespace Fovea.Cli.Commands;

/// <summary>Loads the model a command names: a Fovea model file, or an ONNX file (imported on the fly).</summary>
internal static class ModelSource
{
    public static bool IsOnnx(string path) => path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    public static Model Load(string path)
    {
        CliFiles.Input(path, "Model file");
        return IsOnnx(path) ? OnnxImporter.Import(path) : ModelFile.Load(path);
    }
}
