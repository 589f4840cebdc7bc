using System.Globalization;

namespace Fovea.Cli;

/// <summary>A mistake in how the command was called; printed as one line, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Parsed arguments of one command: positionals, "--name value" options and "--flag" switches.
/// Every option a command reads must be declared, so a misspelt option is reported instead of ignored.
/// </summary>
public sealed class CommandLine
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    private CommandLine(string command, List<string> positionals) { Command = command; Positionals = positionals; }

    /// <summary>The command word.</summary>
    public string Command { get; }
    /// <summary>Arguments that are not options.</summary>
    public List<string> Positionals { get; }

    /// <summary>
    /// Splits args after the command word; <paramref name="flags"/> are options without a value, <paramref name="optionalValues"/>
    /// options whose value may be left out ("--name", "--name value" when the next argument is not an option, "--name=value").
    /// </summary>
    public static CommandLine Parse(string command, IReadOnlyList<string> args, IReadOnlyCollection<string> valueOptions, IReadOnlyCollection<string> flags,
        IReadOnlyCollection<string>? optionalValues = null)
    {
        optionalValues ??= [];
        var cl = new CommandLine(command, new List<string>());
        bool optionsEnded = false;
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a == "--" && !optionsEnded) { optionsEnded = true; continue; } // the usual end of options: the rest are paths
            if (optionsEnded || !a.StartsWith("--", StringComparison.Ordinal)) { cl.Positionals.Add(a); continue; }
            string name = a[2..];
            string? inline = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { inline = name[(eq + 1)..]; name = name[..eq]; }
            if (cl._options.ContainsKey(name) && (flags.Contains(name) || valueOptions.Contains(name) || optionalValues.Contains(name)))
                throw new UsageException($"Option --{name} is given twice; give it once.");
            if (optionalValues.Contains(name))
            {
                if (inline is { Length: 0 }) throw new UsageException($"Option --{name}= needs a value after '='; or give --{name} alone.");
                cl._options[name] = inline ?? (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null);
            }
            else if (flags.Contains(name))
            {
                if (inline is not null) throw new UsageException($"Option --{name} takes no value (received '{inline}').");
                cl._options[name] = null;
            }
            else if (valueOptions.Contains(name))
            {
                string? value = inline ?? (i + 1 < args.Count ? args[++i] : null);
                if (value is null) throw new UsageException($"Option --{name} needs a value.");
                // "--csv --json" lost its value: taking the next option as one would write a file named "--json".
                if (inline is null && value.StartsWith("--", StringComparison.Ordinal))
                    throw new UsageException($"Option --{name} needs a value; received the option '{value}' instead " +
                        $"(a value that begins with '--' is given as --{name}={value}).");
                cl._options[name] = value;
            }
            else
            {
                var known = valueOptions.Concat(flags).Concat(optionalValues).Order().Select(o => "--" + o);
                throw new UsageException($"Unknown option '{a}' for 'fovea {command}'. Known options: {string.Join(", ", known)}.");
            }
        }
        return cl;
    }

    /// <summary>Every option given, by name without "--"; flags have a null value.</summary>
    public IReadOnlyDictionary<string, string?> Given => _options;

    /// <summary>True when a flag (or option) was given.</summary>
    public bool Has(string name) => _options.ContainsKey(name);

    /// <summary>String option or default.</summary>
    public string? Get(string name, string? fallback = null) => _options.TryGetValue(name, out var v) ? v : fallback;

    /// <summary>Integer option within [min, max], or default; bad values throw naming the option and the value.</summary>
    public int GetInt(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        if (!_options.TryGetValue(name, out var v)) return fallback;
        if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int x))
            throw new UsageException(IsWholeNumberText(v)
                ? $"Option --{name} must be between {min} and {max}; received {v}."
                : $"Option --{name} expects a whole number; received '{v}'.");
        if (x < min || x > max) throw new UsageException($"Option --{name} must be between {min} and {max}; received {x}.");
        return x;
    }

    // Digits too many for an int: out of range rather than not a number.
    private static bool IsWholeNumberText(string? v) => v?.TrimStart('-', '+') is { Length: > 0 } digits && digits.All(char.IsAsciiDigit);

    /// <summary>Number option within [min, max], or default.</summary>
    public double GetDouble(string name, double fallback, double min = double.MinValue, double max = double.MaxValue)
    {
        if (!_options.TryGetValue(name, out var v)) return fallback;
        if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) || !double.IsFinite(x))
            throw new UsageException($"Option --{name} expects a number; received '{v}'.");
        if (x < min || x > max) throw new UsageException($"Option --{name} must be between {min} and {max}; received {x}.");
        return x;
    }

    /// <summary>Exactly <paramref name="count"/> positionals (or at least, when <paramref name="orMore"/>).</summary>
    public void RequirePositionals(int count, string usage, bool orMore = false)
    {
        // The usage line names the common options; the help names them all.
        usage += $" (fovea {usage.Split(' ')[0]} --help lists every option)";
        if (!orMore && Positionals.Count > count)
        {
            // Name what was not expected: a bare usage line leaves the user guessing which word was wrong.
            var extra = Positionals.Skip(count).Select(p => $"'{p}'");
            throw new UsageException($"Unexpected argument{(Positionals.Count - count > 1 ? "s" : "")} {string.Join(", ", extra)}. Usage: fovea {usage}");
        }
        if (Positionals.Count < count)
            throw new UsageException($"Expected {(orMore ? "at least " : "")}{count} argument{(count > 1 ? "s" : "")}, received {Positionals.Count}. Usage: fovea {usage}");
    }
}
