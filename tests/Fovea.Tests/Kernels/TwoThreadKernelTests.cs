namespace Fovea.Tests.Kernels;

/// <summary>
/// Base of the kernel test classes whose fast paths split work over threads. Parallelism.For runs serially whenever
/// another thread holds the workers, so beside the parallel test classes the threaded paths would run only by chance.
/// These classes therefore join the degree collection (run alone; each says so itself, as xunit reads the attribute
/// from the test class) and set two threads for every test, on any machine:
/// each comparison with the naive reference then goes through the split (and per-thread partial-sum) code.
/// </summary>
public abstract class TwoThreadKernelTests : IDisposable
{
    private readonly int _saved = Parallelism.Degree;

    protected TwoThreadKernelTests() => Parallelism.Degree = 2;

    public void Dispose()
    {
        Parallelism.Degree = _saved;
        GC.SuppressFinalize(this);
    }
}
