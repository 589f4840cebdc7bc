using System.Diagnostics;
using System.Text.Json.Nodes;
using Fovea.Benchmarks.Shared;
using TorchSharp;
using static TorchSharp.torch;

// TorchSharp's side of the side-by-side benchmark (benchmarks/run-peers.sh): the reference CNN on Fashion-MNIST and
// libtorch's matrix product, measured exactly as Fovea's `peer` mode does (protocol in benchmarks/README.md).
// Usage: Fovea.Benchmarks.TorchSharp --what cnn|gemm --threads N [...] --out FILE.json
// The build output's libLibTorchSharp.so must have its GLIBCXX_3.4.32 requirement weakened (run-peers.sh does it).

var o = PeerOptions.Parse(args, 0);
torch.set_num_threads(o.Threads);
torch.manual_seed(o.Seed);
var result = new JsonObject
{
    ["framework"] = "TorchSharp",
    ["version"] = $"TorchSharp {typeof(torch).Assembly.GetName().Version}, libtorch {torch.__version__}",
    ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
    ["what"] = o.What,
    ["config"] = o.Config,
    ["threads"] = o.Threads,
    ["torch_threads"] = torch.get_num_threads(),
    ["env"] = Measure.RelevantEnvironment(),
};
if (o.What == "gemm") result["gemm"] = RunGemm(o);
else RunCnn(o, result);
result["peak_rss_mb"] = Measure.PeakRssMiB();
Measure.Write(result, o.Out);
return 0;

static JsonArray RunGemm(PeerOptions o)
{
    var rows = new JsonArray();
    using var noGrad = torch.no_grad();
    foreach (var s in GemmShape.All)
    {
        using var scope = torch.NewDisposeScope();
        // Stored as Fovea stores them (A is K×M when transposed, B is N×K when transposed); .t() views cost nothing
        // and libtorch hands the transposition to its BLAS. C is preallocated and overwritten (addmm_ with beta 0),
        // as Fovea's Gemm.Multiply overwrites its destination.
        var a = s.TransposeA ? torch.rand(s.K, s.M).sub_(0.5).t() : torch.rand(s.M, s.K).sub_(0.5);
        var b = s.TransposeB ? torch.rand(s.N, s.K).sub_(0.5).t() : torch.rand(s.K, s.N).sub_(0.5);
        var c = torch.zeros(s.M, s.N);
        double seconds = Measure.BestSecondsPerCall(() => c.addmm_(a, b, beta: 0f, alpha: 1f), s.Flops, o.GemmReps);
        rows.Add(new JsonObject { ["name"] = s.Name, ["m"] = s.M, ["n"] = s.N, ["k"] = s.K, ["ta"] = s.TransposeA, ["tb"] = s.TransposeB,
            ["conv_shaped"] = s.ConvShaped, ["gflops"] = s.Flops / seconds / 1e9 });
        Console.Error.WriteLine($"TorchSharp gemm {s.Name} x{o.Threads}: {s.Flops / seconds / 1e9:F1} GFLOP/s");
    }
    return rows;
}

static (Tensor Images, Tensor Labels) Load(string dir, string prefix)
{
    var (dims, pixels) = Idx.Read(Path.Combine(dir, $"{prefix}-images-idx3-ubyte.gz"));
    var (_, labels) = Idx.Read(Path.Combine(dir, $"{prefix}-labels-idx1-ubyte.gz"));
    var images = torch.tensor(pixels, new long[] { dims[0], 1, dims[1], dims[2] }).to_type(ScalarType.Float32).div_(255f);
    return (images, torch.tensor(labels).to_type(ScalarType.Int64));
}

static void RunCnn(PeerOptions o, JsonObject result)
{
    var (trainX, trainY) = Load(o.DataDir, "train");
    var (testX, testY) = Load(o.DataDir, "t10k");
    long trainCount = trainX.shape[0], testCount = testX.shape[0];

    var model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10));
    var lossFn = nn.CrossEntropyLoss();
    var optimizer = torch.optim.Adam(model.parameters(), lr: o.LearningRate);
    model.train();

    // Shuffled batches, a new permutation every epoch, the last short batch dropped (as Fovea's dropLast).
    long perEpoch = trainCount / o.BatchSize;
    long batchIndex = 0;
    Tensor? perm = null;
    double lossSum = 0, firstLoss = double.NaN;
    int lossCount = 0;
    void Step()
    {
        if (batchIndex % perEpoch == 0) { perm?.Dispose(); perm = torch.randperm(trainCount); }
        using var scope = torch.NewDisposeScope();
        var idx = perm!.narrow(0, batchIndex % perEpoch * o.BatchSize, o.BatchSize);
        var x = trainX.index_select(0, idx);
        var y = trainY.index_select(0, idx);
        var loss = lossFn.forward(model.forward(x), y);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        float value = loss.item<float>();
        if (!float.IsFinite(value)) throw new InvalidOperationException($"Training diverged: loss {value}.");
        if (double.IsNaN(firstLoss)) firstLoss = value;
        lossSum += value;
        lossCount++;
        batchIndex++;
    }

    var clock = Stopwatch.StartNew();
    for (int i = 0; i < o.WarmupBatches; i++) Step();
    double warmupSeconds = clock.Elapsed.TotalSeconds;
    lossSum = 0; lossCount = 0;
    clock.Restart();
    for (int i = 0; i < o.TimedBatches; i++) Step();
    double seconds = clock.Elapsed.TotalSeconds;
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
    result["peak_rss_train_mb"] = Measure.PeakRssMiB();
    Console.Error.WriteLine($"TorchSharp x{o.Threads}: train {o.TimedBatches * o.BatchSize / seconds:F0} img/s");

    // Inference at batch 256 over the test set: one warm-up pass, then timed passes.
    model.eval();
    using var inference = torch.inference_mode(true);
    long Pass()
    {
        long right = 0;
        for (long start = 0; start < testCount; start += o.InferBatch)
        {
            using var scope = torch.NewDisposeScope();
            long n = Math.Min(o.InferBatch, testCount - start);
            var scores = model.forward(testX.narrow(0, start, n));
            right += scores.argmax(1).eq(testY.narrow(0, start, n)).sum().item<long>();
        }
        return right;
    }
    Pass();
    long correct = 0;
    clock.Restart();
    for (int p = 0; p < o.InferPasses; p++) correct = Pass();
    double inferSeconds = clock.Elapsed.TotalSeconds;
    result["infer"] = new JsonObject
    {
        ["batch_size"] = o.InferBatch,
        ["images"] = testCount * o.InferPasses,
        ["seconds"] = inferSeconds,
        ["images_per_s"] = (double)testCount * o.InferPasses / inferSeconds,
        ["test_accuracy"] = (double)correct / testCount,
    };

    // Batch-1 latency: the single-image view is made before the clock starts.
    var times = new double[o.LatencySamples];
    for (int i = 0; i < o.LatencyWarmup + o.LatencySamples; i++)
    {
        using var scope = torch.NewDisposeScope();
        var x = testX.narrow(0, i % testCount, 1);
        long t0 = Stopwatch.GetTimestamp();
        var scores = model.forward(x);
        double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        float first = scores[0, 0].item<float>();
        if (float.IsNaN(first)) throw new InvalidOperationException("NaN prediction");
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
