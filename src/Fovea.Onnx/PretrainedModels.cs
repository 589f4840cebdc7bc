using System.ComponentModel;
using System.Diagnostics;
using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Models;

namespace Fovea.Onnx;

/// <summary>
/// Pretrained ONNX networks from NuGet packages, imported as Fovea base models. The package is looked up in the NuGet
/// cache ($NUGET_PACKAGES or ~/.nuget/packages, then the folder <c>dotnet nuget locals global-packages --list</c> names,
/// e.g. a NuGet.Config globalPackagesFolder) and, when absent, downloaded there with <c>dotnet restore</c>.
/// </summary>
public static class PretrainedModels
{
    /// <summary>Package holding the ImageNet ResNet-18 feature extractor (ONNX, opset 8, input [1, 3, 224, 224], output [512, 1, 1]).</summary>
    public const string ResNet18Package = "Microsoft.ML.DnnImageFeaturizer.ResNet18";
    /// <summary>Version of <see cref="ResNet18Package"/>.</summary>
    public const string ResNet18Version = "0.23.1";
    private const string ResNet18File = "tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx";

    /// <summary>
    /// The layer of the imported ResNet-18 (<see cref="Load"/>) after which its last residual stage begins: the ReLU after the
    /// third stage's last residual add, output [256, 14, 14]. Cut there (<see cref="Model.CopyAfter"/>), the tail is the last
    /// stage (in this package's network three residual blocks of 512 channels at 7 × 7, 13.1 M of its 15.9 M parameters, 31% of
    /// its FLOPs) and the average pooling: what fine-tuning (<see cref="Training.TransferLearning.FineTune"/>) trains by default.
    /// </summary>
    public const string ResNet18LastStageInput = "ReLU347";

    /// <summary>Names accepted by <see cref="Load"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["resnet18"];

    /// <summary>The NuGet package cache folder.</summary>
    public static string NuGetCache =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } env ? env
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>How long the NuGet cache folder query (<c>dotnet nuget locals global-packages --list</c>) may take.</summary>
    private static readonly TimeSpan s_localsTimeout = TimeSpan.FromSeconds(15);
    private static readonly Lazy<string?> s_configuredCache = new(() => QueryGlobalPackages(s_localsTimeout));

    /// <summary>
    /// Path of ResNet18.onnx in the NuGet cache, or null when the package is not there. <see cref="NuGetCache"/> is looked at
    /// first; when the package is not there, the global-packages folder the .NET SDK reports (which honours a NuGet.Config
    /// globalPackagesFolder) is asked for once per process, with a short timeout.
    /// </summary>
    public static string? FindResNet18()
    {
        if (InCache(NuGetCache) is { } path) return path;
        return s_configuredCache.Value is { } configured ? InCache(configured) : null;
    }

    private static string? InCache(string cache)
    {
        var path = Path.Combine(cache, ResNet18Package.ToLowerInvariant(), ResNet18Version, ResNet18File);
        return File.Exists(path) ? path : null;
    }

    /// <summary>The folder of a "global-packages: PATH" line of <c>dotnet nuget locals global-packages --list</c>, or null.</summary>
    internal static string? ParseGlobalPackages(string output)
    {
        const string key = "global-packages:";
        foreach (var line in output.Split('\n'))
        {
            int at = line.IndexOf(key, StringComparison.OrdinalIgnoreCase);
            if (at < 0) continue;
            var folder = line[(at + key.Length)..].Trim();
            if (folder.Length > 0) return folder;
        }
        return null;
    }

    /// <summary>
    /// The NuGet global-packages folder as the .NET SDK resolves it, or null when <c>dotnet</c> cannot be started, fails,
    /// or takes longer than <paramref name="timeout"/> (a lookup fallback: a restore, if needed, reports the problem).
    /// </summary>
    private static string? QueryGlobalPackages(TimeSpan timeout)
    {
        var psi = new ProcessStartInfo("dotnet", ["nuget", "locals", "global-packages", "--list"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        try
        {
            using var p = Process.Start(psi);
            if (p is null) return null;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeout))
            {
                try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } // it may have just exited
                return null;
            }
            return p.ExitCode == 0 ? ParseGlobalPackages(stdout.Result) : null;
        }
        catch (Win32Exception) { return null; } // no 'dotnet' on PATH
    }

    /// <summary>Path of ResNet18.onnx, restoring the package into the NuGet cache first when <paramref name="restore"/> and it is missing.</summary>
    public static string LocateResNet18(bool restore = true)
    {
        if (FindResNet18() is { } found) return found;
        if (!restore) throw new FileNotFoundException($"{ResNet18Package} {ResNet18Version} is not in the NuGet cache ({CacheFolders()}).");
        RestorePackage(ResNet18Package, ResNet18Version);
        return FindResNet18() ?? throw new FileNotFoundException($"Restoring {ResNet18Package} {ResNet18Version} did not produce {ResNet18File} in {CacheFolders()}.");
    }

    /// <summary>The cache folders looked in, for messages.</summary>
    private static string CacheFolders()
    {
        string? configured = s_configuredCache.IsValueCreated ? s_configuredCache.Value : null;
        return configured is null || Path.GetFullPath(configured).TrimEnd('/', '\\') == Path.GetFullPath(NuGetCache).TrimEnd('/', '\\')
            ? NuGetCache : $"{NuGetCache} or {configured}";
    }

    /// <summary>
    /// The model called <paramref name="name"/> (see <see cref="Names"/>) as a Fovea model with every layer in the base stage:
    /// add a classifier with <see cref="Model.AddTop"/> and fine-tune. ResNet-18 takes RGB images in [0, 1] (as <c>ImageLoader</c>
    /// gives them): the package's own preprocessing (BGR, 0..255, minus a mean image) is built into the model's first layers.
    /// </summary>
    public static Model Load(string name, bool restore = true)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!string.Equals(name, "resnet18", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"Unknown pretrained model '{name}'. Known: {string.Join(", ", Names)}.");
        var path = LocateResNet18(restore);
        var network = OnnxImporter.Import(path, new OnnxImportOptions { Name = "resnet18" });
        // The package's network takes BGR pixels in 0..255 minus a mean image (its ResNetPreprocess.onnx, Split+Concat+Sub).
        // conv(W, bgr(255·x) − M) = conv(W', x − rgb(M)/255) with W'[o, c] = 255·W[o, 2 − c]: so the base model takes RGB
        // images in [0, 1], as Fovea's image loader gives, through one mean-image layer, and its first filters are in RGB
        // order, which is how they are drawn and what a user fine-tunes.
        var prepPath = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(path)!)!, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        var prep = OnnxFile.ReadModel(prepPath);
        // A damaged or changed package is reported with its file, never as an index or LINQ error.
        var meanTensor = prep.Graph.Initializer.LastOrDefault(t => t.Name == "MeanImage")
            ?? throw new InvalidDataException($"{prepPath} has no initializer 'MeanImage' (the mean image ResNet-18 subtracts); the package is damaged or has changed.");
        OnnxConst mean;
        try { mean = OnnxTensor.Read(meanTensor, "MeanImage"); }
        catch (OnnxImportException e) { throw new InvalidDataException($"{prepPath}: {e.Message}", e); }
        if (mean.Shape.Length != 4 || mean.Shape[0] != 1 || !mean.Shape[1..].SequenceEqual(network.InputShape))
            throw new InvalidDataException($"{prepPath}: its mean image has shape [{string.Join(", ", mean.Shape)}]; [1, {string.Join(", ", network.InputShape)}] expected, the input of {path}.");
        int plane = mean.Shape[^2] * mean.Shape[^1];
        if (mean.Shape[^3] != 3 || network.Layers.FirstOrDefault() is not Conv2D { Groups: 1 } first || first.Weight.Shape[1] != 3)
            throw new InvalidDataException($"{path}: expected a mean image of 3 channels and a first convolution over 3 channels; the package has changed.");
        var model = new Model(network.InputShape, "resnet18");
        var sub = new ConstantArithmetic(BinaryOp.Subtract, mean.Shape[1..], name: "prep_mean_image");
        model.Add(sub);
        var meanBgr = mean.Floats();
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < plane; i++) sub.Constant.Span[c * plane + i] = meanBgr[(2 - c) * plane + i] / 255f;
        var w = first.Weight.Span;
        int filterSize = w.Length / first.Filters, tapCount = filterSize / 3;
        var bgrFilter = new float[filterSize];
        for (int o = 0; o < first.Filters; o++)
        {
            var filter = w.Slice(o * filterSize, filterSize);
            filter.CopyTo(bgrFilter);
            for (int c = 0; c < 3; c++)
                for (int t = 0; t < tapCount; t++) filter[c * tapCount + t] = 255f * bgrFilter[(2 - c) * tapCount + t];
        }
        model.AppendCopies(network);
        return model;
    }

    private static void RestorePackage(string id, string version)
    {
        var dir = Directory.CreateTempSubdirectory("fovea-restore-");
        try
        {
            // A throwaway project whose only job is to download the package into the cache.
            File.WriteAllText(Path.Combine(dir.FullName, "restore.csproj"),
                $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup><TargetFramework>net{Environment.Version.Major}.0</TargetFramework></PropertyGroup>
                  <ItemGroup><PackageDownload Include="{id}" Version="[{version}]" /></ItemGroup>
                </Project>
                """);
            var psi = new ProcessStartInfo("dotnet", ["restore", Path.Combine(dir.FullName, "restore.csproj")])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            Process? started;
            try { started = Process.Start(psi); }
            catch (Win32Exception e)
            {
                throw new PretrainedModelException($"Cannot download {id} {version}: the 'dotnet' command could not be started ({e.Message}). " +
                    $"Install the .NET SDK (https://dot.net) and make sure 'dotnet' is on PATH, or put the package in the NuGet cache ({NuGetCache}).", e);
            }
            using var p = started ?? throw new PretrainedModelException($"Cannot download {id} {version}: 'dotnet restore' could not be started.");
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new PretrainedModelException($"'dotnet restore' of {id} {version} failed (exit {p.ExitCode}): {stderr}{stdout.Result}");
        }
        finally { dir.Delete(recursive: true); }
    }
}
