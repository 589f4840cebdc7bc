using System.Net;
using System.Security.Cryptography;

namespace Fovea.Data;

/// <summary>
/// The steps every built-in data set loader (<see cref="MnistFamily"/>, <see cref="Cifar10"/>) shares: the places searched
/// and their order, the offline switch, and checksum-verified downloads written atomically into the cache.
/// </summary>
internal static class DatasetSearch
{
    /// <summary>$XDG_CACHE_HOME/fovea/datasets/&lt;name&gt;, else ~/.cache/fovea/datasets/&lt;name&gt; (Windows: %LOCALAPPDATA%\fovea\datasets\&lt;name&gt;).</summary>
    public static string DefaultCacheFolder(string name)
    {
        string? root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(root) || !Path.IsPathRooted(root))
        {
            root = OperatingSystem.IsWindows()
                ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        }
        return Path.Combine(root, "fovea", "datasets", name);
    }

    /// <summary>A folder and, after it, its subfolder named after the data set: both a folder holding the files and a
    /// parent holding one folder per data set are accepted.</summary>
    public static void AddWithSubfolder(List<(string Folder, string Origin)> candidates, string folder, string origin, string name)
    {
        candidates.Add((folder, origin));
        candidates.Add((Path.Combine(folder, name), origin));
    }

    /// <summary>
    /// The places searched when the caller named no folder, in order: FOVEA_DATA (and its &lt;name&gt; subfolder), the system
    /// folder, the cache. <paramref name="cacheFolder"/> is the cache, where a download goes.
    /// </summary>
    public static List<(string Folder, string Origin)> UsualPlaces(string name, string defaultSystemFolder, DatasetLoadOptions options, out string cacheFolder)
    {
        var candidates = new List<(string Folder, string Origin)>();
        string? envFolder = options.EnvironmentFolder ?? Environment.GetEnvironmentVariable("FOVEA_DATA");
        if (!string.IsNullOrEmpty(envFolder)) AddWithSubfolder(candidates, envFolder, "FOVEA_DATA", name);
        string systemFolder = options.SystemFolder ?? defaultSystemFolder;
        if (systemFolder.Length > 0) candidates.Add((systemFolder, "system folder"));
        cacheFolder = options.CacheFolder ?? DefaultCacheFolder(name);
        candidates.Add((cacheFolder, "cache"));
        return candidates;
    }

    /// <summary>True when downloads are off; <paramref name="note"/> then says why, for the not-found message.</summary>
    public static bool IsOffline(DatasetLoadOptions options, out string note)
    {
        bool offline = options.Offline ?? IsOfflineByEnvironment();
        note = !offline ? "" : options.Offline is null ? "download skipped because FOVEA_OFFLINE is set" : "download skipped because offline mode is on";
        return offline;
    }

    private static bool IsOfflineByEnvironment()
    {
        string? v = Environment.GetEnvironmentVariable("FOVEA_OFFLINE");
        return v is not null && (v == "1" || v.Equals("true", StringComparison.OrdinalIgnoreCase) || v.Equals("yes", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The failures a download can end in; anything else is a bug and is not caught.</summary>
    public static bool IsDownloadFailure(Exception ex) =>
        ex is HttpRequestException or IOException or TaskCanceledException or InvalidDataException or UnauthorizedAccessException;

    /// <summary>
    /// Downloads base + <paramref name="fileName"/> from the first of <paramref name="baseUrls"/> that serves it with MD5
    /// <paramref name="md5"/>, into <paramref name="cacheFolder"/> under that name. The file appears whole or not at all: it is
    /// written to a unique temporary name beside the target and renamed once its checksum matches. Returns its path.
    /// </summary>
    /// <exception cref="IOException">No location served the file with the right checksum; the message has the last failure.</exception>
    public static string Download(IReadOnlyList<string> baseUrls, string fileName, string md5, string cacheFolder, DatasetLoadOptions options)
    {
        Directory.CreateDirectory(cacheFolder);
        string target = Path.Combine(cacheFolder, fileName);
        Exception? last = null;
        foreach (string baseUrl in baseUrls)
        {
            string url = baseUrl + fileName;
            // Unique temp name in the same folder, so the final rename is atomic and concurrent loaders do not collide.
            string temp = Path.Combine(cacheFolder, $".{fileName}.{Environment.ProcessId}.{Guid.NewGuid():N}.part");
            UnfinishedDownloads.Begin(temp);
            try
            {
                options.Log?.Invoke($"Downloading {url} ...");
                DownloadToFileAsync(url, temp, options.DownloadTimeout).GetAwaiter().GetResult();
                string actual = FileMd5(temp);
                if (actual != md5)
                    throw new InvalidDataException($"downloaded {url} has MD5 {actual}, expected {md5}");
                File.Move(temp, target, overwrite: true);
                options.Log?.Invoke($"Saved {target}.");
                return target;
            }
            catch (Exception ex) when (IsDownloadFailure(ex))
            {
                last = ex is TaskCanceledException ? new TimeoutException($"no progress from {url} within {options.DownloadTimeout.TotalSeconds:0} s", ex) : ex;
                options.Log?.Invoke($"Download of {url} failed: {last.Message}");
            }
            finally
            {
                try { if (File.Exists(temp)) File.Delete(temp); } catch (IOException) { /* best effort: a stray .part file is harmless */ }
                UnfinishedDownloads.End(temp);
            }
        }
        throw new IOException($"could not download {fileName} from any of {string.Join(", ", baseUrls)}: {last?.Message}", last);
    }

    private static async Task DownloadToFileAsync(string url, string file, TimeSpan timeout)
    {
        using var handler = new SocketsHttpHandler { ConnectTimeout = timeout, AutomaticDecompression = DecompressionMethods.None };
        using var client = new HttpClient(handler) { Timeout = timeout };
        using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
        await using var output = new FileStream(file, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        var buffer = new byte[1 << 16];
        // HttpClient.Timeout stops at the headers; a stall while reading the body is caught by a timer reset on every chunk.
        using var stall = new CancellationTokenSource();
        while (true)
        {
            stall.CancelAfter(timeout);
            int n = await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
            if (n == 0) break;
            await output.WriteAsync(buffer.AsMemory(0, n), stall.Token).ConfigureAwait(false);
        }
        await output.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>MD5 of a file's bytes, lowercase hex.</summary>
    public static string FileMd5(string path)
    {
        using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(MD5.HashData(fs));
    }
}
