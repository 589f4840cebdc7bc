using Fovea.Autograd;
using Fovea.Layers;
using FoveaNode = Fovea.Models.Node;

namespace Fovea.Onnx;

// Operators imported as a few existing Fovea layers, so their gradients are the already checked ones:
// HardSigmoid, HardSwish (MobileNetV3) and PRelu (learned negative slope).
public static partial class OnnxImporter
{
    private sealed partial class GraphImport
    {
        private void ImportHardSigmoid() => Output(HardSigmoid(In(0), Float("alpha", 0.2f), Float("beta", 0.5f), LayerName()));

        /// <summary>x · HardSigmoid(x) with alpha 1/6 and beta 1/2.</summary>
        private void ImportHardSwish()
        {
            var x = In(0);
            Output(AddLayer(new Arithmetic(BinaryOp.Multiply, LayerName()), x, HardSigmoid(x, 1f / 6, 0.5f, null)));
        }

        /// <summary>max(0, min(1, alpha · x + beta)).</summary>
        private FoveaNode HardSigmoid(FoveaNode x, float alpha, float beta, string? name)
        {
            var scaled = AddScalar(x, BinaryOp.Multiply, alpha);
            return AddLayer(new Layers.Clip(0f, 1f, name), AddScalar(scaled, BinaryOp.Add, beta));
        }

        /// <summary>
        /// max(0, x) + slope · min(0, x), written as ReLU(x) + (−slope) · ReLU(−x). The −slope constant is a learned weight,
        /// so fine-tuning trains the slope as PyTorch's PReLU does.
        /// </summary>
        private void ImportPRelu()
        {
            var x = In(0);
            var slope = Const(1, "slope");
            var shape = slope.Shape;
            // Unidirectional broadcast, right-aligned: leading axes as long as the full rank must be 1 (the batch axis).
            while (shape.Length > x.OutputShape.Length)
            {
                if (shape[0] != 1) throw BatchError($"a slope of shape [{string.Join(", ", slope.Shape)}]");
                shape = shape[1..];
            }
            var positive = AddLayer(new ReLU(), x);
            var negativePart = AddLayer(new ReLU(), AddScalar(x, BinaryOp.Multiply, -1f));
            var weight = new ConstantArithmetic(BinaryOp.Multiply, shape, learnConstant: true);
            var weighted = AddLayer(weight, negativePart);
            var values = weight.Constant.Span;
            for (int i = 0; i < values.Length; i++) values[i] = -(float)slope.Values[i];
            Output(AddLayer(new Arithmetic(BinaryOp.Add, LayerName()), positive, weighted));
        }

        private FoveaNode AddScalar(FoveaNode x, BinaryOp op, float value)
        {
            var layer = new ConstantArithmetic(op, [1]);
            var node = AddLayer(layer, x);
            layer.Constant.Span[0] = value;
            return node;
        }
    }
}
