using System.Diagnostics;

namespace Fovea.Vision.Tests;

/// <summary>
/// The library packages as an app developer gets them: `dotnet pack` of Fovea, Fovea.Onnx and Fovea.Vision, then a new
/// console app that references only those packages restores, builds and runs (trains, saves, loads, exports to ONNX,
/// imports back, writes and reads an image).
/// </summary>
public sealed class PackageTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-package-").FullName;
    // A version of its own, so the global NuGet cache never serves a package packed from older code.
    private readonly string _version = "0.0.0-packagetest." + Guid.NewGuid().ToString("N")[..12];

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        // Restore extracted this run's packages into the global cache: take them out again.
        string? cache = GlobalPackagesFolder();
        if (cache is null) return;
        foreach (var id in new[] { "fovea", "fovea.onnx", "fovea.vision" })
        {
            string folder = Path.Combine(cache, id);
            if (Directory.Exists(Path.Combine(folder, _version))) Directory.Delete(Path.Combine(folder, _version), recursive: true);
            if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any()) Directory.Delete(folder);
        }
    }

    [Fact]
    public void ANewAppBuildsAndRunsOnTheLibraryPackagesAlone()
    {
        string root = RepositoryRoot(), feed = Path.Combine(_dir, "feed"), app = Path.Combine(_dir, "app");
        foreach (var project in new[] { "Fovea", "Fovea.Onnx", "Fovea.Vision" })
            Dotnet(root, "pack", Path.Combine("src", project), "-c", Configuration, "--no-build", "-o", feed, $"-p:Version={_version}");
        Assert.Equal(3, Directory.GetFiles(feed, "*.nupkg").Length);

        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="fovea" value="{feed}" />
                <add key="cache" value="{GlobalPackagesFolder()}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Fovea" Version="{_version}" />
                <PackageReference Include="Fovea.Onnx" Version="{_version}" />
                <PackageReference Include="Fovea.Vision" Version="{_version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), AppSource);
        var run = Dotnet(app, "run", "-c", "Release");
        Assert.Contains("accuracy 1.00", run);
        Assert.Contains("reloaded equal: True", run);
        Assert.Contains("ONNX round trip within 1e-5: True", run);
        Assert.Contains("image 1x8x8", run);
        Assert.True(run.Contains("classified as top", StringComparison.Ordinal), run); // the first image has its bar in the top rows
    }

    // Three classes of 8x8 images: a bright bar in the top, middle or bottom rows.
    private const string AppSource = """
        using Fovea.Data; using Fovea.Layers; using Fovea.Models; using Fovea.Onnx; using Fovea.Optimizers;
        using Fovea.Serialization; using Fovea.Tensors; using Fovea.Training; using Fovea.Vision;

        var rng = new Random(1);
        var images = new float[90 * 64];
        var labels = new int[90];
        for (int i = 0; i < 90; i++)
        {
            labels[i] = i % 3;
            for (int p = 0; p < 64; p++) images[i * 64 + p] = 0.2f * rng.NextSingle();
            for (int col = 0; col < 8; col++) images[i * 64 + (1 + 3 * labels[i]) * 8 + col] += 0.8f;
        }
        var data = new InMemoryDataset(images, labels, [1, 8, 8], ["top", "middle", "bottom"]);
        var model = new Sequential([1, 8, 8], seed: 3)
            .Base(new Conv2D(4, 3, padding: 1), new ReLU(), new MaxPool2D(2))
            .Top(new Flatten(), new Dense(3));
        var trainer = new Trainer(model, new Adam(0.02f));
        trainer.Fit(data, new FitOptions { Epochs = 20, BatchSize = 16 });
        Console.WriteLine($"accuracy {trainer.Evaluate(data).Accuracy:F2}");

        model.ClassNames = data.ClassNames;
        ModelFile.Save(model, "m.fovea");
        var loaded = ModelFile.Load("m.fovea");
        var x = new Tensor([4, 1, 8, 8], images.AsSpan(0, 4 * 64).ToArray());
        var y = model.Predict(x);
        Console.WriteLine($"reloaded equal: {y.Span.SequenceEqual(loaded.Predict(x).Span)}");
        OnnxExporter.Export(loaded, "m.onnx");
        var back = OnnxImporter.Import("m.onnx").Predict(x);
        float diff = 0;
        for (int i = 0; i < y.Length; i++) diff = Math.Max(diff, Math.Abs(y.Span[i] - back.Span[i]));
        Console.WriteLine($"ONNX round trip within 1e-5: {diff <= 1e-5f}");
        ImageLoader.SavePng(new Tensor([1, 8, 8], images.AsSpan(0, 64).ToArray()), "x.png");
        var image = ImageLoader.Load("x.png", 1, 8, 8);
        Console.WriteLine($"image {string.Join('x', image.Shape)}");
        var best = ImageClassifier.Load("m.fovea").Classify("x.png")[0];
        Console.WriteLine($"classified as {best.ClassName}");
        """;

    private string Dotnet(string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo(CliProcess.DotnetHost) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(4))) { p.Kill(entireProcessTree: true); Assert.Fail($"dotnet {string.Join(' ', args)} took over 4 minutes"); }
        output.WriteLine($"dotnet {string.Join(' ', args)}: exit {p.ExitCode} in {clock.Elapsed.TotalSeconds:F1}s");
        Assert.True(p.ExitCode == 0, $"dotnet {string.Join(' ', args)} failed ({p.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        return stdout.Result;
    }

    private static string? GlobalPackagesFolder()
    {
        if (Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } set) return set;
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return home.Length == 0 ? null : Path.Combine(home, ".nuget", "packages");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Fovea.sln"))) return dir.FullName;
        throw new InvalidOperationException($"Fovea.sln not found above {AppContext.BaseDirectory}.");
    }
}
