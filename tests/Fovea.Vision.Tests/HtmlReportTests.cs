using System.Diagnostics;
using System.Text.RegularExpressions;
using Fovea.Models;
using Fovea.Tensors;
using Fovea.Training;

namespace Fovea.Vision.Tests;

public class HtmlReportTests
{
    // Injected only into the copy the browser opens: records load errors of any element and, after the load event,
    // whether every <img> decoded (complete and naturalWidth > 0), as JSON in <pre id="fovea-check">.
    private const string Checker = """
        <script>
        window.__errors = [];
        window.addEventListener('error', function (e) { window.__errors.push(String(e.message || (e.target && e.target.src ? 'failed to load ' + e.target.src.slice(0, 60) : 'error'))); }, true);
        window.addEventListener('load', function () {
          var imgs = Array.prototype.slice.call(document.images);
          var pre = document.createElement('pre'); pre.id = 'fovea-check';
          pre.textContent = JSON.stringify({ images: imgs.length, loaded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length, errors: window.__errors });
          document.body.appendChild(pre);
        });
        </script>
        """;

    [Fact]
    public void Report_renders_in_headless_chromium_without_errors_and_with_every_image()
    {
        var model = ModelZoo.Default([1, 28, 28], 10);
        model.ClassNames = Enumerable.Range(0, 10).Select(i => $"class <{i}> & co").ToArray(); // must be escaped
        var image = new Tensor(1, 28, 28);
        for (int y = 6; y < 22; y++) for (int x = 10; x < 18; x++) image[0, y, x] = 1;
        using var vis = NetworkVisualizer.Visualize(model, image, new VisualizationOptions { ExtraClasses = [1] });
        var epochs = new List<EpochMetrics> { new(1, 0.8, 0.7, 0.7, 0.75, 0.01f, 1, 1), new(2, 0.5, 0.8, 0.55, 0.79, 0.01f, 1, 1) };
        var confusion = new ConfusionMatrix(10, model.ClassNames);
        for (int i = 0; i < 10; i++) { confusion.Add(i, i); confusion.Add(i, (i + 1) % 10); }
        using var loss = Charts.Loss(epochs);
        using var acc = Charts.Accuracy(epochs);
        using var cm = Charts.ConfusionMatrix(confusion);
        var report = new HtmlReport("Test report <b>")
            .AddSummary(vis.Summary)
            .AddPictures("Training curves", null, [loss, acc])
            .AddHistoryTable(epochs)
            .AddPictures("Confusion matrix", null, [cm])
            .AddVisualization(vis, "image.png");
        string html = report.ToHtml();
        Assert.DoesNotContain("class <0>", html);
        Assert.DoesNotContain("<script", html); // the report itself needs no scripts
        Assert.DoesNotContain("src=\"http", html); // nothing external: viewable offline
        int expected = Regex.Matches(html, "<img ").Count;
        Assert.Equal(report.ImageCount, expected);
        Assert.Equal(vis.All.Count() + 3, expected);

        AssertRendersInChromium(report, expected);
    }

    /// <summary>Opens <paramref name="report"/> in headless Chromium: it must load with every one of its <paramref name="expected"/>
    /// images decoded, no load error and no console message.</summary>
    internal static void AssertRendersInChromium(HtmlReport report, int expected)
    {
        string dir = Path.Combine(Path.GetTempPath(), "fovea-html-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            report.Save(Path.Combine(dir, "report.html"));
            AssertRendersInChromium(Path.Combine(dir, "report.html"), expected);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>Opens the HTML file at <paramref name="reportPath"/> (left unchanged) in headless Chromium, as above.</summary>
    internal static void AssertRendersInChromium(string reportPath, int expected)
    {
        string dir = Path.Combine(Path.GetTempPath(), "fovea-html-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "check.html"), File.ReadAllText(reportPath).Replace("<head>", "<head>" + Checker));
            var (dom, log) = RunChromium(Path.Combine(dir, "check.html"), Path.Combine(dir, "profile"));
            var m = Regex.Match(dom, "<pre id=\"fovea-check\">(.*?)</pre>", RegexOptions.Singleline);
            Assert.True(m.Success, "the page did not finish loading in Chromium:\n" + dom[..Math.Min(dom.Length, 400)] + "\n" + log);
            string check = System.Net.WebUtility.HtmlDecode(m.Groups[1].Value);
            Assert.Equal($"{{\"images\":{expected},\"loaded\":{expected},\"errors\":[]}}", check);
            var consoleLines = log.Split('\n').Where(l => l.Contains(":CONSOLE", StringComparison.Ordinal)).ToList();
            Assert.True(consoleLines.Count == 0, "console messages:\n" + string.Join("\n", consoleLines));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static (string Dom, string Log) RunChromium(string htmlPath, string profile)
    {
        string? exe = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }.FirstOrDefault(File.Exists);
        Assert.True(exe is not null, "Chromium is needed to check the HTML report: apt-get install -y chromium (CI's .ci/run installs it).");
        var psi = new ProcessStartInfo(exe!)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-extensions", $"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                     "--virtual-time-budget=10000", "--dump-dom", new Uri(htmlPath).AbsoluteUri })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string dom = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(60_000)) { p.Kill(entireProcessTree: true); Assert.Fail("Chromium did not finish within 60 s."); }
        return (dom, stderr.Result);
    }
}
