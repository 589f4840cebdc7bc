namespace Fovea.Onnx.Tests;

/// <summary>Locates the shared test data next to the repository (the ONNX conformance cases, the ResNet-18 package).</summary>
internal static class TestData
{
    /// <summary>
    /// The onnx-node conformance folder: $FOVEA_ONNX_CONFORMANCE, else the copy in this repository
    /// (tests/Fovea.Onnx.Tests/conformance/onnx-node: upstream ONNX data files, Apache-2.0, provenance in its README),
    /// else shared/conformance/onnx-node in a parent folder.
    /// </summary>
    public static string? ConformanceRoot { get; } = FindConformance();

    private static string? FindConformance()
    {
        var env = Environment.GetEnvironmentVariable("FOVEA_ONNX_CONFORMANCE");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (var candidate in new[]
            {
                Path.Combine(dir.FullName, "tests", "Fovea.Onnx.Tests", "conformance", "onnx-node"),
                Path.Combine(dir.FullName, "shared", "conformance", "onnx-node"),
            })
                if (File.Exists(Path.Combine(candidate, "INDEX.tsv"))) return candidate;
        }
        return null;
    }
}
