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
        string outFolder = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        foreach (var folder in imageFolders)
        {
            if (folder is null) continue;
            string relative = Path.GetRelativePath(Path.GetFullPath(folder), outFolder);
            if (relative == "." || relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(relative))
                continue;
            string classFolder = relative.Split(Path.DirectorySeparatorChar)[0];
            if (classFolder.StartsWith('.')) continue; // hidden folders are no classes
            throw new UsageException($"--out {modelPath} is inside the class folder {Path.Combine(folder, classFolder)}: the model could replace one of " +
                $"its images, and the charts saved beside it (PNG) would be read as images of class '{classFolder}'. Choose a path outside {folder}.");
        }
    }

    private static readonly string[] Suffixes = [".history.csv", ".history.json", ".loss.png", ".accuracy.png", ".confusion.png", ".confusion.json", ".report.html"];

    /// <summary>
    /// Writes &lt;model&gt;.history.csv/.json, the loss and accuracy charts, the confusion matrix of <paramref name="evaluation"/>
    /// and, when <paramref name="reportData"/> is given, the HTML report on its first image. Returns the report's path or null.
    /// </summary>
    public static string? Write(Model model, string modelPath, History history, EvaluationResult evaluation, IDataset? reportData,
        string reportDataName = "test")
    {
        string stem = VisualizeCommand.Stem(modelPath);
        AtomicWrite.Text(stem + ".history.csv", history.ToCsv());
        AtomicWrite.Text(stem + ".history.json", history.ToJson());
        VisualizeCommand.WriteHistoryCharts(stem, history.Epochs);
        VisualizeCommand.WriteConfusion(stem, evaluation.Confusion);
        return reportData is null ? null : VisualizeCommand.WriteModelReport(model, modelPath, reportData, history.Epochs, evaluation.Confusion, reportDataName);
    }
}
