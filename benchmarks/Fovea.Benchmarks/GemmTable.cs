using System.Diagnostics;
using Fovea.Kernels;

namespace Fovea.Benchmarks;

/// <summary>`gemm` mode: a quick human-readable GFLOP/s table of Fovea's GEMM at 1..N threads.
/// Legend: C (M x N) = op(A) (M x K) * op(B) (K x N); GFLOP/s counts 2*M*N*K per product.</summary>
internal static class GemmTable
{
    public static int Run(GemmKernelPath path, int reps, int maxThreads, string filter, string? shape = null)
    {
        Gemm.ForcedPath = path;
        Console.WriteLine($"GEMM benchmark: path {(path == GemmKernelPath.Auto ? $"Auto ({Gemm.AutoPath})" : path)}, {Environment.ProcessorCount} cores, best of {reps} after warm-up.");

        // Shapes: square 1024^3 in three transpose layouts, then the products of a small CNN with batch 64 on 28x28 images
        // (conv1 1->32 3x3 on 28x28, conv2 32->64 3x3 on 14x14, im2col with the batch folded into N).
        (string Name, bool TA, bool TB, int M, int N, int K)[] shapes =
        [
            ("1024^3 NN", false, false, 1024, 1024, 1024),
            ("1024^3 NT", false, true, 1024, 1024, 1024),
            ("1024^3 TN", true, false, 1024, 1024, 1024),
            ("conv1 fwd 32x50176x9", false, false, 32, 50176, 9),
            ("conv2 fwd 64x12544x288", false, false, 64, 12544, 288),
            ("conv fwd 64x25088x288", false, false, 64, 25088, 288),
            ("conv2 dW NT 64x288x12544", false, true, 64, 288, 12544),
            ("conv2 dX TN 288x12544x64", true, false, 288, 12544, 64),
            ("conv2 1 image 64x196x288", false, false, 64, 196, 288),
            ("conv2 dW 1 image 64x288x196 NT", false, true, 64, 288, 196),
            ("fc 64x128x3136 NT", false, true, 64, 128, 3136),
        ];
        if (shape != null)
        {
            if (!TryParseShape(shape, out var one))
            {
                Console.Error.WriteLine($"--shape '{shape}': expected MxNxK with an optional NT or TN suffix, e.g. 64x480x288 or 64x288x196NT.");
                return 2;
            }
            shapes = [one];
            filter = "";
        }

        Console.WriteLine($"{"shape",-30} {"1 thread",10} {"2 threads",10}   GFLOP/s");
        if (filter.Length == 0 && path == GemmKernelPath.Auto)
        {
            // The ceiling: register-only FMAs in the GEMM's vector width (see FmaPeak).
            var peak = new double[2];
            for (int degree = 1; degree <= Math.Min(2, maxThreads); degree++) peak[degree - 1] = FmaPeak.Measure(degree, samples: 10);
            Console.WriteLine($"{"FMA peak (registers only)",-30} {peak[0],10:F1} {peak[1],10:F1}");
        }
        foreach (var s in shapes)
        {
            if (!s.Name.Contains(filter, StringComparison.Ordinal)) continue;
            var rng = new Random(1);
            var a = new float[s.M * s.K];
            var b = new float[s.K * s.N];
            var c = new float[s.M * s.N];
            for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble() - 0.5f;
            for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble() - 0.5f;
            double flops = 2.0 * s.M * s.N * s.K;
            var results = new double[2];
            for (int degree = 1; degree <= maxThreads; degree++)
            {
                Parallelism.Degree = degree;
                // Repeat small products inside one timing so each sample lasts at least ~20 ms.
                int inner = (int)Math.Max(1, 2e9 / 50 / flops);
                void Once() { for (int r = 0; r < inner; r++) Gemm.Multiply(s.TA, s.TB, s.M, s.N, s.K, a, b, c); }
                for (int w = 0; w < 3; w++) Once();
                double best = double.MaxValue;
                for (int r = 0; r < reps; r++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    Once();
                    best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds / inner);
                }
                results[degree - 1] = flops / best / 1e9;
            }
            Console.WriteLine($"{s.Name,-30} {results[0],10:F1} {results[1],10:F1}");
        }
        return 0;
    }

    /// <summary>"MxNxK" with an optional "NT" (B stored N x K) or "TN" (A stored K x M) suffix.</summary>
    private static bool TryParseShape(string text, out (string Name, bool TA, bool TB, int M, int N, int K) shape)
    {
        shape = default;
        bool ta = text.EndsWith("TN", StringComparison.Ordinal), tb = text.EndsWith("NT", StringComparison.Ordinal);
        string dims = ta || tb || text.EndsWith("NN", StringComparison.Ordinal) ? text[..^2] : text;
        string[] parts = dims.Split('x');
        if (parts.Length != 3 || !int.TryParse(parts[0], out int m) || !int.TryParse(parts[1], out int n) || !int.TryParse(parts[2], out int k)
            || m <= 0 || n <= 0 || k <= 0) return false;
        shape = (text, ta, tb, m, n, k);
        return true;
    }
}
