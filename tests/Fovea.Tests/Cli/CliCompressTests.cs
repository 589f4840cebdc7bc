using System.Text.Json.Nodes;
using Fovea.Models;
using Fovea.Serialization;

namespace Fovea.Tests.Cli;

/// <summary>fovea compress, run as the real CLI in its own process (hence here: the arm64 run leaves out child processes).</summary>
public class CliCompressTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-compress-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Save(Model model, WeightStorage storage)
    {
        string path = Path.Combine(_dir, $"{storage}.fovea");
        ModelFile.Save(model, path, storage);
        return path;
    }

    private static Model Reference()
    {
        var model = ModelZoo.Reference([1, 28, 28], 10, seed: 7);
        model.ClassNames = Enumerable.Range(0, 10).Select(i => $"class {i}").ToArray();
        return model;
    }

    [Fact]
    public void Compress_writes_the_smaller_file_and_reports_what_moved()
    {
        string source = Save(Reference(), WeightStorage.Float32), output = Path.Combine(_dir, "small.fovea");
        var r = CliProcess.Run("compress", source, "--out", output, "--weights", "float16", "--json");
        Assert.True(r.Code == 0, r.Err);
        var json = JsonNode.Parse(r.Out)!;
        Assert.Equal("float16", (string)json["weights"]!);
        Assert.True((long)json["bytes_after"]! < 0.55 * (long)json["bytes_before"]!);
        Assert.True((double)json["max_output_difference"]! < 0.01 * (double)json["max_output"]!);
        Assert.Equal(32, (int)json["same_top_class"]!);
        Assert.True(File.Exists(output));
        CliProcess.AssertUsageError(CliProcess.Run("compress", source, "--out", output, "--weights", "int4"), "--weights expects float16 or int8; received 'int4'");
        CliProcess.AssertUsageError(CliProcess.Run("compress", source, "--out", Path.Combine(_dir, "x.onnx")), "does not end in .fovea");
        CliProcess.AssertUsageError(CliProcess.Run("compress", source), "compress needs --out");
    }
}
