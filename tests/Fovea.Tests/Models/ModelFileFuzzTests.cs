using System.Buffers.Binary;
using System.Text;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;

namespace Fovea.Tests.Models;

/// <summary>
/// Minimal inputs found by mutation fuzzing of the model file loader: each once ended in a crash (a null dereference) or
/// in gigabytes allocated for a few kilobytes of file, instead of a <see cref="FormatException"/> naming the file.
/// </summary>
public sealed class ModelFileFuzzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-modelfuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A safetensors file of <paramref name="header"/> and <paramref name="dataBytes"/> zero bytes of data.</summary>
    private static byte[] Container(string header, int dataBytes)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
        json.CopyTo(file, 8);
        return file;
    }

    [Theory]
    [InlineData("null-dimension", "{\"w\":{\"dtype\":\"F32\",\"shape\":[null],\"data_offsets\":[0,8]}}")]
    [InlineData("null-offset", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[null,8]}}")]
    public void ANullInAShapeOrOffsetsIsAFormatErrorNamingTheFile(string name, string header)
    {
        string path = Path.Combine(_dir, name + ".fovea");
        File.WriteAllBytes(path, Container(header, 8));
        var e = Assert.Throws<FormatException>(() => ModelFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("tensor 'w'", e.Message);
    }

    [Theory]
    [InlineData("[-1,-2]")]            // multiplies to 2, as the 8 bytes hold
    [InlineData("[65536,65536,65536,65536]")] // multiplies to 2^64, which wraps around to 0
    public void ATensorSizeThatIsNegativeOrWrapsAroundIsRefused(string shape)
    {
        int bytes = shape.StartsWith("[-", StringComparison.Ordinal) ? 8 : 0;
        var file = Container($"{{\"w\":{{\"dtype\":\"F32\",\"shape\":{shape},\"data_offsets\":[0,{bytes}]}}}}", bytes);
        var e = Assert.Throws<FormatException>(() => SafeTensors.Read(file, "w.fovea"));
        Assert.StartsWith("w.fovea: tensor 'w'", e.Message);
    }

    [Fact]
    public void AnArchitectureNamingAFieldTwiceIsAFormatErrorNamingTheFile()
    {
        // It loaded into an ArgumentException, "An item with the same key has already been added. Key: name".
        var model = new Sequential([1, 6, 6], "small").Base(new Conv2D(2, 3)).Top(new Flatten(), new Dense(3));
        string architecture = ModelArchitecture.ToJson(model).ToJsonString();
        string path = Path.Combine(_dir, "twice.fovea");
        using (var stream = File.Create(path))
            SafeTensors.Write(stream, model.Parameters.Select(p => (p.Name, p.Value.Shape, p.Value.ToArray())).ToList(), new Dictionary<string, string>
            {
                ["format"] = "fovea", ["format_version"] = "1", ["architecture"] = architecture[..^1] + ",\"name\":\"again\"}",
            });
        var e = Assert.Throws<FormatException>(() => ModelFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("the model architecture is not valid JSON", e.Message);
    }

    [Fact]
    public void AnArchitectureAskingForMoreWeightsThanTheFileHoldsIsRefusedBeforeAllocatingThem()
    {
        // A 4 KB file whose Dense layer claims 60 million units: 1.9 billion weights, 7.7 GB, were allocated and
        // initialised before they were found not to match the file's tensors.
        var model = new Sequential([1, 6, 6], "small").Base(new Conv2D(2, 3), new ReLU()).Top(new Flatten(), new Dense(3));
        var architecture = ModelArchitecture.ToJson(model);
        architecture["nodes"]![3]!["config"]!["units"] = 60_000_000;
        string path = Path.Combine(_dir, "huge-dense.fovea");
        using (var stream = File.Create(path))
            SafeTensors.Write(stream, model.Parameters.Select(p => (p.Name, p.Value.Shape, p.Value.ToArray())).ToList(), new Dictionary<string, string>
            {
                ["format"] = "fovea", ["format_version"] = "1", ["architecture"] = architecture.ToJsonString(),
            });

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<FormatException>(() => ModelFile.Load(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "the load allocated the claimed weights");
        Assert.Contains(path, e.Message);
        Assert.Contains("layer 'dense' needs a weight of shape (60000000, 32)", e.Message);
    }
}
