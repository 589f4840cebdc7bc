using Fovea.Layers;
using Fovea.Models;
using Fovea.Onnx;

namespace Fovea.Cli.Commands;

/// <summary>
/// The --base of <c>fovea train</c> on an image folder, read before any image is decoded: none (train from scratch),
/// the packaged ResNet-18, or a network from a .fovea / .onnx file. <see cref="Model"/> is the frozen feature extractor
/// (null for none, and for ResNet-18 until <see cref="Resolve"/> loads it, as that may need a package restore).
/// </summary>
internal sealed record PretrainedBase(string Option, string Name, Model? Model, string? FilePath, string? Layer)
{
    public bool Pretrained => Name != "none" || Model is not null;
    public bool IsResNet18 => Name == "resnet18" && FilePath is null;

    // torchvision's networks take RGB normalised with ImageNet's channel statistics (facts of its published models).
    private static readonly InputNormalization ImageNet = new([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);

    public static PretrainedBase Read(CommandLine cl)
    {
        string option = cl.Get("base", "resnet18")!;
        string lower = option.ToLowerInvariant();
        string? layer = cl.Get("base-layer");
        string? normalization = cl.Get("base-normalization")?.ToLowerInvariant();
        if (normalization is not (null or "imagenet" or "none"))
            throw new UsageException($"Unknown --base-normalization '{cl.Get("base-normalization")}'. Expected imagenet or none.");
        if (lower == "none")
        {
            if (layer is not null) throw new UsageException("Option --base-layer needs a pretrained base (--base resnet18 or a model file); --base none trains from scratch.");
            if (normalization is not null) throw new UsageException("Option --base-normalization applies to a base from a file (--base FILE); --base none trains from scratch.");
            return new PretrainedBase(option, "none", null, null, null);
        }
        // The package's own ResNet18.onnx takes BGR pixels minus a mean image: only PretrainedModels adds that preprocessing.
        if (lower == "resnet18" || IsPackagedResNet18(option))
        {
            if (normalization is not null) throw new UsageException("Option --base-normalization applies to a base from a file (--base FILE); resnet18 does its own preprocessing.");
            var resnet = layer is null ? null : Prepare(CutAt(LoadResNet18(cl.Has("json")), layer), "resnet18");
            return new PretrainedBase(option, "resnet18", resnet, null, layer);
        }
        if (!IsFile(option)) throw new UsageException($"Unknown base '{option}' (--base). Expected resnet18, none, or a model file (.fovea or .onnx).");
        var model = ModelSource.Load(option);
        if (model.InputShape is not [1 or 3, _, _])
            throw new UsageException($"--base {option} takes input {Tensors.Tensor.ShapeToString(model.InputShape)}; a base for image folders takes images [1 or 3, H, W].");
        if (normalization == "imagenet")
        {
            if (model.InputShape[0] != 3) throw new UsageException($"--base-normalization imagenet needs RGB input; --base {option} takes {model.InputShape[0]} channel(s).");
            if (model.Normalization is not null) throw new UsageException($"--base {option} has its own input normalisation; --base-normalization imagenet would apply a second one.");
            model.Normalization = ImageNet;
        }
        if (layer is not null) model = CutAt(model, layer);
        return new PretrainedBase(option, Path.GetFileNameWithoutExtension(option), Prepare(model, option), Path.GetFullPath(option), layer);
    }

    /// <summary>The feature extractor, loading ResNet-18 now when it was left for later.</summary>
    public Model Resolve(bool quiet) => Model ?? Prepare(LoadResNet18(quiet), "resnet18");

    /// <summary>A --base that names a file (a path, or a name ending in .fovea / .onnx).</summary>
    private static bool IsFile(string value) =>
        value.EndsWith(".fovea", StringComparison.OrdinalIgnoreCase) || ModelSource.IsOnnx(value) || value.Contains('/') || File.Exists(value);

    private static bool IsPackagedResNet18(string path) =>
        PretrainedModels.FindResNet18() is { } packaged && File.Exists(path) && Path.GetFullPath(path) == Path.GetFullPath(packaged);

    private static Model CutAt(Model model, string layer)
    {
        if (layer == "input") throw new UsageException("--base-layer input is the image itself, not a layer of the base; name a layer.");
        try { return model.CopyUntil(layer, model.Name); }
        catch (ArgumentException e) { throw new UsageException($"--base-layer: {Cli.UserMessage(e)}"); }
    }

    /// <summary>
    /// The part of <paramref name="model"/> that makes the features, frozen: its base stage, or the whole network when it
    /// has no base layer; features that are not [C, H, W] (a classifier's scores, a flattened vector) end in a reshape to
    /// [N, 1, 1], as the dense classifier trained on them expects image-shaped samples.
    /// </summary>
    private static Model Prepare(Model model, string what)
    {
        Node boundary;
        try { boundary = model.BaseOutput; }
        catch (InvalidOperationException e) { throw new UsageException($"--base {what}: {e.Message} Name the layer to take features from with --base-layer NAME."); }
        var features = model.CopyUntil((boundary.Index == 0 ? model.Output : boundary).Name, model.Name);
        if (features.Output.OutputShape.Length != 3)
            features.Add(new Layers.Reshape([features.Output.OutputShape.Aggregate(1, (a, d) => a * d), 1, 1]), ModelStage.Base, features.Output);
        features.Freeze(ModelStage.Base);
        return features;
    }

    private static Model LoadResNet18(bool quiet)
    {
        if (!quiet && PretrainedModels.FindResNet18() is null)
            Console.Error.WriteLine($"ResNet-18 is not in the NuGet cache; restoring {PretrainedModels.ResNet18Package} {PretrainedModels.ResNet18Version} with 'dotnet restore'...");
        try
        {
            return PretrainedModels.Load("resnet18");
        }
        catch (Exception e) when (e is InvalidOperationException or FileNotFoundException or IOException or System.ComponentModel.Win32Exception)
        {
            throw new FileNotFoundException($"The pretrained ResNet-18 is not available: {e.Message} Train from scratch with --base none, " +
                $"or restore the NuGet package {PretrainedModels.ResNet18Package} {PretrainedModels.ResNet18Version}.");
        }
    }
}
