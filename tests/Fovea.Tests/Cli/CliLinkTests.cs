using Fovea.Layers;
using Fovea.Models;
using Fovea.Serialization;
using Fovea.Vision;

namespace Fovea.Tests.Cli;

/// <summary>
/// Inputs given through symbolic links: .NET describes a link by itself (it "exists" when it leads nowhere, and its length
/// is that of its target's name), so the checks made before opening a file must follow it.
/// </summary>
public class CliLinkTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-cli-links-").FullName;
    private readonly string _model;

    public CliLinkTests()
    {
        _model = Path.Combine(_dir, "small.fovea");
        var model = new Sequential([1, 8, 8]).Top(new Flatten(), new Dense(3));
        model.ClassNames = ["a", "b", "c"];
        ModelFile.Save(model, _model);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_link_to_a_pipe_is_refused_instead_of_waiting_for_a_writer()
    {
        string fifo = Path.Combine(_dir, "pipe");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo])) mkfifo.WaitForExit();
        Assert.True(File.Exists(fifo), "mkfifo did not create the pipe");
        string image = Path.Combine(_dir, "image.png"), model = Path.Combine(_dir, "model.fovea"), onnx = Path.Combine(_dir, "model.onnx");
        foreach (var link in new[] { image, model, onnx, Path.Combine(_dir, "idx") }) File.CreateSymbolicLink(link, fifo);
        // Opening a pipe blocks until someone writes: with the check broken these calls would never return.
        void Refused(Action call, string what)
        {
            var run = Task.Run(call);
            Assert.True(run.Wait(TimeSpan.FromSeconds(60)), $"{what}: still waiting on the pipe after 60 s");
        }
        Refused(() => CliTests.AssertUsageError(CliTests.Fovea("summary", model), "model.fovea is empty (0 bytes) or not a regular file"), "summary");
        Refused(() => CliTests.AssertUsageError(CliTests.Fovea("predict", _model, image), "image.png is empty (0 bytes) or not a regular file"), "predict");
        // A folder of images holding such a link: the listing finds it, the header check refuses it.
        string folder = Directory.CreateDirectory(Path.Combine(_dir, "photos")).FullName;
        File.CreateSymbolicLink(Path.Combine(folder, "x.png"), fifo);
        Refused(() => CliTests.AssertUsageError(CliTests.Fovea("predict", _model, folder), "x.png is empty (0 bytes) or not a regular file"), "predict FOLDER");
        Refused(() => Assert.Contains("not a regular file", Assert.Throws<ImageLoadException>(() => ImageLoader.Load(image, 1, 8, 8)).Message), "ImageLoader");
        Refused(() => Assert.Contains("not a regular file", Assert.Throws<FormatException>(() => ModelFile.Load(model)).Message), "ModelFile");
        Refused(() => Assert.Contains("not a regular file", Assert.Throws<InvalidDataException>(() => Fovea.Data.IdxReader.OpenDecompressed(Path.Combine(_dir, "idx"))).Message), "IdxReader");
        Refused(() => Assert.Contains("not a regular file", Assert.Throws<Fovea.Onnx.OnnxImportException>(() => Fovea.Onnx.OnnxImporter.Import(onnx)).Message), "OnnxImporter");
    }

    [Fact]
    public void A_link_to_nothing_is_named_as_missing()
    {
        string image = Path.Combine(_dir, "gone.png"), model = Path.Combine(_dir, "gone.fovea");
        File.CreateSymbolicLink(image, "deleted.png");
        File.CreateSymbolicLink(model, "deleted.fovea");
        CliTests.AssertUsageError(CliTests.Fovea("predict", _model, image), $"Image file not found: {image} (a symbolic link to deleted.png, which does not exist)");
        CliTests.AssertUsageError(CliTests.Fovea("summary", model), $"Model file not found: {model} (a symbolic link to deleted.fovea, which does not exist)");
        Assert.Contains("a symbolic link to deleted.png, which does not exist",
            Assert.Throws<ImageLoadException>(() => ImageLoader.ReadSize(image)).Message);
        Assert.Contains("a symbolic link to deleted.fovea, which does not exist", Assert.Throws<FileNotFoundException>(() => ModelFile.Load(model)).Message);
    }

    [Fact]
    public void A_link_to_a_real_file_still_works()
    {
        string link = Path.Combine(_dir, "linked.fovea");
        File.CreateSymbolicLink(link, _model);
        var r = CliTests.Fovea("summary", link);
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal(3, ModelFile.Load(link).ClassNames.Count);
    }
}
