using System.Collections.Concurrent;

namespace Fovea.Data;

/// <summary>
/// The temporary ".part" files of data-set downloads in progress in this process. A download writes one beside its
/// target and renames it once its checksum matches; a signal that ends the process meanwhile (Ctrl-C) would leave it
/// behind, so a host that handles such signals calls <see cref="Delete"/> before the process ends.
/// </summary>
public static class UnfinishedDownloads
{
    private static readonly ConcurrentDictionary<string, byte> s_inProgress = new(StringComparer.Ordinal);

    /// <summary>Deletes every download file this process has not finished; safe to call from a signal handler, and more than once.</summary>
    public static void Delete()
    {
        foreach (var path in s_inProgress.Keys)
        {
            try { File.Delete(path); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // ending anyway: best effort
        }
    }

    internal static void Begin(string partPath) => s_inProgress.TryAdd(partPath, 0);

    internal static void End(string partPath) => s_inProgress.TryRemove(partPath, out _);

    /// <summary>The download files in progress (tests).</summary>
    internal static IReadOnlyCollection<string> InProgress => s_inProgress.Keys.ToArray();
}
