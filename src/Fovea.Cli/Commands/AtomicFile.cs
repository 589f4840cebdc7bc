namespace Fovea.Cli.Commands;

/// <summary>Writes a file through a temporary sibling and a rename, so a crash never leaves it half-written.</summary>
internal static class AtomicFile
{
    public static void WriteAllText(string path, string contents)
    {
        string temp = path + $".tmp-{Environment.ProcessId}";
        File.WriteAllText(temp, contents);
        File.Move(temp, path, overwrite: true);
    }
}
