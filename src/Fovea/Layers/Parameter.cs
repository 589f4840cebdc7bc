using Fovea.Tensors;

namespace Fovea.Layers;

/// <summary>
/// A named tensor owned by a layer: a learned weight (trainable unless the layer is frozen) or a
/// buffer such as BatchNorm's running statistics (saved with the model, never trained).
/// </summary>
public sealed class Parameter
{
    internal Parameter(Layer owner, string name, Tensor value, bool isBuffer)
    {
        Owner = owner;
        LocalName = name;
        Value = value;
        IsBuffer = isBuffer;
        Value.RequiresGrad = !isBuffer;
    }

    /// <summary>The layer holding this parameter.</summary>
    public Layer Owner { get; }

    /// <summary>Name within the layer, e.g. "weight".</summary>
    public string LocalName { get; }

    /// <summary>Full name "layer.local", unique within a model (used as the key in model files).</summary>
    public string Name => $"{Owner.Name}.{LocalName}";

    /// <summary>The values; its <see cref="Tensor.Grad"/> receives the gradient during training.</summary>
    public Tensor Value { get; }

    /// <summary>True for state that is saved but not learned by gradient (running statistics).</summary>
    public bool IsBuffer { get; }

    /// <summary>True when the optimizer should update this parameter (a weight of a layer that is not frozen).</summary>
    public bool IsTrainable => !IsBuffer && Owner.Trainable;

    internal void SyncRequiresGrad() => Value.RequiresGrad = IsTrainable;
}
