using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Fovea.Models;
using Fovea.Onnx;
using Microsoft.ML.OnnxRuntime;
using OrtTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;
using Tensor = Fovea.Tensors.Tensor;

namespace Fovea.Benchmarks;

/// <summary>
/// `resnet-profile` mode: where the time of one ResNet-18 inference goes, layer by layer, in Fovea
/// (<see cref="Models.InferenceModel.Profile"/>) and in ONNX Runtime 1.31.1 (its own profiler: kernel time per node after
/// its graph optimisations), at one batch size and thread count. Fused convolutions are matched by the names of the nodes
/// they fused; the other steps are listed on their own. Figures are medians over the timed runs.
/// </summary>
internal static class ResNetProfile
{
    public static int Run(string[] args)
    {
        int batch = 1, threads = 1, runs = 30;
        double warmupSeconds = 3;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"Option {args[i]} needs a value.");
            switch (args[i])
            {
                case "--batch": batch = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--runs": runs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--warmup-seconds": warmupSeconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"Unknown option '{args[i]}'. resnet-profile [--batch N] [--threads N] [--runs N] [--warmup-seconds S]");
                    return 1;
            }
        }
        string loadBefore = ResNetLatency.LoadAverage();
        var path = PretrainedModels.LocateResNet18();
        var model = OnnxImporter.Import(path);
        var fast = model.ToInference();
        var rng = new Random(batch);
        var x = new Tensor(batch, 3, 224, 224);
        foreach (ref float v in x.Span) v = rng.NextSingle() * 255f - 114f;

        int saved = Parallelism.Degree;
        Parallelism.Degree = threads;
        IReadOnlyList<StepTiming> fovea;
        try
        {
            // Long enough for .NET to recompile the hot code with optimisations before anything is timed.
            for (long start = Stopwatch.GetTimestamp(); Stopwatch.GetElapsedTime(start).TotalSeconds < warmupSeconds;) fast.Predict(x);
            fovea = fast.Profile(x, runs);
        }
        finally { Parallelism.Degree = saved; }
        var ort = OrtNodeTimes(OnnxExporter.ToBytes(model, 13), new OrtTensor(x.ToArray(), x.Shape), threads, runs, warmupSeconds);

        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("# ResNet-18 layer by layer: Fovea vs ONNX Runtime 1.31.1").AppendLine();
        sb.AppendLine(inv, $"- Date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; host `{Environment.MachineName}`; CPU: {ResNetLatency.CpuModel()}, {Environment.ProcessorCount} cores");
        sb.AppendLine(inv, $"- Load average before / after: {loadBefore} / {ResNetLatency.LoadAverage()}");
        sb.AppendLine(inv, $"- Fovea commit: `{ResNetLatency.Commit()}`");
        sb.AppendLine(inv, $"- Command: `dotnet run -c Release --project benchmarks/Fovea.Benchmarks -- resnet-profile{(args.Length > 0 ? " " + string.Join(' ', args) : "")}`");
        sb.AppendLine(inv, $"- Batch {batch}, {threads} thread(s); median of {runs} runs per step after {warmupSeconds} s of warm-up. Fovea: `InferenceModel.Profile`; ONNX Runtime: its profiler's kernel time per node (default graph optimisations, Conv with BatchNorm/Add/ReLU fused).");
        sb.AppendLine(inv, $"- Totals: Fovea {fovea.Sum(t => t.Milliseconds):F2} ms, ONNX Runtime {ort.Values.Sum(v => v.Ms):F2} ms (sums of per-step medians; the whole-call median is in the `resnet` mode's table).").AppendLine();
        sb.AppendLine("| Layer | Fovea step | Fovea ms | ONNX Runtime node | ORT ms | Fovea ÷ ORT |");
        sb.AppendLine("| --- | --- | ---: | --- | ---: | ---: |");
        var matched = new HashSet<string>();
        foreach (var t in fovea)
        {
            // ONNX Runtime names a fused node after one of the nodes it fused (with a suffix such as "_nchwc").
            var fused = t.Layer.Split('+');
            var hit = ort.Keys.FirstOrDefault(k => !matched.Contains(k) && fused.Any(n => k == n || k.StartsWith(n + "_", StringComparison.Ordinal)));
            if (hit is not null && t.Kind.StartsWith("Conv2D", StringComparison.Ordinal))
            {
                matched.Add(hit);
                var o = ort[hit];
                sb.AppendLine(inv, $"| {t.Layer} | {t.Kind} | {t.Milliseconds:F3} | {o.Op} | {o.Ms:F3} | {t.Milliseconds / o.Ms:F2}x |");
            }
            else sb.AppendLine(inv, $"| {t.Layer} | {t.Kind} | {t.Milliseconds:F3} | | | |");
        }
        foreach (var (name, o) in ort.Where(p => !matched.Contains(p.Key)))
            sb.AppendLine(inv, $"| {name} | | | {o.Op} | {o.Ms:F3} | |");
        string outPath = Path.Combine(ResNetLatency.ResultsFolder(), $"resnet18-profile-b{batch}-t{threads}-{DateTime.UtcNow:yyyyMMdd'T'HHmmss'Z'}-{Environment.MachineName}.md");
        File.WriteAllText(outPath, sb.ToString());
        Console.Write(sb.ToString());
        Console.WriteLine($"Wrote {outPath}");
        return 0;
    }

    /// <summary>Median kernel time per node (after ONNX Runtime's fusions) over the timed runs, from its profiler's JSON.</summary>
    private static Dictionary<string, (string Op, double Ms)> OrtNodeTimes(byte[] onnx, OrtTensor input, int threads, int runs, double warmupSeconds)
    {
        string prefix = Path.Combine(Path.GetTempPath(), $"fovea-ort-profile-{Environment.ProcessId}");
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        using var warm = new InferenceSession(onnx, options);
        string name = warm.InputMetadata.Keys.Single();
        var feed = new[] { NamedOnnxValue.CreateFromTensor(name, input) };
        for (long start = Stopwatch.GetTimestamp(); Stopwatch.GetElapsedTime(start).TotalSeconds < warmupSeconds;) { using var _ = warm.Run(feed); }
        options.EnableProfiling = true;
        options.ProfileOutputPathPrefix = prefix;
        using var session = new InferenceSession(onnx, options);
        for (int i = 0; i < 3; i++) { using var _ = session.Run(feed); }   // session warm-up, also profiled: skipped below
        for (int i = 0; i < runs; i++) { using var _ = session.Run(feed); }
        string file = session.EndProfiling();
        try
        {
            var times = new Dictionary<string, (string Op, List<double> Us)>();
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                if (e.GetProperty("cat").GetString() != "Node") continue;
                string eventName = e.GetProperty("name").GetString()!;
                if (!eventName.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
                string node = eventName[..^"_kernel_time".Length];
                string op = e.TryGetProperty("args", out var a) && a.TryGetProperty("op_name", out var o) ? o.GetString()! : "?";
                if (!times.TryGetValue(node, out var entry)) times[node] = entry = (op, []);
                entry.Us.Add(e.GetProperty("dur").GetDouble());
            }
            return times.ToDictionary(p => p.Key, p =>
            {
                var us = p.Value.Us.Skip(Math.Max(0, p.Value.Us.Count - runs)).Order().ToArray();
                return (p.Value.Op, us[us.Length / 2] / 1000.0);
            });
        }
        finally { File.Delete(file); }
    }
}
