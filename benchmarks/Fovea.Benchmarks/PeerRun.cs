using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;
using Fovea.Autograd;
using Fovea.Benchmarks.Shared;
using Fovea.Data;
using Fovea.Kernels;
using Fovea.Losses;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Tensors;

namespace Fovea.Benchmarks;

/// <summary>
/// Fovea's side of the side-by-side benchmark (`peer` mode): one process per thread count and task, writing one JSON
/// result in the protocol shared with the TorchSharp and PyTorch peers (benchmarks/README.md).
/// </summary>
public static class PeerRun
{
    public static int Run(PeerOptions o)
    {
        Parallelism.Degree = o.Threads;
        var result = new JsonObject
        {
            ["framework"] = "Fovea",
            ["version"] = typeof(Model).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?",
            ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            ["what"] = o.What,
            ["config"] = o.Config,
            ["threads"] = o.Threads,
            ["env"] = Measure.RelevantEnvironment(),
            ["gc"] = System.Runtime.GCSettings.IsServerGC ? "server" : "workstation",
            ["gemm_path"] = Gemm.AutoPath.ToString(),
        };
        if (o.What == "gemm")
        {
            result["gemm"] = RunGemm(o);
            // Right after the products, in the same process and thread count: the share of the hardware they used.
            result["fma_peak_gflops"] = FmaPeak.Measure(o.Threads, samples: 20);
            Console.Error.WriteLine($"FMA peak x{o.Threads}: {result["fma_peak_gflops"]!.GetValue<double>():F1} GFLOP/s");
        }
        else RunCnn(o, result);
        result["peak_rss_mb"] = Measure.PeakRssMiB();
        Measure.Write(result, o.Out);
        return 0;
    }

    private static JsonArray RunGemm(PeerOptions o)
    {
        var rows = new JsonArray();
        foreach (var s in GemmShape.All)
        {
            var rng = new Random(1);
            var a = new float[s.M * s.K];
            var b = new float[s.K * s.N];
            var c = new float[s.M * s.N];
            for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble() - 0.5f;
            for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble() - 0.5f;
            double seconds = Measure.BestSecondsPerCall(() => Gemm.Multiply(s.TransposeA, s.TransposeB, s.M, s.N, s.K, a, b, c), s.Flops, o.GemmReps);
            rows.Add(new JsonObject { ["name"] = s.Name, ["m"] = s.M, ["n"] = s.N, ["k"] = s.K, ["ta"] = s.TransposeA, ["tb"] = s.TransposeB,
                ["conv_shaped"] = s.ConvShaped, ["gflops"] = s.Flops / seconds / 1e9 });
            Console.Error.WriteLine($"Fovea gemm {s.Name} x{o.Threads}: {s.Flops / seconds / 1e9:F1} GFLOP/s");
        }
        return rows;
    }

    private static void RunCnn(PeerOptions o, JsonObject result)
    {
        var loadOptions = new DatasetLoadOptions { Offline = true };
        var train = FashionMnist.Load(DatasetSplit.Train, o.DataDir, loadOptions);
        var test = FashionMnist.Load(DatasetSplit.Test, o.DataDir, loadOptions);

        // ---- training: the steps of Trainer.Fit (record, loss, zero grad, backward, step), warm-up then timed ----
        var model = ModelZoo.Reference([1, 28, 28], 10, o.Seed);
        var optimizer = new Adam(o.LearningRate);
        var lossFn = new SoftmaxCrossEntropyLoss();
        var parameters = model.TrainableParameters.ToArray();
        var tape = new Tape();
        using var loader = new DataLoader(train, o.BatchSize, shuffle: true, seed: o.Seed, dropLast: true);
        var batches = Endless(loader).GetEnumerator();
        double lossSum = 0;
        int lossCount = 0;
        double firstLoss = double.NaN;

        // As in Trainer.Fit, a step's activations and gradients live in an arena that the next step recycles.
        var arena = new TensorArena();

        void Step()
        {
            batches.MoveNext();
            var batch = batches.Current;
            arena.ReleaseAll();
            using var active = arena.Activate();
            Tensor loss;
            using (tape.Record())
            {
                var outputs = model.Forward(batch.Images, training: true);
                loss = lossFn.Compute(outputs, batch.Labels);
            }
            float value = loss.Span[0];
            if (!float.IsFinite(value)) throw new InvalidOperationException($"Training diverged: loss {value}.");
            Optimizer.ZeroGrad(parameters);
            tape.Backward(loss);
            optimizer.Step(parameters);
            if (double.IsNaN(firstLoss)) firstLoss = value;
            lossSum += value;
            lossCount++;
        }

        var clock = Stopwatch.StartNew();
        for (int i = 0; i < o.WarmupBatches; i++) Step();
        double warmupSeconds = clock.Elapsed.TotalSeconds;
        lossSum = 0; lossCount = 0;
        int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
        long allocated0 = GC.GetTotalAllocatedBytes(precise: true);
        clock.Restart();
        for (int i = 0; i < o.TimedBatches; i++) Step();
        double seconds = clock.Elapsed.TotalSeconds;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated0;
        result["train"] = new JsonObject
        {
            ["batch_size"] = o.BatchSize,
            ["warmup_batches"] = o.WarmupBatches,
            ["timed_batches"] = o.TimedBatches,
            ["warmup_images_per_s"] = o.WarmupBatches * o.BatchSize / Math.Max(1e-9, warmupSeconds),
            ["seconds"] = seconds,
            ["images_per_s"] = o.TimedBatches * o.BatchSize / seconds,
            ["first_loss"] = firstLoss,
            ["mean_timed_loss"] = lossSum / Math.Max(1, lossCount),
        };
        // Process-wide (every thread, the data loader's included), exact: the allocation target of the issue.
        result["alloc_bytes_per_step"] = (double)allocated / o.TimedBatches;
        result["gc_during_timed_training"] = new JsonObject
        {
            ["gen0"] = GC.CollectionCount(0) - gen0, ["gen1"] = GC.CollectionCount(1) - gen1, ["gen2"] = GC.CollectionCount(2) - gen2,
        };
        result["peak_rss_train_mb"] = Measure.PeakRssMiB();
        batches.Dispose();
        Console.Error.WriteLine($"Fovea x{o.Threads}: train {o.TimedBatches * o.BatchSize / seconds:F0} img/s, {(double)allocated / o.TimedBatches:F0} B/step");

        // ---- inference: the trained model as an app would deploy it (ToInference: BatchNorm folded, ReLU fused, filters
        // packed once, Winograd for the 3x3 stride-1 layer), as the peers use eval mode without gradients ----
        var inference = model.ToInference();

        // ---- inference at batch 256 over the test set: one warm-up pass, then timed passes ----
        using var testLoader = new DataLoader(test, o.InferBatch, shuffle: false, seed: 0, dropLast: false);
        int correct = 0;
        int Pass()
        {
            int right = 0;
            foreach (var batch in testLoader.ForEpoch(0))
            {
                var scores = inference.Predict(batch.Images).Span;
                for (int i = 0; i < batch.Count; i++)
                    if (System.Numerics.Tensors.TensorPrimitives.IndexOfMax(scores.Slice(i * 10, 10)) == batch.Labels[i]) right++;
            }
            return right;
        }
        Pass();
        clock.Restart();
        for (int p = 0; p < o.InferPasses; p++) correct = Pass();
        double inferSeconds = clock.Elapsed.TotalSeconds;
        result["infer"] = new JsonObject
        {
            ["batch_size"] = o.InferBatch,
            ["images"] = (long)test.Count * o.InferPasses,
            ["seconds"] = inferSeconds,
            ["images_per_s"] = (double)test.Count * o.InferPasses / inferSeconds,
            ["test_accuracy"] = (double)correct / test.Count,
        };

        // ---- batch-1 latency: one image at a time, copied in before the clock starts ----
        var single = new Tensor(1, 1, 28, 28);
        var times = new double[o.LatencySamples];
        for (int i = 0; i < o.LatencyWarmup + o.LatencySamples; i++)
        {
            test.CopyImage(i % test.Count, single.Span);
            long t0 = Stopwatch.GetTimestamp();
            var scores = inference.Predict(single);
            double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            if (float.IsNaN(scores.Span[0])) throw new InvalidOperationException("NaN prediction");
            if (i >= o.LatencyWarmup) times[i - o.LatencyWarmup] = ms;
        }
        result["latency"] = new JsonObject
        {
            ["samples"] = o.LatencySamples,
            ["p50_ms"] = Measure.Percentile(times, 50),
            ["p99_ms"] = Measure.Percentile(times, 99),
            ["mean_ms"] = times.Average(),
        };
    }

    /// <summary>Batches of epoch 0, 1, 2, ... without end.</summary>
    private static IEnumerable<Batch> Endless(DataLoader loader)
    {
        while (true)
            foreach (var batch in loader)
                yield return batch;
    }
}
