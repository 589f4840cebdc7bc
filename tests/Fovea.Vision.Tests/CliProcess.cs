using System.Diagnostics;

namespace Fovea.Vision.Tests;

/// <summary>Runs the built fovea CLI in its own process, so its exit code and exactly what it prints can be checked.</summary>
internal static class CliProcess
{
    public static (int Code, string Out, string Err) Run(params string[] args) => Run(TimeSpan.FromMinutes(2), null, args);

    /// <summary>Runs fovea with a time limit, writing the command, exit code and duration to <paramref name="log"/>.</summary>
    public static (int Code, string Out, string Err) Run(TimeSpan limit, ITestOutputHelper? log, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Fovea.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(limit)) { p.Kill(entireProcessTree: true); Assert.Fail($"fovea {string.Join(' ', args)} did not finish within {limit.TotalMinutes:0.#} minutes"); }
        log?.WriteLine($"fovea {string.Join(' ', args)}: exit {p.ExitCode} in {clock.Elapsed.TotalSeconds:F1}s");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Exit code 2 and exactly one line on stderr, "fovea: error: ..." containing each of <paramref name="expected"/>.</summary>
    public static string AssertOneLineError(string[] args, params string[] expected)
    {
        var (code, _, err) = Run(args);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(code == 2 && lines.Length == 1, $"expected exit 2 and one line, got exit {code}:\n{err}");
        Assert.StartsWith("fovea: error: ", lines[0]);
        foreach (var e in expected) Assert.Contains(e, lines[0]);
        return lines[0];
    }
}
