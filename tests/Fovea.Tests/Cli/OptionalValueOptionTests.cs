using Fovea.Cli;

namespace Fovea.Tests.Cli;

/// <summary>Options whose value may be left out, such as train's --fine-tune [LAYER].</summary>
public class OptionalValueOptionTests
{
    private static CommandLine Parse(params string[] args) => CommandLine.Parse("train", args, ["data"], ["json"], ["fine-tune"]);

    [Fact]
    public void The_value_is_the_next_argument_unless_that_is_an_option()
    {
        Assert.Null(Parse("--fine-tune").Get("fine-tune"));
        Assert.True(Parse("--fine-tune").Has("fine-tune"));
        Assert.Null(Parse("--fine-tune", "--data", "photos").Get("fine-tune"));
        Assert.Equal("photos", Parse("--fine-tune", "--data", "photos").Get("data"));
        Assert.Equal("ReLU347", Parse("--data", "photos", "--fine-tune", "ReLU347", "--json").Get("fine-tune"));
        Assert.Equal("ReLU347", Parse("--fine-tune=ReLU347").Get("fine-tune"));
        Assert.False(Parse("--data", "photos").Has("fine-tune"));
    }

    [Fact]
    public void An_empty_inline_value_a_repeat_and_a_misspelling_are_refused()
    {
        Assert.Contains("--fine-tune= needs a value", Assert.Throws<UsageException>(() => Parse("--fine-tune=")).Message);
        Assert.Contains("--fine-tune is given twice", Assert.Throws<UsageException>(() => Parse("--fine-tune", "--fine-tune", "x")).Message);
        Assert.Contains("--fine-tune,", Assert.Throws<UsageException>(() => Parse("--finetune")).Message);
    }
}
