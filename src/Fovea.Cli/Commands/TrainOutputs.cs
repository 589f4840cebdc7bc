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
