using Fovea.Tensors;

namespace Fovea.Onnx.Tests;

/// <summary>The pretrained ImageNet ResNet-18 of Microsoft.ML.DnnImageFeaturizer.ResNet18 imports and matches ONNX Runtime.</summary>
public class ResNet18Tests(ITestOutputHelper output)
{
    private const double AbsoluteTolerance = 1e-4, RelativeTolerance = 1e-3;

    // Photos: FOVEA_NATURAL_IMAGES names a folder of them (.ci/run extracts scikit-image's public-domain sample photos
    // from Debian's python3-skimage package there); photos that ship with the Rust docs on these machines also count.
    private static readonly string[] s_photoCandidates =
    [
        "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html/embedded-book/assets/f3.jpg",
        "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html/embedded-book/assets/verify.jpeg",
    ];

    internal static IEnumerable<string> Photos()
    {
        var env = Environment.GetEnvironmentVariable("FOVEA_NATURAL_IMAGES");
        var extra = !string.IsNullOrEmpty(env) && Directory.Exists(env)
            ? Directory.GetFiles(env).Where(f => f.EndsWith(".png", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpeg", StringComparison.OrdinalIgnoreCase)).Order().ToArray()
            : [];
        return s_photoCandidates.Where(File.Exists).Concat(extra);
    }

    private static string ResNet18Path() => PretrainedModels.LocateResNet18(restore: true);

    private void AssertClose(float[] expected, ReadOnlySpan<float> actual, string what)
    {
        double maxAbs = 0, maxRel = 0;
        bool ok = true;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs(expected[i] - actual[i]);
            maxAbs = Math.Max(maxAbs, d);
            maxRel = Math.Max(maxRel, d / Math.Max(1e-6, Math.Abs(expected[i])));
            ok &= d <= AbsoluteTolerance || d <= RelativeTolerance * Math.Abs(expected[i]);
        }
        output.WriteLine($"{what}: max |diff| {maxAbs:G3}, output range up to {expected.Max():G4}");
        Assert.True(ok, $"{what}: max |diff| {maxAbs} exceeds 1e-4 absolute / 1e-3 relative.");
    }

    [Fact]
    public void ImportedResNet18MatchesOnnxRuntimeOnRandomInputs()
    {
        var path = ResNet18Path();
        var bytes = File.ReadAllBytes(path);
        var model = OnnxImporter.Import(path);
        Assert.Equal([3, 224, 224], model.InputShape);
        Assert.Equal([512, 1, 1], model.OutputShape);
        // The fused inference model (BatchNorm folded, Winograd 3x3 layers) is held to the same tolerance.
        var fast = model.ToInference();
        Assert.Equal(model.Layers.Count(l => l is Layers.Conv2D), fast.FusedConvolutions); // every convolution fused with its BatchNorm
        for (int seed = 0; seed < 2; seed++)
        {
            // Pixels of 0..255 minus a mean of about 114, the range the network sees after its preprocessing.
            var rng = new Random(seed);
            var x = new Tensor(1, 3, 224, 224);
            for (int i = 0; i < x.Length; i++) x.Span[i] = rng.NextSingle() * 255f - 114f;
            var expected = RoundTripTests.Run(bytes, x, threads: 2);
            AssertClose(expected, model.Predict(x).Span, $"random input {seed}");
            AssertClose(expected, fast.Predict(x).Span, $"random input {seed}, inference model");
        }
    }

    [Fact]
    public void ImportedResNet18MatchesOnnxRuntimeOnPhotos()
    {
        var path = ResNet18Path();
        var photos = Photos().ToList();
        Assert.True(photos.Count > 0, "No natural photo found (set FOVEA_NATURAL_IMAGES to a folder of PNG/JPEG photos; .ci/run prepares one).");
        var prepPath = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(path)!)!, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        var bytes = File.ReadAllBytes(path);
        var prep = File.ReadAllBytes(prepPath);
        var raw = OnnxImporter.Import(path);
        var baseModel = PretrainedModels.Load("resnet18");
        var fastRaw = raw.ToInference();
        var fastBase = baseModel.ToInference();
        foreach (var photo in photos)
        {
            var image = Vision.ImageLoader.Load(photo, 3, 224, 224);
            var pixels = new Tensor([1, 3, 224, 224], image.ToArray().Select(v => v * 255f).ToArray());
            // ONNX Runtime runs the package's own preprocessing model, then the network.
            var pre = RoundTripTests.Run(prep, pixels);
            var expected = RoundTripTests.Run(bytes, new Tensor([1, 3, 224, 224], pre), threads: 2);
            AssertClose(expected, raw.Predict(new Tensor([1, 3, 224, 224], pre)).Span, $"{Path.GetFileName(photo)} (network only)");
            // The base model takes the [0, 1] RGB image and does the preprocessing itself.
            AssertClose(expected, baseModel.Predict(new Tensor([1, 3, 224, 224], image.ToArray())).Span, $"{Path.GetFileName(photo)} (base model with preprocessing)");
            AssertClose(expected, fastRaw.Predict(new Tensor([1, 3, 224, 224], pre)).Span, $"{Path.GetFileName(photo)} (network only, inference model)");
            AssertClose(expected, fastBase.Predict(new Tensor([1, 3, 224, 224], image.ToArray())).Span, $"{Path.GetFileName(photo)} (base model with preprocessing, inference model)");
        }
    }
}
