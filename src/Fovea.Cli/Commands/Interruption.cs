using System.Runtime.InteropServices;

namespace Fovea.Cli.Commands;

/// <summary>
/// Ctrl-C (SIGINT) during training: the first one asks the run to stop after its current batch, so that it can write its
/// checkpoint; outside training, or a second time, the signal ends the process at once as usual. Either way no file is left
/// half-written, as every file is written to a temporary name and renamed.
/// </summary>
internal static class Interruption
{
    private static readonly CancellationTokenSource s_stop = new();
    private static PosixSignalRegistration? s_sigint;
    private static volatile bool s_graceful;

    /// <summary>Cancelled by the first SIGINT while training.</summary>
    public static CancellationToken Token => s_stop.Token;

    /// <summary>From now on a first SIGINT cancels <see cref="Token"/> instead of ending the process.</summary>
    public static void BeginGraceful()
    {
        s_sigint ??= PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSigint);
        s_graceful = true;
    }

    /// <summary>Back to the usual handling; returns true when a SIGINT arrived in between.</summary>
    public static bool EndGraceful()
    {
        s_graceful = false;
        return s_stop.IsCancellationRequested;
    }

    private static void OnSigint(PosixSignalContext context)
    {
        if (!s_graceful || s_stop.IsCancellationRequested) return;
        context.Cancel = true;
        s_stop.Cancel();
    }
}
