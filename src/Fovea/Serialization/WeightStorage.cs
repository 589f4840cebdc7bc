using System.Buffers.Binary;
using Fovea.Models;

namespace Fovea.Serialization;

/// <summary>
/// How a model file stores its large weight tensors (convolution filters and dense matrices: learned tensors of rank 2 or
/// more with at least 1,024 values). Everything else — biases, BatchNorm parameters and statistics, small layers — stays
/// float32, and every weight is float32 again once loaded: the choice changes the file's size, not the engine.
/// </summary>
public enum WeightStorage
{
    /// <summary>Exact: 4 bytes a weight (the default; what training checkpoints always use).</summary>
    Float32,
    /// <summary>IEEE half precision, 2 bytes a weight: about half the file, weights within 1/2048 of their value (relative).</summary>
    Float16,
    /// <summary>
    /// 8-bit integers with one float32 scale per output channel (filter or dense unit: its largest |weight| / 127), about a
    /// quarter of the file; each weight within half a step (scale / 2) of its value.
    /// </summary>
    Int8,
}

/// <summary>Encodes a model's tensors for a <see cref="WeightStorage"/> and decodes them back to float32.</summary>
internal static class WeightEncoding
{
    /// <summary>Suffix of the tensor holding an int8 tensor's per-channel scales: "conv.weight" → "conv.weight.int8_scale".</summary>
    public const string ScaleSuffix = ".int8_scale";

    /// <summary>Metadata key naming the storage of a compact file ("float16" or "int8"); absent for float32.</summary>
    public const string MetadataKey = "weight_storage";

    /// <summary>Whether a tensor is stored compactly: a learned (not buffer) tensor of rank ≥ 2 with at least 1,024 values.</summary>
    public static bool IsCompressible(int[] shape, int length, bool isBuffer) => !isBuffer && shape.Length >= 2 && length >= 1024;

    /// <summary>The entries to write for one tensor under <paramref name="storage"/> (two for int8: values and scales).</summary>
    public static IEnumerable<SafeTensors.Entry> Encode(string name, int[] shape, float[] values, bool compressible, WeightStorage storage)
    {
        if (!compressible || storage == WeightStorage.Float32) { yield return SafeTensors.Float32(name, shape, values); yield break; }
        if (storage == WeightStorage.Float16)
        {
            // Beyond half's range a weight would become infinite: such a tensor stays float32.
            if (values.Any(v => Math.Abs(v) > (float)Half.MaxValue)) { yield return SafeTensors.Float32(name, shape, values); yield break; }
            var bytes = new byte[values.Length * 2];
            for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(i * 2), (Half)values[i]);
            yield return new SafeTensors.Entry(name, shape, "F16", bytes);
            yield break;
        }
        int channels = shape[0], per = values.Length / channels;
        var scales = new float[channels];
        var q = new byte[values.Length];
        for (int c = 0; c < channels; c++)
        {
            var channel = values.AsSpan(c * per, per);
            float maxAbs = 0;
            foreach (float v in channel) maxAbs = Math.Max(maxAbs, Math.Abs(v));
            float scale = maxAbs > 0 ? maxAbs / 127f : 1f;
            scales[c] = scale;
            for (int i = 0; i < per; i++) q[c * per + i] = (byte)(sbyte)Math.Clamp(MathF.Round(channel[i] / scale), -127, 127);
        }
        yield return new SafeTensors.Entry(name, shape, "I8", q);
        yield return SafeTensors.Float32(name + ScaleSuffix, [channels], scales);
    }

    /// <summary>
    /// Turns the int8 tensors of a file back into float32 (value × its channel's scale), removing their scale tensors;
    /// F16 tensors were widened when read. Throws <see cref="FormatException"/> naming <paramref name="path"/> when an
    /// int8 tensor has no scales, or scales of the wrong shape or value.
    /// </summary>
    public static Dictionary<string, (int[] Shape, float[] Values)> Decode(Dictionary<string, (int[] Shape, float[] Values, string DType)> tensors, string path)
    {
        var result = new Dictionary<string, (int[], float[])>();
        foreach (var (name, (shape, values, dtype)) in tensors)
        {
            if (dtype == "F32" && name.EndsWith(ScaleSuffix, StringComparison.Ordinal)
                && tensors.TryGetValue(name[..^ScaleSuffix.Length], out var owner) && owner.DType == "I8")
                continue; // consumed with its int8 tensor
            if (dtype != "I8") { result[name] = (shape, values); continue; }
            if (!tensors.TryGetValue(name + ScaleSuffix, out var s) || s.DType != "F32" || s.Shape is not [var channels] || shape.Length == 0 || channels != shape[0])
                throw new FormatException($"{path}: int8 tensor '{name}' needs its scales, a float32 tensor '{name}{ScaleSuffix}' of shape ({(shape.Length > 0 ? shape[0] : 0)}); the file is damaged or was not written by Fovea.");
            int per = channels == 0 ? 0 : values.Length / channels;
            for (int c = 0; c < channels; c++)
            {
                float scale = s.Values[c];
                if (!float.IsFinite(scale) || scale < 0)
                    throw new FormatException($"{path}: int8 tensor '{name}' has scale {scale} for channel {c}; scales are finite and not negative.");
                for (int i = 0; i < per; i++) values[c * per + i] *= scale;
            }
            result[name] = (shape, values);
        }
        return result;
    }

    /// <summary>The entries of <paramref name="model"/>'s parameters under <paramref name="storage"/>.</summary>
    public static List<SafeTensors.Entry> Encode(Model model, WeightStorage storage) =>
        model.Parameters.SelectMany(p => Encode(p.Name, p.Value.Shape, p.Value.ToArray(), IsCompressible(p.Value.Shape, p.Value.Length, p.IsBuffer), storage)).ToList();
}
