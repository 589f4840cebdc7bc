using Fovea.Serialization;

namespace Fovea.Onnx.Tests;

/// <summary>
/// fovea import resnet18: from the NuGet cache, from a NuGet.Config globalPackagesFolder the SDK reports, and a clear
/// one-line error when the package is missing and 'dotnet' cannot be started. None of these downloads anything.
/// </summary>
public sealed class PretrainedCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-onnx-pretrained-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The NuGet cache folder holding the package (found as ResNet18Tests finds it; the test project downloads it).</summary>
    private static string PackageCache()
    {
        var onnx = PretrainedModels.LocateResNet18(restore: true);
        // <cache>/<id>/<version>/tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx
        var dir = new DirectoryInfo(Path.GetDirectoryName(onnx)!);
        for (int i = 0; i < 5; i++) dir = dir.Parent!;
        return dir.FullName;
    }

    /// <summary>A child environment with an empty home and no NUGET_PACKAGES: the package is not in the usual places.</summary>
    private Dictionary<string, string?> BareEnvironment(string? path = null)
    {
        var home = Directory.CreateDirectory(Path.Combine(_dir, "home")).FullName;
        var env = new Dictionary<string, string?> { ["HOME"] = home, ["USERPROFILE"] = home, ["NUGET_PACKAGES"] = null, ["DOTNET_CLI_HOME"] = home };
        if (path is not null) env["PATH"] = path;
        return env;
    }

    [Fact]
    public void ImportResNet18FromTheCacheSavesThePretrainedBase()
    {
        PackageCache();
        var output = Path.Combine(_dir, "resnet18.fovea");
        var r = CliProcess.Run("import", "resnet18", "--out", output, "--no-restore");
        Assert.True(r.Code == 0, r.Err);
        var saved = ModelFile.Load(output);
        var expected = PretrainedModels.Load("resnet18", restore: false);
        Assert.Equal([3, 224, 224], saved.InputShape);
        Assert.Equal([512, 1, 1], saved.OutputShape);
        Assert.Equal(expected.ParameterCount, saved.ParameterCount);
        var x = RoundTripTests.RandomInput(3, 1, 3, 224, 224);
        for (int i = 0; i < x.Length; i++) x.Span[i] = (x.Span[i] + 1) / 2;
        Assert.Equal(0, RoundTripTests.MaxAbsDiff(expected.Predict(x).Span, saved.Predict(x).Span));
    }

    [Fact]
    public void WholeInputIsRefusedForAPretrainedName() =>
        CliProcess.AssertUsageError(CliProcess.Run("import", "resnet18", "--out", Path.Combine(_dir, "w.fovea"), "--whole-input"), "--whole-input applies to an .onnx file");

    [Fact]
    public void AGlobalPackagesFolderFromNuGetConfigIsFound()
    {
        var cache = PackageCache();
        var work = Directory.CreateDirectory(Path.Combine(_dir, "work")).FullName;
        var output = Path.Combine(_dir, "r.fovea");
        // Without the NuGet.Config the package is in none of the places looked at.
        CliProcess.AssertUsageError(CliProcess.Run(BareEnvironment(), work, "import", "resnet18", "--out", output, "--no-restore"), "not in the NuGet cache");
        File.WriteAllText(Path.Combine(work, "NuGet.Config"),
            $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{cache}" /></config>
            </configuration>
            """);
        var r = CliProcess.Run(BareEnvironment(), work, "import", "resnet18", "--out", output, "--no-restore");
        Assert.True(r.Code == 0, r.Err);
        Assert.True(File.Exists(output));
    }

    [Fact]
    public void WithoutDotnetOnPathARestoreIsAOneLineUserError()
    {
        var emptyBin = Directory.CreateDirectory(Path.Combine(_dir, "bin")).FullName;
        var output = Path.Combine(_dir, "r.fovea");
        // Not 'dotnet Fovea.Cli.dll': a child started by name is looked for in the running executable's folder first.
        var r = CliProcess.RunAppHost(BareEnvironment(path: emptyBin), _dir, "import", "resnet18", "--out", output);
        // The progress line "Restoring ..." comes first; the failure is the one error line after it, and no stack trace.
        Assert.True(r.Code == 2, $"exit {r.Code}: {r.Err}");
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("Restoring ", lines[0]);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("fovea: error: Cannot download " + PretrainedModels.ResNet18Package, lines[1]);
        Assert.Contains("the 'dotnet' command could not be started", lines[1]);
        Assert.Contains("Install the .NET SDK", lines[1]);
        Assert.False(File.Exists(output));
    }

    /// <summary>
    /// A damaged package (its preprocessing model without the mean image, or with one of another shape) is reported with
    /// the file and what is wrong; it ended in "Sequence contains no matching element" or an index error.
    /// </summary>
    [Theory]
    [InlineData("none", "has no initializer 'MeanImage'")]
    [InlineData("flat", "its mean image has shape [150528]")]
    public void ADamagedPreprocessingModelNamesTheFile(string mean, string message)
    {
        var real = PretrainedModels.LocateResNet18(restore: true);
        var models = Path.Combine(_dir, "cache", PretrainedModels.ResNet18Package.ToLowerInvariant(), PretrainedModels.ResNet18Version, "tools", "DnnImageModels");
        Directory.CreateDirectory(Path.Combine(models, "ResNet18Onnx"));
        File.CreateSymbolicLink(Path.Combine(models, "ResNet18Onnx", "ResNet18.onnx"), real);
        var prepDir = Directory.CreateDirectory(Path.Combine(models, "ResNetPrepOnnx")).FullName;
        var prep = Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(real)!)!, "ResNetPrepOnnx", "ResNetPreprocess.onnx")));
        var image = prep.Graph.Initializer.Single(t => t.Name == "MeanImage");
        if (mean == "none") image.Name = "Other";
        else { image.Dims.Clear(); image.Dims.Add(3 * 224 * 224); }
        var prepPath = Path.Combine(prepDir, "ResNetPreprocess.onnx");
        File.WriteAllBytes(prepPath, Google.Protobuf.MessageExtensions.ToByteArray(prep));
        var env = BareEnvironment();
        env["NUGET_PACKAGES"] = Path.Combine(_dir, "cache");
        var r = CliProcess.Run(env, _dir, "import", "resnet18", "--out", Path.Combine(_dir, "r.fovea"), "--no-restore");
        CliProcess.AssertUsageError(r, prepPath, message);
    }

    [Theory]
    [InlineData("global-packages: /home/me/.nuget/packages/\n", "/home/me/.nuget/packages/")]
    [InlineData("info : global-packages: C:\\Users\\me\\.nuget\\packages\\\r\n", "C:\\Users\\me\\.nuget\\packages\\")]
    [InlineData("Welcome to .NET!\n\nglobal-packages: /srv/nuget cache\n", "/srv/nuget cache")]
    [InlineData("error: something else\n", null)]
    [InlineData("global-packages:\n", null)]
    public void TheSdkAnswerIsParsed(string output, string? expected) => Assert.Equal(expected, PretrainedModels.ParseGlobalPackages(output));
}
