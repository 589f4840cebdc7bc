using Fovea.TestSupport;
using Fovea.Cli.Commands;

namespace Fovea.Tests.Cli;

/// <summary>The cells of the CSV that fovea predict --csv writes: quoted by RFC 4180, formulas neutralised, numbers as they are.</summary>
public class CsvTests
{
    [Theory]
    [InlineData("=HYPERLINK(\"http://example.com\",\"click\")", "\"'=HYPERLINK(\"\"http://example.com\"\",\"\"click\"\")\"")]
    [InlineData("-1", "'-1")]
    [InlineData("+41 22", "'+41 22")]
    [InlineData("@SUM(A1:A9)", "'@SUM(A1:A9)")]
    [InlineData("\t=1+1", "'\t=1+1")]
    [InlineData("\r=1+1", "\"'\r=1+1\"")]
    [InlineData("=1+1,2", "\"'=1+1,2\"")]
    [InlineData("\uFF1D1+1", "'\uFF1D1+1")]             // full-width = + - @, which some spreadsheet programs also run
    [InlineData("\uFF0B41 22", "'\uFF0B41 22")]
    [InlineData("\uFF0D1", "'\uFF0D1")]
    [InlineData("\uFF20SUM(A1:A9)", "'\uFF20SUM(A1:A9)")]
    [InlineData(" =1+1", "' =1+1")]                      // spaces before a formula character, which they may skip
    [InlineData("   -1", "'   -1")]
    [InlineData("  \uFF1D1+1", "'  \uFF1D1+1")]
    [InlineData("  \t=1+1", "'  \t=1+1")]
    [InlineData("  @x,y", "\"'  @x,y\"")]
    public void Text_that_a_spreadsheet_would_run_gets_a_leading_quote_and_stays_one_cell(string text, string cell)
    {
        Assert.Equal(cell, Csv.Text(text));
        // One cell between two others, read back as the neutralised text.
        Assert.Equal(["a", "'" + text, "b"], CsvRows.Parse($"a,{Csv.Text(text)},b"));
    }

    [Theory]
    [InlineData("cat")]
    [InlineData("")]
    [InlineData("t-shirt")]
    [InlineData("a=b")]
    [InlineData("/photos/cat 1.png")]
    [InlineData("photos/x@2x.png")]
    [InlineData("'quoted already")]
    [InlineData("   ")]
    [InlineData("  cat")]
    [InlineData("a\uFF1Db")]
    public void Ordinary_text_is_unchanged(string text) => Assert.Equal(text, Csv.Text(text));

    [Theory]
    [InlineData("square, filled", "\"square, filled\"")]
    [InlineData("say \"x\"", "\"say \"\"x\"\"\"")]
    [InlineData("two\nlines", "\"two\nlines\"")]
    public void Commas_quotes_and_line_breaks_are_quoted_as_before(string text, string cell)
    {
        Assert.Equal(cell, Csv.Text(text));
        Assert.Equal(["a", text, "b"], CsvRows.Parse($"a,{cell},b"));
    }

    [Fact]
    public void Numbers_stay_plain_numbers()
    {
        Assert.Equal("-1", Csv.Number(-1));
        Assert.Equal("-3.25", Csv.Number(-3.25f));
        Assert.Equal("1E-05", Csv.Number(1e-5f));
        Assert.Equal("0.5", Csv.Number(0.5f));
    }

    [Fact]
    public void Predict_csv_neutralises_paths_and_class_names_but_not_values()
    {
        string[] names = ["=HYPERLINK(\"http://example.com\",\"click\")", "-1", "cat"];
        var predictions = new List<PredictCommand.Prediction>
        {
            new("=cmd|' /C calc'!A0.png", [0, 1], [0.75f, 0.25f]),
            new("photos/cat.png", [2, 1], [0.5f, 0.5f]),
        };
        var rows = PredictCommand.ToCsv(predictions, 2, classScores: true, names).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("image,class,probability,class_1,probability_1,class_2,probability_2", rows[0]);
        Assert.Equal(["'=cmd|' /C calc'!A0.png", "'" + names[0], "0.75", "'" + names[0], "0.75", "'-1", "0.25"], CsvRows.Parse(rows[1]));
        Assert.Equal("photos/cat.png,cat,0.5,cat,0.5,'-1,0.5", rows[2]);

        // Raw outputs (no class scores): the output index and negative values are numbers, written as they are.
        var raw = PredictCommand.ToCsv([new("-x.png", [3, 0], [-0.5f, -2f])], 2, classScores: false, []).Split('\n');
        Assert.Equal("image,output,value,output_1,value_1,output_2,value_2", raw[0]);
        Assert.Equal("'-x.png,3,-0.5,3,-0.5,0,-2", raw[1]);
    }
}
