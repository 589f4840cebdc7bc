using Fovea.Data;

namespace Fovea.Cli.Commands;

/// <summary>A built-in data set that train and eval read (--dataset), with what training on it defaults to.</summary>
/// <param name="Name">The name --dataset takes, also the first part of the default model file name (runs/&lt;Name&gt;-&lt;model&gt;.fovea).</param>
/// <param name="DisplayName">Human name, e.g. "CIFAR-10".</param>
/// <param name="DefaultModel">The network --model defaults to.</param>
/// <param name="Augmentation">What --augment does on it.</param>
/// <param name="NormalizeInput">True to store the training images' channel mean and deviation (of the images trained on, not
/// those held out for validation) in the model as its input normalisation (colour photos); false leaves the input as it is (the MNIST family, as before there was a choice).</param>
/// <param name="ClassNames">Its class names, by which eval recognises a model trained on it.</param>
/// <param name="Load">Loads a split from the folder given (or the usual places when null) with the options given.</param>
internal sealed record BuiltInDataset(string Name, string DisplayName, string DefaultModel, Augmentation Augmentation, bool NormalizeInput,
    IReadOnlyList<string> ClassNames, Func<DatasetSplit, string?, DatasetLoadOptions, InMemoryDataset> Load);

/// <summary>The --dataset / --data options shared by train and eval.</summary>
internal static class DatasetChoice
{
    public static readonly string[] ValueOptions = ["dataset", "data"];

    private static readonly BuiltInDataset s_fashionMnist = FromMnistFamily(MnistFamily.FashionMnist);
    private static readonly BuiltInDataset s_mnist = FromMnistFamily(MnistFamily.Mnist);
    private static readonly BuiltInDataset s_cifar10 = new(Cifar10.Descriptor.Name, Cifar10.Descriptor.DisplayName, "vgg-small",
        Augmentation.PaddedCropAndFlip, NormalizeInput: true, Cifar10.ClassNames, (split, path, options) => Cifar10.Load(split, path, options));

    private static BuiltInDataset FromMnistFamily(MnistFamilyDataset d) =>
        new(d.Name, d.DisplayName, "default", Augmentation.ShiftAndFlip, NormalizeInput: false, d.ClassNames, (split, path, options) => MnistFamily.Load(d, split, path, options));

    private static readonly BuiltInDataset[] s_all = [s_fashionMnist, s_mnist, s_cifar10];

    /// <summary>
    /// The data set --dataset names. Without it: CIFAR-10 when the --data folder holds its files and no IDX files, else the
    /// data set whose class names <paramref name="modelClassNames"/> are (eval of a saved model), else Fashion-MNIST.
    /// </summary>
    public static BuiltInDataset Resolve(CommandLine cl, IReadOnlyList<string>? modelClassNames = null)
    {
        if (!cl.Has("dataset"))
        {
            if (cl.Get("data") is { } dir && Directory.Exists(dir) && Cifar10.HoldsData(dir) && !HoldsIdxFiles(dir)) return s_cifar10;
            return s_all.FirstOrDefault(d => modelClassNames is not null && d.ClassNames.SequenceEqual(modelClassNames)) ?? s_fashionMnist;
        }
        return cl.Get("dataset")!.ToLowerInvariant() switch
        {
            "fashion-mnist" or "fashion_mnist" or "fashionmnist" => s_fashionMnist,
            "mnist" => s_mnist,
            "cifar10" or "cifar-10" or "cifar_10" => s_cifar10,
            var other => throw new UsageException($"Unknown dataset '{other}'. Expected fashion-mnist, mnist or cifar10."),
        };
    }

    public static InMemoryDataset Load(CommandLine cl, BuiltInDataset dataset, DatasetSplit split, Action<string>? log = null)
    {
        string? path = cl.Get("data");
        if (path is not null && !Directory.Exists(path))
            throw new DirectoryNotFoundException(File.Exists(path) ? $"--data {path} is a file; expected a folder." : $"Data folder not found: {path} (--data).");
        return dataset.Load(split, path, new DatasetLoadOptions { Log = log });
    }

    /// <summary>
    /// True when <paramref name="dir"/> holds a built-in data set's files rather than images: IDX files (at its top, or in a
    /// fashion-mnist or mnist subfolder, as the IDX loader accepts) or CIFAR-10's batches or archive.
    /// </summary>
    public static bool HoldsDatasetFiles(string dir) => HoldsIdxFiles(dir) || Cifar10.HoldsData(dir);

    private static bool HoldsIdxFiles(string dir) =>
        new[] { dir, Path.Combine(dir, MnistFamily.FashionMnist.Name), Path.Combine(dir, MnistFamily.Mnist.Name) }.Any(HasIdxFiles);

    private static bool HasIdxFiles(string dir) => Directory.Exists(dir) && Directory.EnumerateFiles(dir, "*-ubyte*").Any();
}
