using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Fovea.Models;
using Fovea.Tensors;

namespace Fovea.Cli.Commands;

/// <summary>fovea bench MODEL: how fast a model predicts on this machine, as an app runs it.</summary>
internal static class BenchCommand
{
    public const string Help = """
        Usage: fovea bench MODEL [options]
               fovea bench --model NAME [--input C,H,W] [--classes N] [options]

        Times a model's predictions on this machine the way an app runs them (the inference snapshot:
        BatchNorm folded into convolutions, filters packed once), on random inputs of the model's shape:
        latency per call (median and 99th percentile) and images per second, for each batch size and
        thread count. With --profile, also where the time of one call goes, layer by layer.

        Options:
          --batch-sizes N[,N...]   batch sizes to time (default: 1,32); one whose call would not fit in
                                   half of the memory is refused, naming how many fit
          --threads N[,N...]       degrees of parallelism to time (default: 1 and all cores)
          --seconds X              timed seconds per measurement, after a warm-up (default: 2)
          --profile                time every step of one call at the largest thread count and the
                                   first batch size (median of 20 runs)
          --model NAME             a zoo network (default | reference | compact | vgg-small) instead of a file
          --input C,H,W            input shape for --model (default: 3,32,32 for vgg-small, else 1,28,28)
          --classes N              outputs for --model (default: 10)
          --json                   print the results as JSON
        """;

    private const long MaxBatchValues = 256L * 1024 * 1024; // 1 GB of float32 inputs

    public static int Run(string[] args)
    {
        var cl = CommandLine.Parse("bench", args, ["batch-sizes", "threads", "seconds", "model", "input", "classes"], ["profile", "json"]);
        var model = SummaryCommand.LoadModelOrZoo(cl, "bench");
        var batchSizes = ParseList(cl.Get("batch-sizes", "1,32")!, "--batch-sizes", 1, 65_536);
        var threads = cl.Has("threads")
            ? ParseList(cl.Get("threads")!, "--threads", 1, 1024)
            : new[] { 1, Environment.ProcessorCount }.Distinct().ToArray();
        double seconds = cl.GetDouble("seconds", 2, 0.05, 3600);
        long sampleValues = model.InputShape.Aggregate(1L, (a, b) => a * b);
        foreach (int b in batchSizes)
            if (b * sampleValues > MaxBatchValues)
                throw new UsageException($"--batch-sizes {b}: a batch of {b} inputs {Tensor.ShapeToString(model.InputShape)} would take {b * sampleValues * 4 / (1 << 20):N0} MB; at most {MaxBatchValues * 4 / (1 << 20):N0} MB.");
        // The layer outputs of a pass, not only its inputs: 65,536 images of 28 x 28 fit the input limit but their first
        // feature maps take 6.6 GB, and Predict ran out of memory (an internal error, or the process killed by the system).
        foreach (int b in batchSizes)
            if (Training.Trainer.InferenceBatchSize(model, b) is var fits && fits < b)
                throw new UsageException($"--batch-sizes {b}: one call of model '{model.Name}' on {b} inputs {Tensor.ShapeToString(model.InputShape)} would need more " +
                    $"than half of the {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024):0.##} GB of memory available for its layer outputs; at most {fits:N0} fit.");

        var engine = model.ToInference();
        var rows = new List<Measurement>();
        foreach (int t in threads)
        {
            Parallelism.Degree = t;
            foreach (int b in batchSizes)
            {
                var m = Measure(engine, RandomInput(b, model.InputShape), seconds);
                rows.Add(m with { Threads = t });
                if (!cl.Has("json") && !Console.IsErrorRedirected) Console.Error.Write($"\r{rows.Count}/{threads.Length * batchSizes.Length} measured");
            }
        }
        if (!cl.Has("json") && !Console.IsErrorRedirected) Console.Error.Write("\r" + new string(' ', 24) + "\r");
        IReadOnlyList<StepTiming>? profile = null;
        if (cl.Has("profile"))
        {
            Parallelism.Degree = threads.Max();
            profile = engine.Profile(RandomInput(batchSizes[0], model.InputShape), runs: 20);
        }

        if (cl.Has("json"))
        {
            JsonOutput.Write(new JsonObject
            {
                ["model"] = cl.Positionals.Count > 0 ? Path.GetFullPath(cl.Positionals[0]) : cl.Get("model"),
                ["input_shape"] = JsonOutput.Array(model.InputShape), ["flops_per_image"] = model.Summary().TotalFlops,
                ["processor_count"] = Environment.ProcessorCount, ["simd"] = SimdDescription(),
                ["results"] = new JsonArray(rows.Select(r => (JsonNode)new JsonObject
                {
                    ["threads"] = r.Threads, ["batch_size"] = r.BatchSize, ["calls"] = r.Calls,
                    ["p50_ms"] = r.P50, ["p99_ms"] = r.P99, ["images_per_second"] = r.ImagesPerSecond,
                }).ToArray()),
                ["profile"] = profile is null ? null : new JsonArray(profile.Select(p => (JsonNode)new JsonObject
                {
                    ["layer"] = p.Layer, ["kind"] = p.Kind, ["ms"] = p.Milliseconds,
                }).ToArray()),
            });
            return 0;
        }
        Console.Write(Format(model, rows, profile, threads.Max(), batchSizes[0]));
        return 0;
    }

    internal sealed record Measurement(int Threads, int BatchSize, int Calls, double P50, double P99, double ImagesPerSecond);

    /// <summary>Calls Predict for <paramref name="seconds"/> after a warm-up of a quarter of that (at least one call); each call timed.</summary>
    internal static Measurement Measure(InferenceModel engine, Tensor input, double seconds)
    {
        var warmUp = Stopwatch.StartNew();
        do engine.Predict(input); while (warmUp.Elapsed.TotalSeconds < seconds / 4);
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        do
        {
            long start = Stopwatch.GetTimestamp();
            engine.Predict(input);
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        } while (total.Elapsed.TotalSeconds < seconds || times.Count < 5);
        double elapsed = total.Elapsed.TotalSeconds;
        times.Sort();
        return new Measurement(Parallelism.Degree, input.Dim(0), times.Count, Percentile(times, 0.5), Percentile(times, 0.99),
            times.Count * input.Dim(0) / elapsed);
    }

    /// <summary>The value below which <paramref name="q"/> of the sorted times lie (nearest rank).</summary>
    internal static double Percentile(List<double> sorted, double q) =>
        sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static Tensor RandomInput(int batch, int[] shape)
    {
        var x = new Tensor([batch, .. shape]);
        var random = new Random(0);
        foreach (ref float v in x.Span) v = random.NextSingle(); // [0, 1], as images are given to a model
        return x;
    }

    private static int[] ParseList(string text, string option, int min, int max)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], out values[i]) || values[i] < min || values[i] > max)
                throw new UsageException($"Option {option} expects numbers from {min} to {max}, separated by commas; received '{text}'.");
        return values.Distinct().ToArray();
    }

    private static string SimdDescription() =>
        System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "AVX-512"
        : System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "AVX2"
        : System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported ? "AdvSimd (128-bit)"
        : System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated ? "128-bit" : "none";

    private static string Format(Model model, List<Measurement> rows, IReadOnlyList<StepTiming>? profile, int profileThreads, int profileBatch)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"{model.Name}: input {Tensor.ShapeToString(model.InputShape)}, {model.Summary().TotalFlops / 1e6:N1} MFLOPs per image; {Environment.ProcessorCount} cores, {SimdDescription()}");
        sb.AppendLine();
        sb.AppendLine($"{"threads",7} {"batch",6} {"calls",7} {"p50 ms",10} {"p99 ms",10} {"ms/image",10} {"images/s",11}");
        foreach (var r in rows)
            sb.AppendLine($"{r.Threads,7} {r.BatchSize,6} {r.Calls,7} {r.P50,10:F3} {r.P99,10:F3} {r.P50 / r.BatchSize,10:F3} {r.ImagesPerSecond,11:N0}");
        if (profile is null) return sb.ToString();
        double sum = profile.Sum(p => p.Milliseconds);
        sb.AppendLine();
        sb.AppendLine($"Where the time goes: batch {profileBatch}, {profileThreads} thread(s), median of 20 runs per step ({sum:F3} ms in all)");
        int width = profile.Max(p => p.Layer.Length), kindWidth = profile.Max(p => p.Kind.Length);
        foreach (var p in profile)
            sb.AppendLine($"  {p.Layer.PadRight(width)}  {p.Kind.PadRight(kindWidth)} {p.Milliseconds,9:F3} ms {p.Milliseconds / Math.Max(sum, 1e-12),6:P1}");
        return sb.ToString();
    }
}
