using Fovea.Models;
using Fovea.Serialization;
using Fovea.Tensors;

namespace Fovea.Tests.Models;

/// <summary>Model files with float16 or int8 weights: sizes, rounding bounds, what stays float32, damage.</summary>
public class WeightStorageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-weight-storage-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Model Reference()
    {
        var model = ModelZoo.Reference([1, 28, 28], 10, seed: 7);
        model.ClassNames = Enumerable.Range(0, 10).Select(i => $"class {i}").ToArray();
        return model;
    }

    private string Save(Model model, WeightStorage storage)
    {
        string path = Path.Combine(_dir, $"{storage}.fovea");
        ModelFile.Save(model, path, storage);
        return path;
    }

    [Fact]
    public void Float16_halves_the_file_and_rounds_only_the_large_weights_to_half()
    {
        var model = Reference();
        string full = Save(model, WeightStorage.Float32), half = Save(model, WeightStorage.Float16);
        Assert.InRange(new FileInfo(half).Length, 0.45 * new FileInfo(full).Length, 0.55 * new FileInfo(full).Length);
        var loaded = ModelFile.Load(half);
        foreach (var (p, q) in model.Parameters.Zip(loaded.Parameters))
        {
            var expected = p.Value.ToArray();
            if (WeightEncoding.IsCompressible(p.Value.Shape, p.Value.Length, p.IsBuffer))
                expected = expected.Select(v => (float)(Half)v).ToArray();
            Assert.Equal(expected, q.Value.ToArray()); // biases exact; filters and matrices exactly their half values
        }
        var (_, metadata) = SafeTensors.Read(File.ReadAllBytes(half), half);
        Assert.Equal("2", metadata["format_version"]);
        Assert.Equal("float16", metadata["weight_storage"]);
        // Float32 files keep version 1, which every Fovea reads.
        Assert.Equal("1", SafeTensors.Read(File.ReadAllBytes(full), full).Metadata["format_version"]);
    }

    [Fact]
    public void Int8_quarters_the_file_with_every_weight_within_half_a_step_of_its_channel()
    {
        var model = Reference();
        string full = Save(model, WeightStorage.Float32), small = Save(model, WeightStorage.Int8);
        Assert.InRange(new FileInfo(small).Length, 0.2 * new FileInfo(full).Length, 0.3 * new FileInfo(full).Length);
        var loaded = ModelFile.Load(small);
        foreach (var (p, q) in model.Parameters.Zip(loaded.Parameters))
        {
            var a = p.Value.ToArray();
            var b = q.Value.ToArray();
            if (!WeightEncoding.IsCompressible(p.Value.Shape, p.Value.Length, p.IsBuffer)) { Assert.Equal(a, b); continue; }
            int channels = p.Value.Shape[0], per = a.Length / channels;
            for (int c = 0; c < channels; c++)
            {
                float step = a.AsSpan(c * per, per).ToArray().Max(Math.Abs) / 127f;
                for (int i = c * per; i < (c + 1) * per; i++) Assert.True(Math.Abs(a[i] - b[i]) <= step / 2 * 1.0001f + 1e-12f, $"{p.Name}[{i}]: {a[i]} -> {b[i]}, step {step}");
            }
        }
        // Predictions move a little, and the file is still checked: one stored int8 changed is refused as damaged.
        var x = new Tensor(4, 1, 28, 28);
        var random = new Random(2);
        foreach (ref float v in x.Span) v = random.NextSingle();
        var before = model.Predict(x).ToArray();
        var after = loaded.Predict(x).ToArray();
        Assert.True(before.Zip(after).Max(t => Math.Abs(t.First - t.Second)) < 0.05f * before.Max(Math.Abs));
        var bytes = File.ReadAllBytes(small);
        bytes[^500] ^= 0x01;
        File.WriteAllBytes(small, bytes);
        Assert.Contains("is damaged", Assert.Throws<FormatException>(() => ModelFile.Load(small)).Message);
    }

    [Fact]
    public void An_int8_tensor_without_its_scales_and_a_half_overflow_are_handled()
    {
        // Scales missing: a format error naming the tensor, not weights of ±127.
        var entries = WeightEncoding.Encode("w", [4, 300], Enumerable.Range(0, 1200).Select(i => i / 1200f).ToArray(), compressible: true, WeightStorage.Int8).ToList();
        Assert.Equal(["w", "w.int8_scale"], entries.Select(e => e.Name));
        var typed = new Dictionary<string, (int[] Shape, float[] Values, string DType)> { ["w"] = (entries[0].Shape, new float[1200], "I8") };
        Assert.Contains("'w.int8_scale'", Assert.Throws<FormatException>(() => WeightEncoding.Decode(typed, "m.fovea")).Message);
        // A weight beyond half's range (65,504) keeps its tensor float32 rather than becoming infinite.
        var big = Enumerable.Repeat(1e5f, 1024).ToArray();
        Assert.Equal("F32", WeightEncoding.Encode("big", [32, 32], big, compressible: true, WeightStorage.Float16).Single().DType);
        Assert.Throws<ArgumentOutOfRangeException>(() => ModelFile.Save(Reference(), Path.Combine(_dir, "x.fovea"), (WeightStorage)7));
    }
}
