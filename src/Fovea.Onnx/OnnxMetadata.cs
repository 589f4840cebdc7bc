namespace Fovea.Onnx;

/// <summary>
/// The metadata_props keys Fovea writes on export and reads back on import. Files from other tools have none, and are
/// imported from their graph alone.
/// </summary>
public static class OnnxMetadata
{
    /// <summary>Class names, a JSON array of strings.</summary>
    public const string ClassNames = "class_names";

    /// <summary>
    /// The input normalisation: JSON {"nodes": [sub, div], "mean": [...], "std": [...]}. On import the two named nodes
    /// become <c>Model.Normalization</c> again instead of layers.
    /// </summary>
    public const string Normalization = "fovea_normalization";

    /// <summary>Names of the ONNX nodes written for top-stage (classifier) layers, a JSON array; the others are base.</summary>
    public const string TopNodes = "fovea_top_nodes";

    /// <summary>
    /// Names of the ONNX nodes written for frozen layers (<c>Layer.Freeze()</c>), a JSON array; on import their layers are
    /// frozen again, so a pretrained base stays fixed when the imported model is trained further.
    /// </summary>
    public const string FrozenNodes = "fovea_frozen_nodes";

    internal const string NormalizationSub = "normalization_sub", NormalizationDiv = "normalization_div";
}
