using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Fovea.Kernels;

namespace Fovea.Benchmarks;

/// <summary>
/// `bdn` mode: BenchmarkDotNet micro-benchmarks of the kernels on the reference CNN's shapes at batch 64, at 1 and 2
/// threads. Short runs, in process (no per-benchmark project build), with the memory diagnoser.
/// Example: dotnet run -c Release --project benchmarks/Fovea.Benchmarks -- bdn --filter '*Conv2d*'
/// </summary>
public static class KernelBenchmarks
{
    public static int Run(string[] args)
    {
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
            .AddDiagnoser(BenchmarkDotNet.Diagnosers.MemoryDiagnoser.Default)
            .WithArtifactsPath(Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts"));
        var summaries = BenchmarkSwitcher.FromTypes([typeof(GemmBench), typeof(Conv2dBench), typeof(MaxPoolBench), typeof(ResNetConvBench)]).Run(args, config);
        return summaries.Any(s => s.HasCriticalValidationErrors) ? 1 : 0;
    }

    internal static float[] Random(int length, int seed)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble() - 0.5f;
        return a;
    }
}

/// <summary>Square SGEMM and the conv-shaped product.</summary>
public class GemmBench
{
    [Params("1024x1024x1024", "64x25088x288")] public string Shape = "";
    [Params(1, 2)] public int Threads;
    private int _m, _n, _k;
    private float[] _a = [], _b = [], _c = [];

    [GlobalSetup]
    public void Setup()
    {
        var d = Shape.Split('x').Select(int.Parse).ToArray();
        (_m, _n, _k) = (d[0], d[1], d[2]);
        _a = KernelBenchmarks.Random(_m * _k, 1);
        _b = KernelBenchmarks.Random(_k * _n, 2);
        _c = new float[_m * _n];
        Parallelism.Degree = Threads;
    }

    [Benchmark] public void Multiply() => Gemm.Multiply(false, false, _m, _n, _k, _a, _b, _c);
}

/// <summary>The two convolutions of the reference CNN at batch 64: conv1 1→32 on 28×28, conv2 32→64 on 14×14, 3×3 pad 1.</summary>
public class Conv2dBench
{
    [Params("conv1", "conv2")] public string Layer = "";
    [Params(1, 2)] public int Threads;
    private Conv2dShape _s;
    private float[] _x = [], _w = [], _bias = [], _y = [], _dy = [], _dx = [], _dw = [], _db = [];

    [GlobalSetup]
    public void Setup()
    {
        _s = Layer == "conv1"
            ? new Conv2dShape(64, 1, 28, 28, 32, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1)
            : new Conv2dShape(64, 32, 14, 14, 64, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1);
        _x = KernelBenchmarks.Random(_s.InputLength, 1);
        _w = KernelBenchmarks.Random(_s.WeightLength, 2);
        _bias = KernelBenchmarks.Random(_s.OutChannels, 3);
        _y = new float[_s.OutputLength];
        _dy = KernelBenchmarks.Random(_s.OutputLength, 4);
        _dx = new float[_s.InputLength];
        _dw = new float[_s.WeightLength];
        _db = new float[_s.OutChannels];
        Parallelism.Degree = Threads;
    }

    [Benchmark] public void Forward() => Conv2d.Forward(_s, _x, _w, _bias, _y);
    [Benchmark] public void BackwardInput() => Conv2d.BackwardInput(_s, _dy, _w, _dx);
    [Benchmark] public void BackwardWeight() => Conv2d.BackwardWeight(_s, _dy, _x, _dw, _db);
}

/// <summary>The two 2×2 max-pools of the reference CNN at batch 64, and ResNet-18's 3×3 stride-2 stem pool at batch 1.</summary>
public class MaxPoolBench
{
    [Params("pool1", "pool2", "resnet stem 3x3/2 64x112")] public string Layer = "";
    [Params(1, 2)] public int Threads;
    private Pool2dShape _s;
    private float[] _x = [], _y = [], _dy = [], _dx = [];
    private int[] _argmax = [];

    [GlobalSetup]
    public void Setup()
    {
        _s = Layer switch
        {
            "pool1" => new Pool2dShape(64, 32, 28, 28, 2, 2, 2, 2),
            "pool2" => new Pool2dShape(64, 64, 14, 14, 2, 2, 2, 2),
            _ => new Pool2dShape(1, 64, 112, 112, 3, 3, 2, 2, 1, 1, 1, 1),
        };
        _x = KernelBenchmarks.Random(_s.InputLength, 1);
        _y = new float[_s.OutputLength];
        _argmax = new int[_s.OutputLength];
        _dy = KernelBenchmarks.Random(_s.OutputLength, 2);
        _dx = new float[_s.InputLength];
        Parallelism.Degree = Threads;
        MaxPool2d.Forward(_s, _x, _y, _argmax);
    }

    [Benchmark] public void Forward() => MaxPool2d.Forward(_s, _x, _y, _argmax);
    /// <summary>Inference: no argmax, the separable path.</summary>
    [Benchmark] public void ForwardInference() => MaxPool2d.Forward(_s, _x, _y, default);
    [Benchmark] public void Backward() => MaxPool2d.Backward(_s, _dy, _argmax, _dx);
}

/// <summary>
/// ResNet-18's convolution shapes at batch 1, as inference runs them: the general kernel (<see cref="Conv2d.Forward"/>,
/// im2col + GEMM) against <see cref="PackedConv2d"/> (filters packed once; Winograd for the 3x3 stride-1 layers, the
/// polyphase kernel for the stem on AVX-512 or AVX2 + FMA).
/// </summary>
public class ResNetConvBench
{
    [Params("stem 7x7/2 3-64 224", "3x3 64-64 56", "3x3/2 64-128 56", "3x3 128-128 28", "3x3 256-256 14", "3x3 512-512 7")] public string Layer = "";
    [Params(1, 2)] public int Threads;
    private Conv2dShape _s;
    private PackedConv2d? _packed;
    private float[] _x = [], _w = [], _bias = [], _y = [];

    [GlobalSetup]
    public void Setup()
    {
        _s = Layer switch
        {
            "stem 7x7/2 3-64 224" => new Conv2dShape(1, 3, 224, 224, 64, 7, 7, 2, 2, 3, 3, 3, 3),
            "3x3 64-64 56" => new Conv2dShape(1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1),
            "3x3/2 64-128 56" => new Conv2dShape(1, 64, 56, 56, 128, 3, 3, 2, 2, 1, 1, 1, 1),
            "3x3 128-128 28" => new Conv2dShape(1, 128, 28, 28, 128, 3, 3, 1, 1, 1, 1, 1, 1),
            "3x3 256-256 14" => new Conv2dShape(1, 256, 14, 14, 256, 3, 3, 1, 1, 1, 1, 1, 1),
            _ => new Conv2dShape(1, 512, 7, 7, 512, 3, 3, 1, 1, 1, 1, 1, 1),
        };
        _x = KernelBenchmarks.Random(_s.InputLength, 1);
        _w = KernelBenchmarks.Random(_s.WeightLength, 2);
        _bias = KernelBenchmarks.Random(_s.OutChannels, 3);
        _y = new float[_s.OutputLength];
        Parallelism.Degree = Threads;
        _packed = new PackedConv2d(_s, _w, _bias);
    }

    [Benchmark(Baseline = true)] public void General() => Conv2d.Forward(_s, _x, _w, _bias, _y, relu: true);
    [Benchmark] public void Packed() => _packed!.Forward(_x, _y, default, relu: true);
}
