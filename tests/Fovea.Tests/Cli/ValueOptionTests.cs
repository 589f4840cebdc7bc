using Fovea.Cli;

namespace Fovea.Tests.Cli;

/// <summary>Options that take a value (--out FILE, --csv FILE, --top K): a value left out is not taken from the next option.</summary>
public class ValueOptionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-value-option-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CommandLine Parse(params string[] args) => CommandLine.Parse("predict", args, ["csv", "top"], ["json"]);

    [Fact]
    public void The_next_option_is_not_taken_as_the_value()
    {
        var e = Assert.Throws<UsageException>(() => Parse("model.fovea", "a.png", "--csv", "--json"));
        Assert.Contains("Option --csv needs a value; received the option '--json' instead", e.Message);
        Assert.Contains("--csv=--json", e.Message); // how to give such a value on purpose
        // The end-of-options marker is no value either.
        Assert.Contains("Option --csv needs a value", Assert.Throws<UsageException>(() => Parse("m", "--csv", "--", "a.png")).Message);
    }

    [Fact]
    public void Values_that_only_look_like_options_are_kept()
    {
        Assert.Equal("--json", Parse("--csv=--json").Get("csv"));   // given inline on purpose
        Assert.Equal("-x.csv", Parse("--csv", "-x.csv").Get("csv")); // one dash: a value (and negative numbers are values)
        Assert.Equal("-1", Parse("--top", "-1").Get("top"));
        Assert.Equal("out.csv", Parse("--csv", "out.csv", "--json").Get("csv"));
        Assert.True(Parse("--csv", "out.csv", "--json").Has("json"));
    }

    [Fact]
    public void Export_with_out_followed_by_an_option_writes_no_file_named_after_it()
    {
        string model = Path.Combine(_dir, "m.fovea");
        global::Fovea.Serialization.ModelFile.Save(
            new global::Fovea.Models.Sequential([1, 4, 4], "tiny").Top(new global::Fovea.Layers.Flatten(), new global::Fovea.Layers.Dense(2)), model);
        var r = CliProcess.Run((Dictionary<string, string?>?)null, _dir, "export", model, "--out", "--opset", "13");
        CliProcess.AssertUsageError(r, "Option --out needs a value; received the option '--opset' instead");
        Assert.Equal([model], Directory.GetFiles(_dir));
    }
}
