// Shared by the Fovea and TorchSharp sides of the side-by-side benchmark (benchmarks/run-peers.sh), linked into both
// projects so the two measure in exactly the same way. benchmarks/peers/pytorch_peer.py follows the same protocol;
// keep the three in step (see benchmarks/README.md, "Protocol").
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fovea.Benchmarks.Shared;

/// <summary>Command-line settings of one peer process: `cnn` (train, infer, latency) or `gemm`.</summary>
public sealed class PeerOptions
{
    public string What = "cnn";
    public int Threads = 2;
    public int WarmupBatches = 937;      // one epoch of 60,000 images at batch 64 with the last short batch dropped
    public int TimedBatches = 1874;      // two more epochs
    public int BatchSize = 64;
    public float LearningRate = 1e-3f;
    public int InferBatch = 256;
    public int InferPasses = 3;          // timed passes over the 10,000 test images, after one warm-up pass
    public int LatencyWarmup = 2000;
    public int LatencySamples = 2000;
    public int GemmReps = 7;
    public int Seed = 0;
    public string DataDir = "/usr/share/datasets/fashion-mnist";
    public string Out = "";
    public string Config = "default";    // label of the environment configuration, recorded as is

    public static PeerOptions Parse(string[] args, int start)
    {
        var o = new PeerOptions();
        for (int i = start; i < args.Length; i++)
        {
            string key = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{key} needs a value");
            switch (key)
            {
                case "--what": o.What = Next(); break;
                case "--threads": o.Threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--warmup-batches": o.WarmupBatches = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--timed-batches": o.TimedBatches = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--batch-size": o.BatchSize = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--infer-batch": o.InferBatch = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--infer-passes": o.InferPasses = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--latency-warmup": o.LatencyWarmup = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--latency-samples": o.LatencySamples = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--gemm-reps": o.GemmReps = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--seed": o.Seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--data": o.DataDir = Next(); break;
                case "--out": o.Out = Next(); break;
                case "--config": o.Config = Next(); break;
                default: throw new ArgumentException($"Unknown option '{key}'.");
            }
        }
        if (o.What is not ("cnn" or "gemm")) throw new ArgumentException($"--what must be cnn or gemm; got '{o.What}'.");
        return o;
    }
}

/// <summary>A matrix product C[M×N] = op(A)·op(B) measured by every peer; GFLOP/s counts 2·M·N·K.</summary>
public readonly record struct GemmShape(string Name, bool TransposeA, bool TransposeB, int M, int N, int K, bool ConvShaped)
{
    /// <summary>The shapes of the comparison: square 1024³, then the products of the reference CNN at batch 64
    /// (im2col with the batch folded into N), plus the M=64, N=25088, K=288.</summary>
    public static readonly GemmShape[] All =
    [
        new("sgemm 1024^3", false, false, 1024, 1024, 1024, false),
        new("conv 64x25088x288", false, false, 64, 25088, 288, true),
        new("conv2 fwd 64x12544x288", false, false, 64, 12544, 288, true),
        new("conv2 dW 64x288x12544 (NT)", false, true, 64, 288, 12544, true),
        new("conv2 dX 288x12544x64 (TN)", true, false, 288, 12544, 64, true),
        new("conv1 fwd 32x50176x9", false, false, 32, 50176, 9, true),
    ];

    public double Flops => 2.0 * M * N * K;
}

public static class Measure
{
    /// <summary>Best seconds per product: warm-up calls for at least <see cref="WarmUpSeconds"/> (and at least 3), then
    /// <paramref name="reps"/> samples, each repeating the product enough times to last about 20 ms. The warm-up is
    /// timed rather than counted: a process's first products run cold (tier-0 JIT code in .NET's drivers until
    /// tiered recompilation lands, worker threads starting, buffers touched for the first time), and 3 calls of a
    /// 10 ms product did not cover it (Fovea's 1024^3 at 2 threads measured 130-203 GFLOP/s, then 218-272 warmed).</summary>
    public static double BestSecondsPerCall(Action call, double flops, int reps)
    {
        int inner = (int)Math.Max(1, 2e9 / 50 / flops);
        long warmStart = Stopwatch.GetTimestamp();
        for (int w = 0; w < 3 || Stopwatch.GetElapsedTime(warmStart).TotalSeconds < WarmUpSeconds; w++) call();
        double best = double.MaxValue;
        for (int r = 0; r < reps; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < inner; i++) call();
            best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds / inner);
        }
        return best;
    }

    /// <summary>Seconds of warm-up calls before a product is timed (every peer uses the same figure).</summary>
    public const double WarmUpSeconds = 1.0;

    /// <summary>Percentile by linear interpolation between order statistics (numpy's default), p in [0, 100].</summary>
    public static double Percentile(double[] values, double p)
    {
        var v = (double[])values.Clone();
        Array.Sort(v);
        double pos = (v.Length - 1) * p / 100.0;
        int lo = (int)Math.Floor(pos), hi = Math.Min(v.Length - 1, lo + 1);
        return v[lo] + (v[hi] - v[lo]) * (pos - lo);
    }

    /// <summary>Peak resident set size (VmHWM) of this process so far, in MiB; NaN where /proc is missing.</summary>
    public static double PeakRssMiB()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException) { }
        return double.NaN;
    }

    /// <summary>The environment variables that change how the peers run, recorded in every result.</summary>
    public static JsonObject RelevantEnvironment()
    {
        var env = new JsonObject();
        foreach (var name in new[] { "GLIBC_TUNABLES", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LD_PRELOAD",
                     "DOTNET_TieredPGO", "DOTNET_TieredCompilation", "DOTNET_ReadyToRun", "DOTNET_gcServer", "DOTNET_GCgen0size" })
        {
            string? v = Environment.GetEnvironmentVariable(name);
            if (v is not null) env[name] = v;
        }
        return env;
    }

    public static void Write(JsonObject result, string path)
    {
        string text = result.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (path.Length == 0) Console.WriteLine(text);
        else File.WriteAllText(path, text + "\n");
    }
}

/// <summary>Reads IDX files (optionally gzip-compressed) into bytes; used by the TorchSharp side, which has no loader.</summary>
public static class Idx
{
    public static (int[] Dims, byte[] Data) Read(string path)
    {
        using Stream file = File.OpenRead(path);
        using Stream s = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        byte[] all = ms.ToArray();
        if (all[0] != 0 || all[1] != 0 || all[2] != 0x08) throw new InvalidDataException($"{path}: not an unsigned-byte IDX file");
        int rank = all[3];
        var dims = new int[rank];
        for (int i = 0; i < rank; i++)
            dims[i] = (all[4 + 4 * i] << 24) | (all[5 + 4 * i] << 16) | (all[6 + 4 * i] << 8) | all[7 + 4 * i];
        return (dims, all[(4 + 4 * rank)..]);
    }
}
