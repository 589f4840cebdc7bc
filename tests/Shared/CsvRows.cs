using System.Text;

namespace Fovea.TestSupport;

/// <summary>Reads back the CSV that Fovea writes, to check it cell by cell. Shared by every test project (linked from tests/Shared).</summary>
internal static class CsvRows
{
    /// <summary>Fields of one RFC 4180 row: quoted fields may hold commas, doubled quotes and line breaks.</summary>
    /// <exception cref="InvalidDataException">A quoted field is not closed.</exception>
    public static List<string> Parse(string row)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < row.Length; i++)
        {
            char ch = row[i];
            if (quoted && ch == '"' && i + 1 < row.Length && row[i + 1] == '"') { field.Append('"'); i++; }
            else if (ch == '"') quoted = !quoted;
            else if (ch == ',' && !quoted) { fields.Add(field.ToString()); field.Clear(); }
            else field.Append(ch);
        }
        if (quoted) throw new InvalidDataException($"Unterminated quoted field in CSV row: {row}");
        fields.Add(field.ToString());
        return fields;
    }
}
