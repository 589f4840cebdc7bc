using Fovea.Data;
using Fovea.Models;
using Fovea.Training;
using Fovea.Vision;

namespace Fovea.Cli.Commands;

/// <summary>The files <c>fovea train</c> writes next to a saved model.</summary>
internal static class TrainOutputs
{
    /// <summary>Checks, before training, that the model and every file beside it can be written.</summary>
    public static void Check(string modelPath, string? input = null)
    {
        CliFiles.Output(modelPath, "--out", input is null ? [] : [input]);
        CliFiles.Siblings(VisualizeCommand.Stem(modelPath), "--out", Suffixes);
        CliFiles.Siblings(modelPath, "--out", ".checkpoint");
    }

    /// <summary>
    /// Refuses a model path inside a class folder of an image folder the run reads (<paramref name="imageFolders"/>; null
    /// entries skipped): the model could replace one of the images, and the charts written beside it are PNG files that
    /// the next run would take for images of that class. The folder itself (where no class is read) is allowed.
    /// </summary>
    public static void CheckOutsideClassFolders(string modelPath, params string?[] imageFolders)
    {
        foreach (var folder in imageFolders)
        {
            if (folder is null || ClassFolderHolding(Path.GetDirectoryName(Path.GetFullPath(modelPath))!, folder) is not { } classFolder) continue;
            throw new UsageException($"--out {modelPath} is inside the class folder {Path.Combine(folder, classFolder)}: the model could replace one of " +
                $"its images, and the charts saved beside it (PNG) would be read as images of class '{classFolder}'. Choose a path outside {folder}.");
        }
    }

    /// <summary>
    /// The name of the class folder of the image folder <paramref name="imageFolder"/> that <paramref name="folder"/> is
    /// (or lies inside), or null when it is in none: outside the image folder, the image folder itself (where no class is
    /// read), or a hidden folder (no class).
    /// </summary>
    internal static string? ClassFolderHolding(string folder, string imageFolder)
    {
        // Compared where they really are: through a link to the folder (or from it) a lexical comparison saw no class
        // folder, and the charts were written among the images.
        string outFolder = RealPath(folder);
        string realFolder = RealPath(imageFolder);
        string? classFolder = null;
        string relative = Path.GetRelativePath(realFolder, outFolder);
        if (!(relative == "." || relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(relative)))
            classFolder = relative.Split(Path.DirectorySeparatorChar)[0];
        // A class folder may itself be a link to a folder elsewhere.
        else if (Directory.Exists(imageFolder))
            classFolder = Directory.GetDirectories(imageFolder).Select(Path.GetFileName).Where(name => !name!.StartsWith('.')).FirstOrDefault(name =>
                Path.GetRelativePath(RealPath(Path.Combine(imageFolder, name!)), outFolder) is var r && (r == "." || !(r.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(r))));
        return classFolder is null || classFolder.StartsWith('.') ? null : classFolder; // hidden folders are no classes
    }

    /// <summary>The absolute path with every symbolic link along it resolved (the part that does not exist yet kept as written).</summary>
    private static string RealPath(string path)
    {
        string full = Path.GetFullPath(path), current = Path.GetPathRoot(full)!;
        foreach (var part in full[current.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            try
            {
                // The target may lie under other links: resolved in turn (a loop of links throws, and is left as it is).
                if (new DirectoryInfo(current).ResolveLinkTarget(returnFinalTarget: true) is { } target) current = RealPath(target.FullName);
            }
            catch (IOException) { }
        }
        return Path.TrimEndingDirectorySeparator(current);
    }

    private static readonly string[] Suffixes = [".history.csv", ".history.json", ".loss.png", ".accuracy.png", ".confusion.png", ".confusion.json", ".mistakes.png", ".report.html"];

    /// <summary>
    /// Writes &lt;model&gt;.history.csv/.json, the loss and accuracy charts, the confusion matrix of <paramref name="evaluation"/>
    /// and, when <paramref name="reportData"/> is given, the HTML report on its first image. With <paramref name="evaluatedImages"/>
    /// (the images <paramref name="evaluation"/> ran on, when they are images and not cached features) also the gallery of
    /// its worst mistakes, &lt;model&gt;.mistakes.png. Returns the report's path or null.
    /// </summary>
    public static string? Write(Model model, string modelPath, History history, EvaluationResult evaluation, IDataset? reportData,
        string reportDataName = "test", IDataset? evaluatedImages = null)
    {
        string stem = VisualizeCommand.Stem(modelPath);
        AtomicWrite.Text(stem + ".history.csv", history.ToCsv());
        AtomicWrite.Text(stem + ".history.json", history.ToJson());
        VisualizeCommand.WriteHistoryCharts(stem, history.Epochs);
        VisualizeCommand.WriteConfusion(stem, evaluation.Confusion);
        using var mistakes = evaluatedImages is null ? null : MistakeGallery.Render(evaluatedImages, evaluation.Mistakes);
        mistakes?.SavePng(stem + ".mistakes.png");
        return reportData is null ? null : VisualizeCommand.WriteModelReport(model, modelPath, reportData, history.Epochs, evaluation.Confusion, reportDataName, mistakes: mistakes);
    }
}
