using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Fovea.TestSupport;

/// <summary>
/// Runs the real fovea CLI (Fovea.Cli.dll, built next to the tests) in its own process, with a chosen environment, so its
/// exit code and exactly what it prints can be checked. Shared by every test project (linked from tests/Shared).
/// </summary>
internal static class CliProcess
{
    /// <summary>The dotnet host by full path, so a child can run with a PATH that has no dotnet on it.</summary>
    public static string DotnetHost { get; } = FindDotnet();

    private static string FindDotnet()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        string exe = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            if (File.Exists(Path.Combine(dir, exe))) return Path.Combine(dir, exe);
        throw new InvalidOperationException("The tests need the dotnet host on PATH or in DOTNET_HOST_PATH to run the fovea CLI.");
    }

    private static readonly TimeSpan DefaultLimit = TimeSpan.FromMinutes(5);

    public static (int Code, string Out, string Err) Run(params string[] args) => Run(null, null, args);

    /// <summary>Runs fovea; <paramref name="environment"/> entries with a null value are removed from the child's environment.</summary>
    public static (int Code, string Out, string Err) Run(Dictionary<string, string?>? environment, string? workingDirectory, params string[] args) =>
        Start(appHost: false, environment, workingDirectory, DefaultLimit, null, args);

    /// <summary>Runs fovea within <paramref name="limit"/>, writing the command, exit code and duration to <paramref name="log"/>.</summary>
    public static (int Code, string Out, string Err) Run(TimeSpan limit, ITestOutputHelper? log, params string[] args) =>
        Start(appHost: false, null, null, limit, log, args);

    /// <summary>
    /// Runs the fovea app host (the native Fovea.Cli executable) with DOTNET_ROOT set: unlike 'dotnet Fovea.Cli.dll', the
    /// process's own folder then holds no dotnet, which .NET would otherwise find there before searching PATH.
    /// </summary>
    public static (int Code, string Out, string Err) RunAppHost(Dictionary<string, string?> environment, string? workingDirectory, params string[] args) =>
        Start(appHost: true, environment, workingDirectory, DefaultLimit, null, args);

    private static (int Code, string Out, string Err) Start(bool appHost, Dictionary<string, string?>? environment, string? workingDirectory,
        TimeSpan limit, ITestOutputHelper? log, string[] args)
    {
        string host = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "Fovea.Cli.exe" : "Fovea.Cli");
        var psi = new ProcessStartInfo(appHost ? host : DotnetHost) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (appHost)
        {
            var real = new FileInfo(DotnetHost).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? DotnetHost;
            psi.Environment["DOTNET_ROOT"] = Path.GetDirectoryName(real);
        }
        else psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Fovea.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["FOVEA_OFFLINE"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (k, v) in environment ?? [])
            if (v is null) psi.Environment.Remove(k); else psi.Environment[k] = v;
        if (workingDirectory is not null) psi.WorkingDirectory = workingDirectory;
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(limit))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"fovea {string.Join(' ', args)} did not finish within {limit.TotalMinutes:0.#} minutes");
        }
        log?.WriteLine($"fovea {string.Join(' ', args)}: exit {p.ExitCode} in {clock.Elapsed.TotalSeconds:F1}s");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Exit 2 and exactly one stderr line "fovea: error: ..." containing each of <paramref name="expected"/>, no stack trace.</summary>
    public static void AssertUsageError((int Code, string Out, string Err) r, params string[] expected)
    {
        Assert.True(r.Code == 2, $"exit {r.Code}, stderr: {r.Err}");
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("fovea: error: ", lines[0]);
        foreach (var e in expected) Assert.Contains(e, lines[0]);
        Assert.DoesNotContain("   at ", r.Err);
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>Signal numbers on Linux.</summary>
    public const int SigInt = 2, SigTerm = 15;

    /// <summary>
    /// Skips the calling test when this process ignores <paramref name="signal"/>: a child inherits that, so the CLI could not
    /// be stopped by it. A non-interactive shell starts its background jobs ('&amp;') with SIGINT ignored, as POSIX asks.
    /// </summary>
    private static void SkipWhenIgnored(int signal)
    {
        var line = File.Exists("/proc/self/status") ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal)) : null;
        bool ignored = line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & (1UL << (signal - 1))) != 0;
        Assert.SkipWhen(ignored, $"signal {signal} is ignored in this test process (started in the background by a non-interactive shell?), so the CLI it starts ignores it too");
    }

    /// <summary>
    /// Starts fovea, sends it a real SIGINT (as Ctrl-C does), or <paramref name="signal"/>, once a stderr line satisfies
    /// <paramref name="sendWhen"/>, and waits for it to end; returns its exit code and stderr.
    /// </summary>
    public static (int Code, string Err) RunAndInterrupt(string[] args, Func<string, bool> sendWhen, int signal = SigInt)
    {
        SkipWhenIgnored(signal);
        var psi = new ProcessStartInfo(DotnetHost) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Fovea.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["FOVEA_OFFLINE"] = "1";
        using var p = Process.Start(psi)!;
        var err = new System.Text.StringBuilder();
        bool sent = false;
        int killResult = 0;
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (err) err.AppendLine(e.Data);
            if (!sent && sendWhen(e.Data)) { sent = true; killResult = Kill(p.Id, signal); }
        };
        p.BeginErrorReadLine();
        _ = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(entireProcessTree: true); Assert.Fail($"fovea {string.Join(' ', args)} did not end after signal {signal}"); }
        p.WaitForExit(); // flushes the asynchronous stderr reader
        Assert.True(sent, $"no stderr line called for the signal: {err}");
        Assert.True(killResult == 0, $"kill(signal {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        lock (err) return (p.ExitCode, err.ToString());
    }

    /// <summary>
    /// Starts fovea, polls <paramref name="sendWhen"/> every millisecond (a file appearing, say) and sends
    /// <paramref name="signal"/> the first time it holds; waits for the process to end and returns its exit code and stderr.
    /// </summary>
    public static (int Code, string Err) RunAndSignalWhen(string[] args, Func<bool> sendWhen, int signal = SigInt)
    {
        SkipWhenIgnored(signal);
        var psi = new ProcessStartInfo(DotnetHost) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Fovea.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["FOVEA_OFFLINE"] = "1";
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        _ = p.StandardOutput.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        bool sent = false;
        while (!p.HasExited && clock.Elapsed < TimeSpan.FromMinutes(3))
        {
            if (sendWhen()) { Assert.True(Kill(p.Id, signal) == 0, $"kill failed: errno {Marshal.GetLastPInvokeError()}"); sent = true; break; }
            Thread.Sleep(1);
        }
        if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(entireProcessTree: true); Assert.Fail($"fovea {string.Join(' ', args)} did not end"); }
        Assert.True(sent, $"the condition for the signal never held; stderr: {stderr.Result}");
        return (p.ExitCode, stderr.Result);
    }

    /// <summary>Runs fovea with <paramref name="args"/> and asserts <see cref="AssertUsageError"/>; returns the error line.</summary>
    public static string AssertOneLineError(string[] args, params string[] expected)
    {
        var r = Run(args);
        AssertUsageError(r, expected);
        return r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0];
    }
}
