using Fovea.Benchmarks;
using Fovea.Benchmarks.Shared;
using Fovea.Kernels;

// Fovea benchmarks. Modes:
//   gemm [--path Avx2|Avx512|Vector128|Scalar] [--reps N] [--threads N] [--filter TEXT] [--shape MxNxK[NT|TN]]
//                                           GEMM GFLOP/s table (--shape: that one product instead)
//   peer --what cnn|gemm --threads N [...] --out FILE.json    Fovea's side of benchmarks/run-peers.sh (see benchmarks/README.md)
//   bdn [BenchmarkDotNet arguments, e.g. --filter '*Conv*']   kernel micro-benchmarks (Gemm, Conv2d, MaxPool2d)
//   resnet [--runs-1 N] [--runs-32 N] [--warmup N] [--batches 1,32] [--threads 1,2] [--out FILE.md] [--quick]
//                                           ResNet-18 latency, Fovea vs ONNX Runtime; markdown table into benchmarks/results/
//   resnet-profile [--batch N] [--threads N] [--runs N]   ResNet-18 layer by layer, Fovea vs ONNX Runtime's profiler
//   texture-folder --out DIR [--per-class N] [--seed N] [--size N]   generated image folder of benchmarks/fine-tune.sh
// Run with: dotnet run -c Release --project benchmarks/Fovea.Benchmarks -- MODE ...

string mode = args.Length > 0 ? args[0] : "gemm";
switch (mode)
{
    case "gemm":
    {
        var path = GemmKernelPath.Auto;
        int reps = 7, maxThreads = 2;
        string filter = "";
        string? shape = null;
        for (int i = 1; i + 1 < args.Length; i += 2)
        {
            if (args[i] == "--path") path = Enum.Parse<GemmKernelPath>(args[i + 1], ignoreCase: true);
            else if (args[i] == "--reps") reps = int.Parse(args[i + 1]);
            else if (args[i] == "--threads") maxThreads = int.Parse(args[i + 1]);
            else if (args[i] == "--filter") filter = args[i + 1];
            else if (args[i] == "--shape") shape = args[i + 1];
        }
        return GemmTable.Run(path, reps, maxThreads, filter, shape);
    }
    case "peer":
        return PeerRun.Run(PeerOptions.Parse(args, 1));
    case "bdn":
        return KernelBenchmarks.Run(args[1..]);
    case "resnet":
        return ResNetLatency.Run(args[1..]);
    case "resnet-profile":
        return ResNetProfile.Run(args[1..]);
    case "texture-folder":
        return TextureFolder.Run(args[1..]);
    default:
        Console.Error.WriteLine($"Unknown mode '{mode}'. Known modes: gemm, peer, bdn, resnet, resnet-profile, texture-folder.");
        return 1;
}
