using System.Buffers;
using System.Globalization;

namespace Fovea.Cli.Commands;

/// <summary>
/// Cells of the CSV files the command line writes (<c>fovea predict --csv</c>): text is quoted by RFC 4180 and kept from
/// being run as a formula by spreadsheet programs (OWASP "CSV injection"); numbers are written as they are.
/// </summary>
internal static class Csv
{
    /// <summary>Characters that make a spreadsheet program read a cell as a formula when they come first: = + - @, their
    /// full-width forms (＝ ＋ － ＠, which some programs also take as formula starters), and tab and carriage return (ones
    /// it may skip before such a character).</summary>
    private static readonly SearchValues<char> FormulaStart = SearchValues.Create("=+-@\t\r\uFF1D\uFF0B\uFF0D\uFF20");

    /// <summary>Characters that a field has to be quoted for (RFC 4180).</summary>
    private static readonly SearchValues<char> NeedsQuotes = SearchValues.Create(",\"\r\n");

    /// <summary>
    /// A text cell (a path, a class name): text beginning with <c>=</c>, <c>+</c>, <c>-</c>, <c>@</c>, their full-width
    /// forms <c>＝</c>, <c>＋</c>, <c>－</c>, <c>＠</c>, a tab or a carriage return, also after leading spaces (which
    /// spreadsheet programs may skip), gets a leading single quote, which they show as text instead of running it as a
    /// formula (<c>-1</c> becomes <c>'-1</c>, <c>  =1</c> becomes <c>'  =1</c>); then a field holding a comma, double
    /// quote or line break is put in double quotes, its double quotes doubled, so it reads back as one cell.
    /// </summary>
    public static string Text(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var afterSpaces = value.AsSpan().TrimStart(' ');
        string cell = afterSpaces.Length > 0 && FormulaStart.Contains(afterSpaces[0]) ? "'" + value : value;
        return cell.AsSpan().IndexOfAny(NeedsQuotes) < 0 ? cell : $"\"{cell.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
    }

    /// <summary>A number cell, as it is: invariant culture, the shortest text that reads back as the same float (a
    /// negative value stays a number, never neutralised like text).</summary>
    public static string Number(float value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>A whole-number cell, invariant culture.</summary>
    public static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}
