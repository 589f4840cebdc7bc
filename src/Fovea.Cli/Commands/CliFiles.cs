using System.Collections.Concurrent;
using Fovea.Serialization;

namespace Fovea.Cli.Commands;

/// <summary>
/// Checks of the files a command reads and writes, made before any work: a long training run must not end in an
/// unwritable --out, and no command may replace a device, a folder or its own input.
/// </summary>
internal static class CliFiles
{
    // .NET reports devices and pipes as ordinary files; these trees hold only such files and kernel views.
    private static readonly string[] SpecialTrees = ["/dev/", "/proc/", "/sys/"];

    /// <summary>An existing regular file, else a one-line error naming <paramref name="what"/> and the path.</summary>
    public static string Input(string path, string what)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException($"{what}: the path is empty.");
        if (Directory.Exists(path)) throw new UsageException($"{what} {path} is a folder; expected a file.");
        long? length = LinkedFile.Length(path); // through symbolic links, which .NET otherwise describes by themselves
        if (length is null) throw new FileNotFoundException($"{what} not found: {path}{LinkedFile.NotFoundNote(path)}", path);
        if (IsSpecial(path)) throw new UsageException($"{what} {path} is not a regular file.");
        // .NET cannot tell a pipe from a file, but a pipe reports 0 bytes: refused before an open that would wait forever.
        if (length == 0) throw new UsageException($"{what} {path} is empty (0 bytes) or not a regular file.");
        // Opened once now, so a file without read permission is named as the input it is: the reader's own failure was
        // .NET's bare "Access to the path '...' is denied.", which did not say which input that was.
        try { using (File.OpenRead(path)) { } }
        catch (UnauthorizedAccessException)
        {
            throw new UsageException($"{what} {path} cannot be read: permission denied (the user running fovea needs read permission on it).");
        }
        return path;
    }

    /// <summary>
    /// Refuses an existing folder the user may not list, or one of its subfolders (an image folder's class folders), naming
    /// it as <paramref name="what"/>: reading it failed later with .NET's bare "Access to the path '...' is denied.", which
    /// did not say which input that was. Hidden subfolders are skipped, as the image listings skip them.
    /// </summary>
    public static void ReadableFolder(string path, string what)
    {
        string current = path;
        try
        {
            var subfolders = Directory.GetDirectories(path).Where(d => !Path.GetFileName(d).StartsWith('.'));
            foreach (var folder in subfolders)
            {
                current = folder;
                using var entries = Directory.EnumerateFileSystemEntries(folder).GetEnumerator();
                entries.MoveNext();
            }
        }
        catch (UnauthorizedAccessException)
        {
            string which = current == path ? "" : $" (its subfolder {current})";
            throw new UsageException($"{what} {path} cannot be read{which}: permission denied (the user running fovea needs read and execute permission on it).");
        }
    }

    /// <summary>
    /// A path <paramref name="option"/> may write a file to: not empty, not a folder, not a device, none of
    /// <paramref name="inputs"/>, in a folder that exists (created if missing) and takes new files.
    /// </summary>
    public static string Output(string path, string option, params string[] inputs)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException($"{option} needs a file path; received an empty one.");
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full) || Path.EndsInDirectorySeparator(path))
            throw new UsageException($"{option} {path} is a folder; expected a file path.");
        if (IsSpecial(full)) throw new UsageException($"{option} {path} is not a regular file; Fovea writes only regular files.");
        foreach (var input in inputs)
            if (SameFile(full, input)) throw new UsageException($"{option} {path} is the input {input}; writing it would replace it. Choose another path.");
        FolderTakesFiles(Path.GetDirectoryName(full)!, $"{option} {path}");
        return path;
    }

    /// <summary>
    /// A folder path <paramref name="option"/> may write files into: not empty (which .NET refuses with a message naming
    /// no option) and not a file; whether it takes files is checked by <see cref="FolderTakesFiles"/>.
    /// </summary>
    public static string OutputFolder(string path, string option, string purpose)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException($"{option} needs a folder path {purpose}; received an empty one.");
        if (File.Exists(path)) throw new UsageException($"{option} {path} is a file; expected a folder {purpose}.");
        return path;
    }

    /// <summary>Files written beside a model (history, charts): each must be a new or regular file.</summary>
    public static void Siblings(string stem, string option, params string[] suffixes)
    {
        foreach (var suffix in suffixes)
        {
            string path = stem + suffix;
            if (Directory.Exists(path)) throw new UsageException($"{option}: {path} is a folder, so the {suffix.TrimStart('.')} written beside the model cannot replace it.");
            if (IsSpecial(Path.GetFullPath(path))) throw new UsageException($"{option}: {path} is not a regular file.");
        }
    }

    /// <summary>
    /// Proves a file can be created in <paramref name="folder"/>. Folders it has to create for the proof are removed
    /// again, so a command refused later leaves nothing behind; the writers create them when they save.
    /// </summary>
    public static void FolderTakesFiles(string folder, string what)
    {
        s_outputFolders.TryAdd(Path.GetFullPath(folder), 0);
        var missing = new List<string>();   // deepest first
        for (string? d = folder; d is not null; d = Path.GetDirectoryName(d))
        {
            if (File.Exists(d)) throw new UsageException($"{what}: {d} is a file, not a folder.");
            if (!Directory.Exists(d)) missing.Add(d);
        }
        string probe = Path.Combine(folder, $".fovea-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(folder);
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write)) { }
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new UsageException($"{what}: cannot write in {folder} ({e.Message})");
        }
        finally
        {
            if (File.Exists(probe)) File.Delete(probe);
            foreach (var d in missing)
                if (Directory.Exists(d) && !Directory.EnumerateFileSystemEntries(d).Any()) Directory.Delete(d);
        }
    }

    // Every folder a command checked it may write to: the only places its temporary files can be.
    private static readonly ConcurrentDictionary<string, byte> s_outputFolders = new(StringComparer.Ordinal);

    /// <summary>
    /// Deletes this process's unfinished atomic writes in the folders it writes to. Every Fovea writer (models,
    /// checkpoints, ONNX, pictures, CSV, reports) writes "PATH.tmp-PID-GUID" and renames it over PATH once complete; a
    /// signal that ends the process meanwhile (Ctrl-C outside training, a second Ctrl-C, SIGTERM) left that half-written
    /// file behind. Called on such a signal, just before the process ends; the file at PATH itself is never touched.
    /// </summary>
    public static void DeleteUnfinishedWrites()
    {
        // The probe of FolderTakesFiles too: a signal may land between its creation and its deletion.
        string[] patterns = [$"*.tmp-{Environment.ProcessId}-*", $".fovea-probe-{Environment.ProcessId}-*"];
        foreach (var folder in s_outputFolders.Keys)
        {
            try
            {
                if (!Directory.Exists(folder)) continue;
                foreach (var temp in patterns.SelectMany(p => Directory.EnumerateFiles(folder, p))) File.Delete(temp);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // ending anyway: best effort
        }
    }

    private static bool IsSpecial(string path)
    {
        string full = Path.GetFullPath(path);
        string real = File.Exists(full) ? new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full : full;
        return SpecialTrees.Any(t => full.StartsWith(t, StringComparison.Ordinal) || real.StartsWith(t, StringComparison.Ordinal));
    }

    /// <summary>True when both paths exist and name the same file (symbolic links followed).</summary>
    public static bool SameFile(string full, string other)
    {
        if (!File.Exists(other) || !File.Exists(full)) return false;
        static string Real(string p) => new FileInfo(p).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Path.GetFullPath(p);
        return string.Equals(Real(full), Real(other), StringComparison.Ordinal);
    }
}
