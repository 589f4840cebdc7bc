namespace Fovea.Kernels;

/// <summary>
/// The unified L2 cache of the CPU the process runs on: sets and ways, read once from Linux's sysfs
/// (/sys/devices/system/cpu/cpu0/cache). Elsewhere, or when unreadable, a common geometry is assumed:
/// 1 MiB, 16 ways of 64-byte lines (1024 sets).
/// </summary>
internal static class CacheGeometry
{
    private static readonly (int Sets, int Ways) s_level2 = ReadLevel2();

    /// <summary>Sets of the L2 cache (a power of two on every CPU seen; 2048 on the Intel VM, 1024 assumed).</summary>
    public static int Level2Sets => s_level2.Sets;

    /// <summary>Ways of the L2 cache (16 on the Intel VM and assumed).</summary>
    public static int Level2Ways => s_level2.Ways;

    private static (int, int) ReadLevel2()
    {
        (int, int) assumed = (1024, 16);
        try
        {
            const string Root = "/sys/devices/system/cpu/cpu0/cache";
            if (!Directory.Exists(Root)) return assumed;
            foreach (string index in Directory.GetDirectories(Root, "index*"))
            {
                if (Read(index, "level") != "2" || Read(index, "type") == "Instruction") continue;
                if (int.TryParse(Read(index, "number_of_sets"), out int sets) && int.TryParse(Read(index, "ways_of_associativity"), out int ways)
                    && sets > 0 && (sets & (sets - 1)) == 0 && ways > 0)
                    return (sets, ways);
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return assumed;
    }

    private static string? Read(string directory, string name)
    {
        string path = Path.Combine(directory, name);
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }
}
