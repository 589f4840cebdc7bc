using System.Diagnostics;
using System.Globalization;
using System.Text;
using Fovea.Onnx;
using Microsoft.ML.OnnxRuntime;
using OrtTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;
using Tensor = Fovea.Tensors.Tensor;

namespace Fovea.Benchmarks;

/// <summary>
/// `resnet` mode: inference latency of the pretrained ResNet-18 network (Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1,
/// the network without its preprocessing), Fovea vs ONNX Runtime 1.31.1, at batch 1 and 32 and 1 and 2 threads.
/// Fovea: the inference model (Model.ToInference: BatchNorm folded, residual add and ReLU fused, filters packed once,
/// Winograd for 3x3 stride-1 layers) and, for comparison, the plain Model.Predict, with Parallelism.Degree = threads. ONNX Runtime: default graph optimisations, IntraOpNumThreads =
/// threads, InterOpNumThreads = 1, on Fovea's re-export of the imported network (same weights, dynamic batch axis, opset
/// 13) and, at batch 1, also on the package's own file (fixed batch 1) as a check that the re-export costs ONNX Runtime
/// nothing. Every figure is the median (p50) of a fixed number of timed runs after warm-up runs, per batch and per image.
/// </summary>
internal static class ResNetLatency
{
    private sealed record Row(int Batch, int Threads, double FoveaMs, double FoveaModelMs, double OrtMs, double? OrtPackageMs);

    public static int Run(string[] args)
    {
        int runs1 = 20, runs32 = 5, warmup = 2, compete = 0;
        bool foveaOnly = false;
        double warmupSeconds = 3;
        int[] batches = [1, 32], threads = [1, 2];
        string? outPath = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"Option {args[i]} needs a value.");
            switch (args[i])
            {
                case "--runs-1": runs1 = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--runs-32": runs32 = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--warmup": warmup = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--warmup-seconds": warmupSeconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--batches": batches = Ints(Next()); break;
                case "--threads": threads = Ints(Next()); break;
                case "--out": outPath = Next(); break;
                case "--quick": runs1 = 3; runs32 = 1; warmup = 1; warmupSeconds = 0.5; break;
                case "--compete": compete = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--fovea-only": foveaOnly = true; break;
                default:
                    Console.Error.WriteLine($"Unknown option '{args[i]}'. resnet [--runs-1 N] [--runs-32 N] [--warmup N] [--warmup-seconds S] [--batches 1,32] [--threads 1,2] [--out FILE.md] [--quick] [--compete N] [--fovea-only]");
                    return 1;
            }
        }

        s_warmupSeconds = warmupSeconds;
        string loadBefore = LoadAverage();
        var path = PretrainedModels.LocateResNet18();
        var fovea = OnnxImporter.Import(path);
        var clock = Stopwatch.StartNew();
        var foveaFast = fovea.ToInference();
        Console.WriteLine($"Inference model prepared in {clock.Elapsed.TotalMilliseconds:F0} ms: {foveaFast.FusedConvolutions} fused convolutions, {foveaFast.FoldedBatchNorms} BatchNorms folded");
        // ONNX Runtime needs a dynamic batch axis for batch 32: the package's file has batch 1 fixed, so re-export.
        var dynamicOnnx = OnnxExporter.ToBytes(fovea, 13);
        Console.WriteLine($"ResNet-18 ({fovea.ParameterCount:N0} parameters) from {path}");
        Console.WriteLine($"p50 of {runs1} runs at batch 1 and {runs32} at larger batches, after at least {warmup} warm-up run(s) and {warmupSeconds} s; {Environment.ProcessorCount} cores");

        if (compete > 0) Console.WriteLine($"{compete} busy thread(s) of another task compete for the cores throughout");
        var rows = new List<Row>();
        int saved = Parallelism.Degree;
        using var competition = new Competition(compete);
        try
        {
            foreach (int batch in batches)
            {
                // Values in the range the network sees after the package's preprocessing (0..255 pixels minus a mean image).
                var rng = new Random(batch);
                var x = new Tensor(batch, 3, 224, 224);
                foreach (ref float v in x.Span) v = rng.NextSingle() * 255f - 114f;
                var input = new OrtTensor(x.ToArray(), x.Shape);
                int runs = batch == 1 ? runs1 : runs32;
                foreach (int t in threads)
                {
                    Parallelism.Degree = t;
                    double foveaMs = Median(warmup, runs, () => foveaFast.Predict(x));
                    double foveaModelMs = foveaOnly ? double.NaN : Median(warmup, runs, () => fovea.Predict(x));
                    double ortMs = foveaOnly ? double.NaN : OrtMedian(dynamicOnnx, input, t, warmup, runs);
                    double? ortPackageMs = batch == 1 && !foveaOnly ? OrtMedian(File.ReadAllBytes(path), input, t, warmup, runs) : null;
                    var row = new Row(batch, t, foveaMs, foveaModelMs, ortMs, ortPackageMs);
                    rows.Add(row);
                    Console.WriteLine($"batch {batch,2}, {t} thread(s): Fovea {foveaMs / batch,8:F2} ms/image (Model.Predict {foveaModelMs / batch:F2}), ONNX Runtime {ortMs / batch,8:F2} ms/image" +
                        (ortPackageMs is { } p ? $" (package file {p:F2})" : "") + $", Fovea ÷ ORT {foveaMs / ortMs:F2}");
                }
            }
        }
        finally { Parallelism.Degree = saved; }

        string markdown = Markdown(rows, runs1, runs32, warmup, compete, loadBefore, LoadAverage(), args);
        outPath ??= Path.Combine(ResultsFolder(), $"resnet18-latency-{DateTime.UtcNow:yyyyMMdd'T'HHmmss'Z'}-{Environment.MachineName}.md");
        File.WriteAllText(outPath, markdown);
        Console.WriteLine($"Wrote {outPath}");
        return 0;
    }

    private static double OrtMedian(byte[] onnx, OrtTensor input, int threads, int warmup, int runs)
    {
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        using var session = new InferenceSession(onnx, options);
        string name = session.InputMetadata.Keys.Single();
        void RunOnce() { using var r = session.Run([NamedOnnxValue.CreateFromTensor(name, input)]); }
        return Median(warmup, runs, RunOnce);
    }

    // .NET compiles a method first without optimisation and recompiles it once it has proved hot, a little later and
    // in the background: a few warm-up calls leave much of Fovea on unoptimised code (measured: ResNet-18 batch 1 at
    // 24 ms/image after 2 warm-up calls, 19.5 after 150). Warm-up therefore lasts at least s_warmupSeconds.
    private static double s_warmupSeconds = 3;

    /// <summary>
    /// Median wall time in milliseconds of <paramref name="runs"/> calls after at least <paramref name="warmup"/> untimed
    /// ones lasting at least the warm-up time.
    /// </summary>
    private static double Median(int warmup, int runs, Action action)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < warmup || Stopwatch.GetElapsedTime(start).TotalSeconds < s_warmupSeconds; i++) action();
        var times = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            action();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        Array.Sort(times);
        return runs % 2 == 1 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;
    }

    /// <summary>
    /// Threads that spin for as long as the object lives, standing in for another program keeping cores busy (the
    /// scheduler treats them like any other process's threads), so that a run shows what a loaded machine costs.
    /// </summary>
    private sealed class Competition : IDisposable
    {
        private volatile bool _stop;
        private readonly Thread[] _threads;

        public Competition(int threads)
        {
            _threads = new Thread[threads];
            for (int i = 0; i < threads; i++)
            {
                _threads[i] = new Thread(() => { double x = 1; while (!_stop) x = x * 1.0000001 + 1e-9; GC.KeepAlive(x); })
                    { IsBackground = true, Name = $"competing load {i}" };
                _threads[i].Start();
            }
        }

        public void Dispose()
        {
            _stop = true;
            foreach (var t in _threads) t.Join();
        }
    }

    private static string Markdown(List<Row> rows, int runs1, int runs32, int warmup, int compete, string loadBefore, string loadAfter, string[] args)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("# ResNet-18 inference latency: Fovea vs ONNX Runtime 1.31.1").AppendLine();
        sb.AppendLine(inv, $"- Date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; host `{Environment.MachineName}`");
        sb.AppendLine(inv, $"- CPU: {CpuModel()}, {Environment.ProcessorCount} cores; .NET {Environment.Version}; {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        sb.AppendLine(inv, $"- Load average before / after: {loadBefore} / {loadAfter} (above 0.5 before: the machine was not quiet and the figures are noise)");
        sb.AppendLine(inv, $"- Fovea commit: `{Commit()}`");
        sb.AppendLine(inv, $"- Command: `dotnet run -c Release --project benchmarks/Fovea.Benchmarks -- resnet{(args.Length > 0 ? " " + string.Join(' ', args) : "")}`");
        sb.AppendLine(inv, $"- Model: {PretrainedModels.ResNet18Package} {PretrainedModels.ResNet18Version}, the network without its preprocessing; random inputs in the range it sees (0..255 minus a mean of about 114).");
        sb.AppendLine(inv, $"- Fovea: `Model.ToInference().Predict` (BatchNorm folded, residual add and ReLU fused, filters packed once; each convolution's algorithm as `resnet-profile` lists it: Winograd, implicit GEMM, polyphase) and, for comparison, plain `Model.Predict`; `Parallelism.Degree` = threads. ONNX Runtime: default graph optimisations, `IntraOpNumThreads` = threads, `InterOpNumThreads` = 1, on Fovea's opset-13 re-export (dynamic batch); \"package file\" = the package's own ONNX file (batch 1 only).");
        sb.AppendLine(inv, $"- Each figure: median (p50) of {runs1} timed runs at batch 1 and {runs32} at batch 32, after at least {warmup} warm-up run(s) lasting at least {s_warmupSeconds} s each (so that .NET has recompiled the hot code with optimisations).");
        if (compete > 0) sb.AppendLine(inv, $"- Loaded machine: {compete} thread(s) spinning in a busy loop throughout (`--compete {compete}`), as another program would; they count in the load average.");
        sb.AppendLine();
        sb.AppendLine("| Batch | Threads | Fovea ms/batch | Model.Predict ms/batch | ONNX Runtime ms/batch | ORT, package file | Fovea ms/image | ORT ms/image | Fovea ÷ ORT |");
        sb.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in rows)
            sb.AppendLine(inv, $"| {r.Batch} | {r.Threads} | {r.FoveaMs:F1} | {r.FoveaModelMs:F1} | {r.OrtMs:F1} | {(r.OrtPackageMs is { } p ? p.ToString("F1", inv) : "–")} | {r.FoveaMs / r.Batch:F2} | {r.OrtMs / r.Batch:F2} | {r.FoveaMs / r.OrtMs:F2}x |");
        return sb.ToString();
    }

    private static int[] Ints(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();

    internal static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    /// <summary>Model name, family and model from /proc/cpuinfo (a VM often names its CPU only "AMD EPYC"; family 26 is Zen 5).</summary>
    internal static string CpuModel()
    {
        if (!File.Exists("/proc/cpuinfo")) return "unknown";
        var first = File.ReadLines("/proc/cpuinfo").TakeWhile(l => l.Contains(':')).Select(l => l.Split(':', 2))
            .GroupBy(p => p[0].Trim()).ToDictionary(g => g.Key, g => g.First()[1].Trim());
        string Field(string key) => first.GetValueOrDefault(key, "?");
        bool avx512 = Field("flags").Split(' ').Contains("avx512f");
        return $"{Field("model name")} (family {Field("cpu family")}, model {Field("model")}, {(avx512 ? "AVX-512" : "no AVX-512")})";
    }

    /// <summary>benchmarks/results next to this project (found from the working directory or the executable upwards).</summary>
    internal static string ResultsFolder()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (Directory.Exists(Path.Combine(dir.FullName, "benchmarks", "results"))) return Path.Combine(dir.FullName, "benchmarks", "results");
        return Directory.GetCurrentDirectory();
    }

    internal static string Commit()
    {
        try
        {
            var psi = new ProcessStartInfo("git", ["rev-parse", "HEAD"]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi)!;
            string sha = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return p.ExitCode == 0 ? sha : "unknown";
        }
        catch (System.ComponentModel.Win32Exception) { return "unknown"; }
    }
}
