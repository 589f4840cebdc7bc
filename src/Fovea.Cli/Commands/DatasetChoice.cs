using Fovea.Data;

namespace Fovea.Cli.Commands;

/// <summary>The --dataset / --data options shared by train and eval.</summary>
internal static class DatasetChoice
{
    public static readonly string[] ValueOptions = ["dataset", "data"];

    public static MnistFamilyDataset Resolve(CommandLine cl) => cl.Get("dataset", "fashion-mnist")!.ToLowerInvariant() switch
    {
        "fashion-mnist" or "fashion_mnist" or "fashionmnist" => MnistFamily.FashionMnist,
        "mnist" => MnistFamily.Mnist,
        var other => throw new UsageException($"Unknown dataset '{other}'. Expected fashion-mnist or mnist."),
    };

    public static InMemoryDataset Load(CommandLine cl, DatasetSplit split, Action<string>? log = null)
    {
        var dataset = Resolve(cl);
        string? path = cl.Get("data");
        if (path is not null && !Directory.Exists(path))
            throw new DirectoryNotFoundException(File.Exists(path) ? $"--data {path} is a file; expected a folder." : $"Data folder not found: {path} (--data).");
        return MnistFamily.Load(dataset, split, path, new MnistLoadOptions { Log = log });
    }
}
