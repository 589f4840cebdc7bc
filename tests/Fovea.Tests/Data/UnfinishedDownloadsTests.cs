using System.Security.Cryptography;
using Fovea.Data;
using Xunit;

namespace Fovea.Tests.Data;

public class UnfinishedDownloadsTests
{
    [Fact]
    public async Task Delete_removes_the_part_file_of_a_download_in_progress()
    {
        using var site = new TempFolder();
        using var cache = new TempFolder();
        var bytes = new byte[1 << 20];
        new Random(3).NextBytes(bytes);
        File.WriteAllBytes(Path.Combine(site.Path, "big.bin"), bytes);
        string md5 = Convert.ToHexStringLower(MD5.HashData(bytes));
        var release = new TaskCompletionSource();
        using var server = new LocalFileServer(site.Path, "data") { StallHalfwayUntil = release.Task };
        var options = new DatasetLoadOptions { Offline = false, EnvironmentFolder = "", SystemFolder = "", CacheFolder = cache.Path, DownloadTimeout = TimeSpan.FromSeconds(20) };

        var download = Task.Run(() => DatasetSearch.Download([server.BaseUrl], "big.bin", md5, cache.Path, options));
        string? part = null;
        for (int i = 0; i < 400 && part is null; i++)
        {
            part = Directory.EnumerateFiles(cache.Path, ".big.bin.*.part").FirstOrDefault(f => new FileInfo(f).Length > 0);
            if (part is null) await Task.Delay(25);
        }
        Assert.NotNull(part);
        Assert.Contains(part, UnfinishedDownloads.InProgress);

        UnfinishedDownloads.Delete();   // what the command line does on the signal that ends it

        Assert.False(File.Exists(part), $"{part} outlived UnfinishedDownloads.Delete()");
        release.SetResult();
        try { await download.WaitAsync(TimeSpan.FromSeconds(20)); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // the download lost its file
        Assert.DoesNotContain(part, UnfinishedDownloads.InProgress);
        Assert.False(File.Exists(Path.Combine(cache.Path, "big.bin")) && !File.ReadAllBytes(Path.Combine(cache.Path, "big.bin")).AsSpan().SequenceEqual(bytes),
            "a file in the cache must be whole or absent");
    }
}
