namespace Fovea.Tests.Data;

/// <summary>
/// Serves the files of a folder over HTTP on 127.0.0.1 (a free port) under http://127.0.0.1:PORT/&lt;prefix&gt;/, and records
/// the file names asked for: a stand-in for a data set's download site, so the real download code runs in tests.
/// </summary>
internal sealed class LocalFileServer : IDisposable
{
    private readonly System.Net.HttpListener _listener = new();
    private readonly Task _loop;
    public readonly System.Collections.Concurrent.ConcurrentQueue<string> Requests = new();
    public string BaseUrl { get; }

    /// <summary>When set, a response sends half of its file, then waits for this task before sending the rest.</summary>
    public Task? StallHalfwayUntil { get; set; }

    public LocalFileServer(string folder, string prefix)
    {
        // Ask the system for a free port, then listen on it.
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        BaseUrl = $"http://127.0.0.1:{port}/{prefix}/";
        _listener.Prefixes.Add(BaseUrl);
        _listener.Start();
        _loop = Task.Run(async () =>
        {
            while (_listener.IsListening)
            {
                System.Net.HttpListenerContext context;
                try { context = await _listener.GetContextAsync(); }
                catch (Exception e) when (e is System.Net.HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
                string name = context.Request.Url!.Segments[^1];
                Requests.Enqueue(name);
                string file = System.IO.Path.Combine(folder, name);
                if (File.Exists(file))
                {
                    var bytes = await File.ReadAllBytesAsync(file);
                    context.Response.ContentLength64 = bytes.Length;
                    try
                    {
                        if (StallHalfwayUntil is { } stall)
                        {
                            await context.Response.OutputStream.WriteAsync(bytes.AsMemory(0, bytes.Length / 2));
                            await context.Response.OutputStream.FlushAsync();
                            await stall;
                            await context.Response.OutputStream.WriteAsync(bytes.AsMemory(bytes.Length / 2));
                        }
                        else await context.Response.OutputStream.WriteAsync(bytes);
                    }
                    catch (Exception e) when (e is System.Net.HttpListenerException or IOException or ObjectDisposedException) { continue; } // the client left
                }
                else context.Response.StatusCode = 404;
                context.Response.Close();
            }
        });
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}
