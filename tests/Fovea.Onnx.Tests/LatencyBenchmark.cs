using System.Diagnostics;
using Fovea.Tensors;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;
using Tensor = Fovea.Tensors.Tensor;

namespace Fovea.Onnx.Tests;

/// <summary>
/// ResNet-18 latency, Fovea vs ONNX Runtime, batch 1 and 32 at 1 and 2 threads. Timing is slow and noisy, so it runs only
/// with FOVEA_ONNX_BENCH=1 (dotnet test --filter LatencyBenchmark); otherwise it only says how to run it.
/// </summary>
public class LatencyBenchmark(ITestOutputHelper output)
{
    [Fact]
    public void ResNet18Latency()
    {
        if (Environment.GetEnvironmentVariable("FOVEA_ONNX_BENCH") != "1")
        {
            output.WriteLine("Latency not measured: set FOVEA_ONNX_BENCH=1 to run this benchmark (it takes minutes).");
            return;
        }
        var path = PretrainedModels.LocateResNet18();
        var fovea = OnnxImporter.Import(path);
        // ONNX Runtime needs the batch axis dynamic for batch 32: re-export the imported network (same weights).
        var dynamicOnnx = OnnxExporter.ToBytes(fovea, 13);
        int saved = Parallelism.Degree;
        try
        {
            foreach (int batch in new[] { 1, 32 })
            {
                var x = RoundTripTests.RandomInput(batch, batch, 3, 224, 224);
                int reps = batch == 1 ? 10 : 2;
                foreach (int threads in new[] { 1, 2 })
                {
                    Parallelism.Degree = threads;
                    fovea.Predict(x); // warm-up
                    double foveaMs = Median(reps, () => fovea.Predict(x)) / batch;
                    using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
                    using var session = new InferenceSession(dynamicOnnx, options);
                    var input = new DenseTensor(x.ToArray(), x.Shape);
                    void RunOrt() { using var r = session.Run([NamedOnnxValue.CreateFromTensor("input", input)]); }
                    RunOrt();
                    double ortMs = Median(reps, RunOrt) / batch;
                    output.WriteLine($"batch {batch,2}, {threads} thread(s): Fovea {foveaMs,7:F1} ms/image, ONNX Runtime {ortMs,7:F1} ms/image, ratio {foveaMs / ortMs:F2}");
                }
            }
        }
        finally { Parallelism.Degree = saved; }
    }

    private static double Median(int reps, Action action)
    {
        var times = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            var sw = Stopwatch.StartNew();
            action();
            times[i] = sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        return times[reps / 2];
    }
}
