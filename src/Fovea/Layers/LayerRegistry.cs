using System.Text.Json.Nodes;

namespace Fovea.Layers;

/// <summary>Rebuilds layers from their type name and configuration (model files). Register custom layers here.</summary>
public static class LayerRegistry
{
    private static readonly Dictionary<string, Func<JsonObject, string, Layer>> s_factories = new(StringComparer.Ordinal)
    {
        ["Conv2D"] = Conv2D.FromConfig,
        ["MaxPool2D"] = MaxPool2D.FromConfig,
        ["AvgPool2D"] = AvgPool2D.FromConfig,
        ["GlobalAvgPool2D"] = (c, n) => new GlobalAvgPool2D((bool)c["keep_dims"]!, n),
        ["Dense"] = Dense.FromConfig,
        ["Flatten"] = (_, n) => new Flatten(n),
        ["ReLU"] = (_, n) => new ReLU(n),
        ["LeakyReLU"] = (c, n) => new LeakyReLU((float)c["alpha"]!, n),
        ["Sigmoid"] = (_, n) => new Sigmoid(n),
        ["Tanh"] = (_, n) => new Tanh(n),
        ["Softmax"] = (_, n) => new Softmax(n),
        ["Dropout"] = (c, n) => new Dropout((float)c["rate"]!, n),
        ["BatchNorm2D"] = (c, n) => new BatchNorm2D((float)c["momentum"]!, (float)c["epsilon"]!, n),
        ["Add"] = (_, n) => new Add(n),
        ["Clip"] = Clip.FromConfig,
        ["Elu"] = (c, n) => new Elu((float)c["alpha"]!, n),
        ["AxisSoftmax"] = (c, n) => new AxisSoftmax((int)c["axis"]!, (bool)c["log"]!, (bool)c["flatten_from"]!, n),
        ["GlobalMaxPool2D"] = (c, n) => new GlobalMaxPool2D((bool)c["keep_dims"]!, n),
        ["Reshape"] = Reshape.FromConfig,
        ["Transpose"] = (c, n) => new Transpose(Reshape.IntArray(c["permutation"]), n),
        ["Concat"] = (c, n) => new Concat((int)c["axis"]!, n),
        ["Pad"] = Pad.FromConfig,
        ["Arithmetic"] = (c, n) => new Arithmetic(Enum.Parse<Autograd.BinaryOp>((string)c["op"]!), n),
        ["ConstantArithmetic"] = ConstantArithmetic.FromConfig,
        ["ConstantTensor"] = (c, n) => new ConstantTensor(Reshape.IntArray(c["shape"]), n),
        ["Exp"] = (_, n) => new Exp(n),
        ["Log"] = (_, n) => new Log(n),
        ["Reduce"] = Reduce.FromConfig,
        ["Where"] = (_, n) => new Where(n),
        ["MatMul"] = (c, n) => new MatMul(Reshape.IntArray(c["weight_shape"]), n),
    };

    /// <summary>Registers a factory for a custom layer type.</summary>
    public static void Register(string typeName, Func<JsonObject, string, Layer> factory) => s_factories[typeName] = factory;

    /// <summary>Creates a layer of <paramref name="typeName"/> from its configuration; unknown types throw naming the type.</summary>
    public static Layer Create(string typeName, JsonObject config, string name)
    {
        if (!s_factories.TryGetValue(typeName, out var factory))
            throw new FormatException($"Unknown layer type '{typeName}' (layer '{name}'). Known types: {string.Join(", ", s_factories.Keys.Order())}.");
        try { return factory(config, name); }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException or KeyNotFoundException)
        {
            throw new FormatException($"Layer '{name}' of type {typeName} has an invalid configuration {config.ToJsonString()}: {e.Message}");
        }
    }
}
