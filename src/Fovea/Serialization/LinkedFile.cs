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

    /// <summary>
    /// Why <paramref name="path"/>, not found, may still be listed: " (a symbolic link to TARGET, which does not exist)" for a
    /// link that leads nowhere, a note on its name when that is not UTF-8; "" otherwise.
    /// </summary>
    public static string NotFoundNote(string path)
    {
        var info = new FileInfo(path);
        if (info.Exists && info.LinkTarget is { } target && Length(path) is null)
            return $" (a symbolic link to {target}, which does not exist)";
        // .NET reads a name's bytes as UTF-8 and turns those that are not (a Latin-1 name from an old archive) into U+FFFD,
        // so a file that a folder listing returns cannot be opened by that name: "not found" alone sends the user looking
        // for a file that is there.
        if (!info.Exists && path.Contains('\uFFFD') && Path.GetDirectoryName(Path.GetFullPath(path)) is { } parent && Directory.Exists(parent) &&
            Directory.EnumerateFileSystemEntries(parent).Any(e => e == Path.GetFullPath(path)))
            return " (its name is not valid UTF-8, shown with \uFFFD where the bytes are, so it cannot be opened by name; rename it)";
        return "";
    }
}
