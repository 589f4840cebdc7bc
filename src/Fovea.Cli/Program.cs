using Fovea.Cli;
using Fovea.Cli.Commands;

return Cli.Run(args);

namespace Fovea.Cli
{
    /// <summary>Entry point: dispatches to a command and turns every failure into one line on stderr.</summary>
    public static class Cli
    {
        /// <summary>Exit code for user mistakes (bad option, missing file, wrong shape).</summary>
        public const int UsageError = 2;

        /// <summary>Exit code after Ctrl-C (SIGINT), as a shell reports a process the signal ended: 128 + 2.</summary>
        public const int Interrupted = 130;

        /// <summary>Exit code after SIGTERM (kill, docker stop, systemd) stopped training: 128 + 15.</summary>
        public const int Terminated = 143;

        private const string Help = """
            fovea — convolutional neural networks for .NET

            Usage: fovea <command> [arguments] [options]

            Commands:
              train      Train a network and save it: on Fashion-MNIST (default), MNIST or CIFAR-10 (--dataset), or
                         on a folder of your own images, one subfolder per class (--data DIR), from scratch or on
                         pretrained ResNet-18
              eval       Evaluate a saved model on a data set's test split or on an image folder
              predict    Classify PNG/JPEG images, or every image under a folder, with a saved model
              summary    Print a model's layers, output shapes, parameters and FLOPs
              export     Write a model as ONNX
              compress   Write a smaller model file (float16 or int8 weights) and report what it changes
              import     Import an ONNX model (or the pretrained resnet18) as a Fovea model
              visualize  Draw activation maps, filters, Grad-CAM and pooling for one image (PNG, HTML report)
              bench      Time a model's predictions on this machine: latency, images/s, the cost of each layer

            Run 'fovea <command> --help' for a command's options.
            """;

        /// <summary>Runs the command line; returns the process exit code.</summary>
        public static int Run(string[] args)
        {
            try
            {
                if (args.Length == 0 || args[0] is "help" or "--help" or "-h") { Console.WriteLine(Help); return 0; }
                if (args[0] is "--version") { Console.WriteLine(typeof(Cli).Assembly.GetName().Version); return 0; }
                var rest = args.Skip(1).ToArray();
                Commands.Interruption.Install();
                // After "--" every argument is a path (CommandLine.Parse): a file named -h is predicted, not taken for help.
                if (rest.TakeWhile(a => a != "--").Any(a => a is "--help" or "-h"))
                {
                    Console.WriteLine(CommandHelp(args[0]) ?? throw UnknownCommand(args[0]));
                    return 0;
                }
                return args[0] switch
                {
                    "train" => TrainCommand.Run(rest),
                    "eval" => EvalCommand.Run(rest),
                    "predict" => PredictCommand.Run(rest),
                    "summary" => SummaryCommand.Run(rest),
                    "export" => ExportCommand.Run(rest),
                    "compress" => CompressCommand.Run(rest),
                    "import" => ImportCommand.Run(rest),
                    "visualize" => VisualizeCommand.Run(rest),
                    "bench" => BenchCommand.Run(rest),
                    _ => throw UnknownCommand(args[0]),
                };
            }
            catch (Training.TrainingInterruptedException e)
            {
                if (!Console.IsErrorRedirected) Console.Error.WriteLine(); // end the progress bar's line
                Console.Error.WriteLine($"fovea: interrupted at epoch {e.Epoch}, batch {e.Batch}" +
                    (e.CheckpointPath is null ? "" : $"; resume with ./fovea train --resume {Commands.Shell.Quote(e.CheckpointPath)}"));
                return Commands.Interruption.ExitCode;
            }
            catch (Exception e) when (IsUserError(e))
            {
                Commands.StatusLine.EndOpenLine();
                Console.Error.WriteLine($"fovea: error: {OneLine(UserMessage(e))}");
                return UsageError;
            }
            catch (Exception e)
            {
                Commands.StatusLine.EndOpenLine();
                Console.Error.WriteLine($"fovea: internal error ({e.GetType().Name}): {OneLine(e.Message)}");
                if (Environment.GetEnvironmentVariable("FOVEA_DEBUG") == "1") Console.Error.WriteLine(e);
                return 1;
            }
        }

        /// <summary>True for failures caused by the user's input (exit 2); false for bugs (exit 1, "internal error").</summary>
        internal static bool IsUserError(Exception e) => e switch
        {
            // A null argument is always a caller's bug; so is an out-of-range argument raised by the runtime itself (a span
            // slice, a collection index) rather than by a Fovea check, which names the value. Exit 2 would hide them.
            ArgumentNullException => false,
            ArgumentOutOfRangeException when !ThrownByFovea(e) => false,
            _ => e is UsageException or ArgumentException or FileNotFoundException
                or DirectoryNotFoundException or FormatException or UnauthorizedAccessException or IOException
                or Data.DatasetNotFoundException or Onnx.PretrainedModelException or Vision.ImageLoadException or Vision.ImageFolderException or Training.TrainingDivergedException or InvalidDataException,
        };

        private static bool ThrownByFovea(Exception e) =>
            e.TargetSite?.DeclaringType?.Assembly.GetName().Name?.StartsWith("Fovea", StringComparison.Ordinal) == true;

        /// <summary>The message without what .NET appends for programmers: " (Parameter 'x')" and "Actual value was y."</summary>
        internal static string UserMessage(Exception e)
        {
            string message = e.Message;
            if (e is ArgumentOutOfRangeException { ActualValue: { } actual })
                message = message.Replace($"{Environment.NewLine}Actual value was {actual}.", "");
            if (e is ArgumentException { ParamName: { } name })
                message = message.Replace($" (Parameter '{name}')", "");
            return message;
        }

        private static string OneLine(string s) => string.Join(' ', s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

        private static UsageException UnknownCommand(string command) =>
            new($"Unknown command '{command}'. Commands: train, eval, predict, summary, export, compress, import, visualize, bench (fovea --help).");

        private static string? CommandHelp(string command) => command switch
        {
            "train" => TrainCommand.Help,
            "eval" => EvalCommand.Help,
            "bench" => BenchCommand.Help,
            "predict" => PredictCommand.Help,
            "summary" => SummaryCommand.Help,
            "export" => ExportCommand.Help,
            "compress" => CompressCommand.Help,
            "import" => ImportCommand.Help,
            "visualize" => VisualizeCommand.Help,
            _ => null,
        };
    }
}
