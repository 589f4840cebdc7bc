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
        ["GlobalAvgPool2D"] = (c, n) => new GlobalAvgPool2D(ConfigReader.Bool(c, "keep_dims"), n),
        ["Dense"] = Dense.FromConfig,
        ["Flatten"] = (_, n) => new Flatten(n),
        ["ReLU"] = (_, n) => new ReLU(n),
        ["LeakyReLU"] = (c, n) => new LeakyReLU(ConfigReader.Float(c, "alpha"), n),
        ["Sigmoid"] = (_, n) => new Sigmoid(n),
        ["Tanh"] = (_, n) => new Tanh(n),
        ["Softmax"] = (_, n) => new Softmax(n),
        ["Dropout"] = (c, n) => new Dropout(ConfigReader.Float(c, "rate"), n),
        ["BatchNorm2D"] = (c, n) => new BatchNorm2D(ConfigReader.Float(c, "momentum"), ConfigReader.Float(c, "epsilon"), n),
        ["Add"] = (_, n) => new Add(n),
        ["Clip"] = Clip.FromConfig,
        ["Elu"] = (c, n) => new Elu(ConfigReader.Float(c, "alpha"), n),
        ["AxisSoftmax"] = (c, n) => new AxisSoftmax(ConfigReader.Int(c, "axis"), ConfigReader.Bool(c, "log"), ConfigReader.Bool(c, "flatten_from"), n),
        ["GlobalMaxPool2D"] = (c, n) => new GlobalMaxPool2D(ConfigReader.Bool(c, "keep_dims"), n),
        ["Reshape"] = Reshape.FromConfig,
        ["Transpose"] = (c, n) => new Transpose(ConfigReader.IntArray(c, "permutation"), n),
        ["Concat"] = (c, n) => new Concat(ConfigReader.Int(c, "axis"), n),
        ["Pad"] = Pad.FromConfig,
        ["Arithmetic"] = (c, n) => new Arithmetic(ConfigReader.Enum<Autograd.BinaryOp>(c, "op"), n),
        ["ConstantArithmetic"] = ConstantArithmetic.FromConfig,
        ["ConstantTensor"] = (c, n) => new ConstantTensor(ConfigReader.IntArray(c, "shape"), n),
        ["Exp"] = (_, n) => new Exp(n),
        ["Log"] = (_, n) => new Log(n),
        ["Reduce"] = Reduce.FromConfig,
        ["Where"] = (_, n) => new Where(n),
        ["MatMul"] = (c, n) => new MatMul(ConfigReader.IntArray(c, "weight_shape"), n),
        ["MatMulPair"] = (_, n) => new MatMulPair(n),
        ["MaxPoolIndices2D"] = MaxPoolIndices2D.FromConfig,
        ["InSampleBatchNorm"] = (c, n) => new InSampleBatchNorm(ConfigReader.Float(c, "epsilon"), n),
        ["InSampleBatchMoment"] = (c, n) => new InSampleBatchMoment(ConfigReader.Bool(c, "variance"), n),
    };

    /// <summary>Registers a factory for a custom layer type.</summary>
    public static void Register(string typeName, Func<JsonObject, string, Layer> factory) => s_factories[typeName] = factory;

    /// <summary>Creates a layer of <paramref name="typeName"/> from its configuration; unknown types throw naming the type.</summary>
    public static Layer Create(string typeName, JsonObject config, string name)
    {
        if (!s_factories.TryGetValue(typeName, out var factory))
            throw new FormatException($"Unknown layer type '{typeName}' (layer '{name}'). Known types: {string.Join(", ", s_factories.Keys.Order())}.");
        ArgumentNullException.ThrowIfNull(config);
        // The built-in factories read fields through ConfigReader (FormatException naming the field); a value the layer's
        // constructor refuses (a kernel size of 0) is an ArgumentException. Both mean the configuration is wrong.
        try { return factory(config, name); }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw new FormatException($"Layer '{name}' of type {typeName} has an invalid configuration {config.ToJsonString()}: {e.Message}", e);
        }
    }
}
