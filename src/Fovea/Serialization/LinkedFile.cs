namespace Fovea.Serialization;

/// <summary>
/// Checks a file made through the file a path finally names, symbolic links followed. .NET describes a link by the link
/// itself: <see cref="File.Exists(string)"/> is true for a link to nothing, and <see cref="FileInfo.Length"/> is the length
/// of the target's name, so a link to a pipe would pass the "0 bytes: a pipe or device" check and then block its open
/// for ever, waiting for a writer.
/// </summary>
internal static class LinkedFile
{
    /// <summary>
    /// The length in bytes of the file <paramref name="path"/> finally names (0 for pipes and devices, as for empty files),
    /// or null when there is none: no such file, a link to nothing, or links that loop.
    /// </summary>
    public static long? Length(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) return null;
        if (info.LinkTarget is null) return info.Length;
        try { return info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo { Exists: true } target ? target.Length : null; }
        catch (IOException) { return null; } // too many levels of links: a loop
    }

    /// <summary>" (a symbolic link to TARGET, which does not exist)" for a link that leads nowhere; "" otherwise.</summary>
    public static string DanglingNote(string path)
    {
        var info = new FileInfo(path);
        return info.Exists && info.LinkTarget is { } target && Length(path) is null
            ? $" (a symbolic link to {target}, which does not exist)"
            : "";
    }
}
