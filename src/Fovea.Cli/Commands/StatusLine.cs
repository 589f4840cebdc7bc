using System.Diagnostics;

namespace Fovea.Cli.Commands;

/// <summary>
/// "label 123/1,000" on standard error for a long step (decoding images, extracting features): redrawn in place at
/// most ten times a second on a terminal; otherwise only the final line. Silent when <c>enabled</c> is false (--json).
/// </summary>
internal sealed class StatusLine(string label, bool enabled)
{
    private readonly bool _interactive = enabled && !Console.IsErrorRedirected;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDraw = -1000;
    // A line drawn without its end: an error reported meanwhile must start on a line of its own.
    private static volatile bool s_lineOpen;

    /// <summary>Ends a status line left unfinished (an error stopped its step), so what follows starts on a new line.</summary>
    public static void EndOpenLine()
    {
        if (!s_lineOpen) return;
        s_lineOpen = false;
        Console.Error.WriteLine();
    }

    /// <summary>Reports (done, total); thread-safe callers serialise their calls.</summary>
    public void Report(int done, int total)
    {
        if (!_interactive) return;
        long now = _clock.ElapsedMilliseconds;
        if (done < total && now - _lastDraw < 100) return;
        _lastDraw = now;
        Console.Error.Write($"\r{label} {done:N0}/{total:N0}");
        s_lineOpen = true;
    }

    /// <summary>Ends the line with a summary such as "in 3.2s".</summary>
    public double Finish(string summary)
    {
        double seconds = _clock.Elapsed.TotalSeconds;
        s_lineOpen = false;
        if (enabled) Console.Error.WriteLine($"{(_interactive ? "\r" : "")}{label} {summary} in {seconds:F1}s");
        return seconds;
    }
}
