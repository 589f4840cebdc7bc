using System.Runtime.InteropServices;

namespace Fovea.Cli.Commands;

/// <summary>
/// Ctrl-C (SIGINT) or SIGTERM (what `kill`, `docker stop` and systemd send) during training: the first one asks the run to
/// stop after its current batch, so that it can write its checkpoint; outside training, or a second time, the signal ends
/// the process at once as usual. Either way no file is left half-written, as every file is written to a temporary name
/// and renamed.
/// </summary>
internal static class Interruption
{
    private static readonly CancellationTokenSource s_stop = new();
    private static PosixSignalRegistration? s_sigint, s_sigterm;
    private static volatile bool s_graceful;
    private static volatile int s_exitCode = Cli.Interrupted;

    /// <summary>Cancelled by the first SIGINT or SIGTERM while training.</summary>
    public static CancellationToken Token => s_stop.Token;

    /// <summary>The exit code of a run stopped by a signal, by the shells' convention 128 + its number: 130 for SIGINT, 143 for SIGTERM.</summary>
    public static int ExitCode => s_exitCode;

    /// <summary>
    /// Watches SIGINT and SIGTERM for the whole command: one that ends the process first deletes the temporary file of a
    /// save in progress (<see cref="CliFiles.DeleteUnfinishedWrites"/>), so none is left half-written.
    /// </summary>
    public static void Install()
    {
        s_sigint ??= PosixSignalRegistration.Create(PosixSignal.SIGINT, context => OnSignal(context, Cli.Interrupted));
        s_sigterm ??= PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => OnSignal(context, Cli.Terminated));
    }

    /// <summary>From now on a first SIGINT or SIGTERM cancels <see cref="Token"/> instead of ending the process.</summary>
    public static void BeginGraceful()
    {
        Install();
        s_graceful = true;
    }

    /// <summary>Back to the usual handling; returns true when a SIGINT arrived in between.</summary>
    public static bool EndGraceful()
    {
        s_graceful = false;
        return s_stop.IsCancellationRequested;
    }

    private static void OnSignal(PosixSignalContext context, int exitCode)
    {
        if (!s_graceful || s_stop.IsCancellationRequested)
        {
            // The signal ends the process (its default action, once this returns): no temporary file may outlive it.
            CliFiles.DeleteUnfinishedWrites();
            Fovea.Data.UnfinishedDownloads.Delete();
            return;
        }
        context.Cancel = true;
        s_exitCode = exitCode;
        s_stop.Cancel();
    }
}
