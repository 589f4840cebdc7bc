using Fovea.Tensors;

namespace Fovea.Onnx;

// Every Reshape the exporter writes keeps the batch and gives each sample a fixed shape.
public static partial class OnnxExporter
{
    private sealed partial class Writer
    {
        /// <summary>
        /// Writes x reshaped to [N, ...<paramref name="sample"/>] as node and value <paramref name="name"/>. The usual target
        /// is [0, ...sample]: with ONNX's default allowzero = 0 the leading 0 copies the batch size. A 0 in the sample would
        /// copy an input dimension too, so an empty sample needs allowzero = 1 (opset 14+) and the batch size read from
        /// Shape(x) instead, as for a ConstantTensor.
        /// </summary>
        private void ReshapeSamples(string x, long[] sample, string name)
        {
            if (!sample.Contains(0))
            {
                Add("Reshape", [x, InitLongs(name + ".shape", [0, .. sample])], name, name);
                return;
            }
            if (opset < 14)
                throw new ArgumentException($"a reshape to samples {Tensor.ShapeToString(sample.Select(d => (int)d).ToArray())}, which have a 0 dimension, needs Reshape's allowzero: opset 14 or later.");
            Add("Shape", [x], name + "_input_shape", name + "_input_shape");
            Add("Gather", [name + "_input_shape", InitLongs(name + ".batch_axis", [0])], name + "_batch", name + "_batch", IntAttr("axis", 0));
            Add("Concat", [name + "_batch", InitLongs(name + ".sample_shape", sample)], name + "_target_shape", name + "_target_shape", IntAttr("axis", 0));
            Add("Reshape", [x, name + "_target_shape"], name, name, IntAttr("allowzero", 1));
        }
    }
}
