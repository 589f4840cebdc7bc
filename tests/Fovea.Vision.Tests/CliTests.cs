using Fovea.Models;
using Fovea.Serialization;
using Fovea.Tensors;

namespace Fovea.Vision.Tests;

public class CliTests
{
    [Fact]
    public void Visualize_explains_a_class_whose_name_holds_a_comma()
    {
        // Folder names become class names and may hold commas; --class split "cats, large" into "cats" and "large".
        string dir = Directory.CreateTempSubdirectory("fovea-cli-comma-").FullName;
        try
        {
            var model = ModelZoo.Default([1, 28, 28], 3);
            model.ClassNames = ["cats, large", "dogs", "cats"];
            string modelPath = Path.Combine(dir, "m.fovea"), imagePath = Path.Combine(dir, "x.png");
            ModelFile.Save(model, modelPath);
            ImageLoader.SavePng(new Tensor(1, 28, 28), imagePath);
            foreach (var (classes, expected) in new[]
            {
                ("cats, large", new[] { "cats__large" }), ("cats, large,dogs", ["cats__large", "dogs"]), ("cats,1", ["cats", "dogs"]),
            })
            {
                string outDir = Path.Combine(dir, "out" + expected.Length + classes.Length);
                Assert.Equal(0, Fovea.Cli.Cli.Run(["visualize", modelPath, imagePath, "--out", outDir, "--class", classes]));
                var cams = Directory.GetFiles(outDir, "*-gradcam-*.png").Select(f => Path.GetFileNameWithoutExtension(f).Split("-gradcam-")[1]).ToList();
                foreach (var name in expected) Assert.Contains(name, cams);
            }
            Assert.Equal(2, Fovea.Cli.Cli.Run(["visualize", modelPath, imagePath, "--out", Path.Combine(dir, "bad"), "--class", "cats, larg"]));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Visualize_writes_pictures_and_report_and_reports_mistakes_in_one_line()
    {
        string dir = Path.Combine(Path.GetTempPath(), "fovea-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var model = ModelZoo.Default([1, 28, 28], 3);
            model.ClassNames = ["zero", "one", "two"];
            string modelPath = Path.Combine(dir, "m.fovea");
            ModelFile.Save(model, modelPath);
            var img = new Tensor(1, 28, 28);
            for (int y = 5; y < 20; y++) img[0, y, 12] = 1;
            string imagePath = Path.Combine(dir, "x.png");
            ImageLoader.SavePng(img, imagePath);
            string outDir = Path.Combine(dir, "out");

            Assert.Equal(0, Fovea.Cli.Cli.Run(["visualize", modelPath, imagePath, "--out", outDir, "--class", "two", "--report", "--json"]));
            var files = Directory.GetFiles(outDir).Select(Path.GetFileName).ToList();
            Assert.Contains("report.html", files);
            Assert.Contains(files, f => f!.EndsWith("-gradcam-two.png"));
            Assert.Contains(files, f => f!.EndsWith("-pooling.png"));
            Assert.Contains(files, f => f!.EndsWith("-input.png"));
            Assert.Contains(files, f => f!.Contains("-occlusion-"));
            // input, predictions, 4 activation grids, filters, weights, occlusion, pooling, and 1 or 2 Grad-CAMs (2 unless "two" is predicted)
            Assert.InRange(files.Count(f => f!.EndsWith(".png")), 11, 12);

            Assert.Equal(2, Fovea.Cli.Cli.Run(["visualize", modelPath, imagePath]));                                    // no --out
            Assert.Equal(2, Fovea.Cli.Cli.Run(["visualize", modelPath, imagePath, "--out", outDir, "--layer", "nope"]));
            Assert.Equal(2, Fovea.Cli.Cli.Run(["visualize", modelPath, imagePath, "--out", outDir, "--class", "seven"]));
            Assert.Equal(2, Fovea.Cli.Cli.Run(["visualize", modelPath, Path.Combine(dir, "missing.png"), "--out", outDir]));
            // A refused command leaves no folder behind.
            string fresh = Path.Combine(dir, "fresh");
            Assert.Equal(2, Fovea.Cli.Cli.Run(["visualize", modelPath, Path.Combine(dir, "missing.png"), "--out", fresh]));
            Assert.Equal(2, Fovea.Cli.Cli.Run(["visualize", Path.Combine(dir, "missing.fovea"), imagePath, "--out", fresh]));
            Assert.Equal(2, Fovea.Cli.Cli.Run(["visualize", modelPath, imagePath, "--out", fresh, "--layer", "nope"]));     // found while drawing
            Assert.False(Directory.Exists(fresh));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
