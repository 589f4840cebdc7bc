using System.Text.Json.Nodes;
using Fovea.Data;
using Fovea.Training;

namespace Fovea.Cli.Commands;

/// <summary>
/// The checkpoint side of one <c>fovea train</c>: &lt;out&gt;.checkpoint is written after every epoch and on Ctrl-C, and
/// deleted once the model and the files beside it are saved, so the file exists exactly while a run is unfinished.
/// <c>--resume PATH</c> reruns the command line stored in the checkpoint (paths made absolute), to which only
/// <see cref="s_perInvocation"/> options may be added, and continues the run from the checkpoint. Fine-tuning
/// (--fine-tune) keeps its own checkpoint beside it, &lt;out&gt;.fine-tune.checkpoint, as it trains another network (the
/// base's tail with the classifier); the run's checkpoint then holds the trained classifier, and a resumed run
/// continues the fine-tuning where it stopped.
/// </summary>
internal sealed class TrainSession
{
    private const string ArgsKey = "fovea.train.args";
    private const string RunCheckpointKey = "fovea.train.run-checkpoint";   // in the fine-tuning's checkpoint: the run's
    // Options that change how a run is shown or how fast it goes, not what it computes (--threads changes the last bits of
    // the sums only; without it a resumed run takes the thread count stored in the checkpoint, to continue bit for bit).
    private static readonly string[] s_perInvocation = ["resume", "threads", "json", "report"];
    private static readonly string[] s_pathOptions = ["data", "out", "test-data", "base"];

    private readonly CommandLine _commandLine;
    private readonly string? _resumePath;
    private string? _storedArgs;

    private TrainSession(CommandLine commandLine, TrainingCheckpoint? resume, string? resumePath)
    {
        _commandLine = commandLine; Resume = resume; _resumePath = resumePath;
    }

    /// <summary>The checkpoint continued, or null for a new run.</summary>
    public TrainingCheckpoint? Resume { get; }
    /// <summary>Where this run keeps its checkpoint (set by <see cref="Prepare"/>).</summary>
    public string? CheckpointPath { get; private set; }
    /// <summary>Where fine-tuning keeps its checkpoint, beside the run's (set by <see cref="Prepare"/>).</summary>
    public string? FineTuneCheckpointPath { get; private set; }

    /// <summary>Parses the command line; with --resume, the run's own command line plus the per-invocation options given now.</summary>
    public static (CommandLine, TrainSession) Open(string[] args, Func<IReadOnlyList<string>, CommandLine> parse)
    {
        var cl = parse(args);
        if (!cl.Has("resume")) return (cl, new TrainSession(cl, null, null));
        string path = CliFiles.Input(cl.Get("resume")!, "--resume checkpoint");
        var checkpoint = TrainingCheckpoint.Load(path);
        var stored = StoredArgs(checkpoint, path);
        var storedCl = parse(stored);
        var conflicts = new List<string>();
        foreach (var (name, value) in cl.Given)
        {
            if (s_perInvocation.Contains(name)) continue;
            if (!storedCl.Has(name)) conflicts.Add($"--{name}{(value is null ? "" : " " + value)} (the run did not set it)");
            else if (value is not null && Normalize(name, value) != storedCl.Get(name)) conflicts.Add($"--{name} {value} (the run has {storedCl.Get(name)})");
        }
        if (conflicts.Count > 0)
            throw new UsageException($"--resume continues the run in {path} with the settings it was started with; these options conflict with them: " +
                $"{string.Join(", ", conflicts)}. Only --threads, --json and --report may be added.");
        var merged = new List<string>(stored);
        foreach (var name in s_perInvocation.Where(n => n != "resume" && cl.Has(n)))
            merged.Add(cl.Get(name) is { } value ? $"--{name}={value}" : $"--{name}");
        if (!cl.Has("threads")) merged.AddRange(["--threads", checkpoint.Threads.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        var resumed = parse(merged);
        return (resumed, new TrainSession(resumed, checkpoint, path));
    }

    private static string[] StoredArgs(TrainingCheckpoint checkpoint, string path)
    {
        if (checkpoint.Metadata.TryGetValue(RunCheckpointKey, out var run))
            throw new UsageException($"{path} holds the fine-tuning of the run in {run}; continue it with ./fovea train --resume {Shell.Quote(run)}.");
        if (!checkpoint.Metadata.TryGetValue(ArgsKey, out var json))
            throw new UsageException($"{path} was not written by fovea train (it holds no command line); resume it with the library's Trainer.Fit(data, options, checkpoint).");
        try { return JsonNode.Parse(json)!.AsArray().Select(a => a!.GetValue<string>()).ToArray(); }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new FormatException($"{path}: the stored command line is damaged ({e.Message}).");
        }
    }

    /// <summary>Paths as absolute ones, so the run resumes from any folder; --base keeps its names resnet18 and none.</summary>
    private static string Normalize(string option, string value) =>
        !s_pathOptions.Contains(option) || (option == "base" && value.ToLowerInvariant() is "resnet18" or "none") ? value : Path.GetFullPath(value);

    /// <summary>
    /// Chooses the checkpoint path for a model saved to <paramref name="outPath"/> and records the command line to store.
    /// A new run refuses to start over the checkpoint of an unfinished one, which it would replace.
    /// </summary>
    public void Prepare(string outPath)
    {
        CheckpointPath = _resumePath ?? outPath + ".checkpoint";
        // A resumed run rewrites the checkpoint where it is, which need not be beside --out (it may have been moved):
        // proved writable now, not after an epoch of training (and its folder is then one whose unfinished saves a
        // terminating signal cleans up).
        if (_resumePath is not null)
            CliFiles.FolderTakesFiles(Path.GetDirectoryName(Path.GetFullPath(_resumePath))!, $"--resume {_resumePath} (rewritten after every epoch)");
        if (Resume is null && File.Exists(CheckpointPath))
        {
            string state;
            try
            {
                var old = TrainingCheckpoint.Load(CheckpointPath);
                state = $"an unfinished run ({old.EpochsCompleted} of {old.Settings.Epochs} epochs done)";
            }
            catch (Exception e) when (e is FormatException or IOException) { state = "a training checkpoint"; }
            throw new UsageException($"{CheckpointPath} holds {state}; continue it with ./fovea train --resume {Shell.Quote(CheckpointPath)}, or delete that file to start afresh.");
        }
        FineTuneCheckpointPath = (CheckpointPath.EndsWith(".checkpoint", StringComparison.Ordinal) ? CheckpointPath[..^".checkpoint".Length] : CheckpointPath) +
            ".fine-tune.checkpoint";
        // Left over from a run whose own checkpoint is gone: it cannot be resumed, and this run would replace it.
        if (Resume is null && File.Exists(FineTuneCheckpointPath))
            throw new UsageException($"{FineTuneCheckpointPath} holds the fine-tuning of an unfinished run whose checkpoint {CheckpointPath} is gone; delete it to start afresh.");
        // As --name=value, which the parser reads back whatever the value looks like.
        var stored = new JsonArray();
        foreach (var (name, value) in _commandLine.Given)
            if (name != "out" && !s_perInvocation.Contains(name))
                stored.Add(value is null ? $"--{name}" : $"--{name}={Normalize(name, value)}");
        stored.Add($"--out={Path.GetFullPath(outPath)}");
        _storedArgs = stored.ToJsonString();
    }

    /// <summary>Fits with this run's checkpoint (resuming when asked to); Ctrl-C or SIGTERM stops it after the current batch.</summary>
    public History Fit(Trainer trainer, IDataset train, FitOptions options)
    {
        if (CheckpointPath is null || _storedArgs is null) throw new InvalidOperationException("Prepare the session before training.");
        options = options with { CheckpointPath = CheckpointPath, CheckpointMetadata = new Dictionary<string, string> { [ArgsKey] = _storedArgs } };
        Interruption.BeginGraceful();
        if (Resume is null) return trainer.Fit(train, options, Interruption.Token);
        try { return trainer.Fit(train, options, Resume, Interruption.Token); }
        catch (ArgumentException e) when (_commandLine.Get("data") is { } data && ImageFolderTraining.IsImageFolder(data))
        {
            // The command line is the run's own, so the network differs only through the images (its class names and input
            // normalisation come from them; the number of images is a setting): say so, rather than the library's advice
            // to resume with another model.
            const string advice = " Resume with the model the checkpoint was made from.";
            string test = _commandLine.Get("test-data") is { } testDir ? $" (or {testDir})" : "";
            throw new UsageException($"{e.Message.Replace(advice, "", StringComparison.Ordinal).TrimEnd('.')}: the images in {data}{test} are not those the run began with; " +
                $"put them back as they were, or delete {_resumePath} to start afresh.");
        }
    }

    /// <summary>
    /// The fine-tuning's options with its checkpoint, and, when this run resumes and the fine-tuning had written one, that
    /// checkpoint to continue (else null: a resumed run interrupted before fine-tuning began starts it).
    /// </summary>
    public (FitOptions Options, TrainingCheckpoint? Resume) ForFineTuning(FitOptions options)
    {
        if (FineTuneCheckpointPath is null || CheckpointPath is null) throw new InvalidOperationException("Prepare the session before training.");
        options = options with
        {
            CheckpointPath = FineTuneCheckpointPath,
            CheckpointMetadata = new Dictionary<string, string> { [RunCheckpointKey] = Path.GetFullPath(CheckpointPath) },
        };
        return (options, Resume is not null && File.Exists(FineTuneCheckpointPath) ? TrainingCheckpoint.Load(FineTuneCheckpointPath) : null);
    }

    /// <summary>One line for the console when resuming, else null.</summary>
    public string? Describe() => Resume is null ? null : $"Resuming {_resumePath}: {Progress(Resume)}";

    /// <summary>"3 of 10 epochs done, and 40 batches of epoch 4".</summary>
    public static string Progress(TrainingCheckpoint checkpoint) =>
        $"{checkpoint.EpochsCompleted} of {checkpoint.Settings.Epochs} epochs done" +
        (checkpoint.BatchesIntoEpoch > 0 ? $", and {checkpoint.BatchesIntoEpoch} batches of epoch {checkpoint.EpochsCompleted + 1}" : "");

    /// <summary>
    /// After the model and its files are saved: deletes the checkpoint; returns the exit code, 130 (SIGINT) or 143 (SIGTERM)
    /// when the signal came after the last batch (the run was completed and saved first).
    /// </summary>
    public int Finish()
    {
        // The fine-tuning's first: a run's checkpoint is what --resume names, so it goes last.
        if (FineTuneCheckpointPath is not null && File.Exists(FineTuneCheckpointPath)) File.Delete(FineTuneCheckpointPath);
        if (CheckpointPath is not null && File.Exists(CheckpointPath)) File.Delete(CheckpointPath);
        if (!Interruption.EndGraceful()) return 0;
        Console.Error.WriteLine("fovea: interrupted after the last batch; the model and the files beside it were saved first.");
        return Interruption.ExitCode;
    }
}

/// <summary>Paths as the user would type them into a POSIX shell.</summary>
internal static class Shell
{
    public static string Quote(string path) =>
        path.Length > 0 && path.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-' or '+' or ',' or ':' or '=' or '@')
            ? path : "'" + path.Replace("'", "'\\''") + "'";
}
