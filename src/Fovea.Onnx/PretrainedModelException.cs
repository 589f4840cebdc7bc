namespace Fovea.Onnx;

/// <summary>
/// A pretrained model's package could not be made available: the <c>dotnet</c> command needed to restore it could not be
/// started, or the restore failed or timed out. The message says what to install or do.
/// </summary>
public sealed class PretrainedModelException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public PretrainedModelException(string message, Exception? inner = null) : base(message, inner) { }
}
