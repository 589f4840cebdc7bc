using System.Text.Json.Nodes;
using Fovea.Cli.Commands;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;

namespace Fovea.Tests.Cli;

/// <summary>fovea bench: what it measures and reports, and the options it refuses. Its figures are not judged here.</summary>
public class CliBenchTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-cli-bench-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void EveryBatchSizeAndThreadCountIsMeasuredAndTheProfileNamesEveryStep()
    {
        var r = CliTests.Fovea("bench", "--model", "reference", "--batch-sizes", "1,3", "--threads", "1,2", "--seconds", "0.05", "--profile", "--json");
        Assert.True(r.Code == 0, r.Err);
        var json = JsonNode.Parse(r.Out)!;
        var results = ((JsonArray)json["results"]!).Select(n => n!).ToList();
        Assert.Equal([(1, 1), (1, 3), (2, 1), (2, 3)], results.Select(n => ((int)n["threads"]!, (int)n["batch_size"]!)));
        foreach (var n in results)
        {
            Assert.True((int)n["calls"]! >= 5);
            Assert.True((double)n["p50_ms"]! > 0 && (double)n["p99_ms"]! >= (double)n["p50_ms"]!, n.ToJsonString());
            Assert.True((double)n["images_per_second"]! > 0);
        }
        // Every step of the inference snapshot: the convolutions fused with their ReLU, the pools, the dense layers.
        var layers = ((JsonArray)json["profile"]!).Select(n => (string)n!["layer"]!).ToList();
        Assert.Equal(["conv2d+relu", "maxpool2d", "conv2d_1+relu_1", "maxpool2d_1", "flatten", "dense", "relu_2", "dense_1"], layers);
        Assert.Equal(ModelZoo.Reference([1, 28, 28], 10).Summary().TotalFlops, (long)json["flops_per_image"]!);
    }

    [Fact]
    public void AModelFileIsTimedAndTheTableNamesIt()
    {
        string path = Path.Combine(_dir, "small.fovea");
        ModelFile.Save(new Sequential([3, 8, 8], "small").Base(new Conv2D(4, 3, padding: 1), new ReLU()).Top(new Flatten(), new Dense(2)), path);
        var r = CliTests.Fovea("bench", path, "--batch-sizes", "2", "--threads", "1", "--seconds", "0.05");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("small: input (3, 8, 8)", r.Out);
        Assert.Contains("images/s", r.Out);
    }

    [Fact]
    public void BadOptionsAreRefusedNamingTheValue()
    {
        CliTests.AssertUsageError(CliTests.Fovea("bench", "--model", "reference", "--batch-sizes", "1,x"), "--batch-sizes expects numbers from 1 to 65536, separated by commas; received '1,x'");
        CliTests.AssertUsageError(CliTests.Fovea("bench", "--model", "reference", "--threads", "0"), "received '0'");
        CliTests.AssertUsageError(CliTests.Fovea("bench", "--model", "reference", "--seconds", "0"), "--seconds");
        CliTests.AssertUsageError(CliTests.Fovea("bench", "--model", "vgg-small", "--input", "3,2000,2000", "--batch-sizes", "64"), "--batch-sizes 64: a batch of 64 inputs");
        CliTests.AssertUsageError(CliTests.Fovea("bench", Path.Combine(_dir, "none.fovea")), "none.fovea");
        CliTests.AssertUsageError(CliTests.Fovea("bench"), "Expected 1 argument, received 0");
    }

    [Fact]
    public void PercentilesTakeTheNearestRank()
    {
        var times = Enumerable.Range(1, 100).Select(i => (double)i).ToList();
        Assert.Equal(50, BenchCommand.Percentile(times, 0.5));
        Assert.Equal(99, BenchCommand.Percentile(times, 0.99));
        Assert.Equal(7, BenchCommand.Percentile([7], 0.99));
    }
}
