namespace Fovea.Data;

/// <summary>
/// Thrown when a dataset's files are in none of the places searched and could not be downloaded.
/// The message says how to get the data and lists every place searched.
/// </summary>
public sealed class DatasetNotFoundException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="datasetName">Dataset looked for, e.g. "fashion-mnist".</param>
    /// <param name="searched">Folders searched, in order, each with why it did not serve.</param>
    /// <param name="message">The full message.</param>
    /// <param name="inner">Last download error, if any.</param>
    public DatasetNotFoundException(string datasetName, IReadOnlyList<string> searched, string message, Exception? inner = null)
        : base(message, inner)
    {
        DatasetName = datasetName;
        Searched = searched;
    }

    /// <summary>Dataset looked for, e.g. "fashion-mnist".</summary>
    public string DatasetName { get; }

    /// <summary>Places searched, in order, each with why it did not serve.</summary>
    public IReadOnlyList<string> Searched { get; }
}
