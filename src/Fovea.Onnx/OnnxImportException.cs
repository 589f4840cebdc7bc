namespace Fovea.Onnx;

/// <summary>An ONNX file that cannot be read or imported: malformed, truncated, or using what Fovea does not support.</summary>
public class OnnxImportException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public OnnxImportException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// The graph mixes values across its first (batch) axis, which a Fovea model keeps as the independent-sample axis.
/// Importing with <see cref="OnnxImportOptions.FirstAxisIsBatch"/> = false treats the whole input as one sample instead.
/// </summary>
public sealed class OnnxBatchAxisException : OnnxImportException
{
    /// <summary>Creates the exception.</summary>
    public OnnxBatchAxisException(string message) : base(message) { }
}

/// <summary>
/// A tensor's own data is bad (raw_data length, element type, a bound that is not a scalar). Thrown where only the
/// tensor is known; the importer adds the file and the node before it reaches the caller.
/// </summary>
internal sealed class OnnxTensorException(string message) : OnnxImportException(message);
