using Fovea.Layers;

namespace Fovea.Models;

/// <summary>Ready-made networks, selectable by name ("default", "reference", "compact", "vgg-small").</summary>
public static class ModelZoo
{
    /// <summary>Names accepted by <see cref="Create"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["default", "reference", "compact", "vgg-small"];

    /// <summary>Creates a network by name for per-sample inputs [C, H, W] and <paramref name="classes"/> outputs (logits).</summary>
    public static Sequential Create(string name, int[] inputShape, int classes, int seed = 0) => (name ?? throw new ArgumentNullException(nameof(name))).ToLowerInvariant() switch
    {
        "reference" => Reference(inputShape, classes, seed),
        "default" => Default(inputShape, classes, seed),
        "compact" => Compact(inputShape, classes, seed),
        "vgg-small" => VggSmall(inputShape, classes, seed),
        _ => throw new ArgumentException($"Unknown model '{name}'. Expected one of: {string.Join(", ", Names)}."),
    };

    /// <summary>
    /// The reference CNN used by benchmarks and peers: Conv2D(32, 3×3, pad 1) - ReLU - MaxPool 2 - Conv2D(64, 3×3, pad 1) -
    /// ReLU - MaxPool 2 - Flatten - Dense(128) - ReLU - Dense(classes). On [1, 28, 28]: 421,642 parameters.
    /// </summary>
    public static Sequential Reference(int[] inputShape, int classes, int seed = 0) => new Sequential(RequireImages(inputShape, 4, "reference"), "reference", seed)
        .Base(new Conv2D(32, 3, padding: 1), new ReLU(), new MaxPool2D(2),
              new Conv2D(64, 3, padding: 1), new ReLU(), new MaxPool2D(2))
        .Top(new Flatten(), new Dense(128), new ReLU(), new Dense(classes));

    /// <summary>
    /// Fovea's default classifier: the reference layout with BatchNorm after each convolution and dropout in the
    /// classifier, which trains faster and generalises better (see benchmarks/train-default.sh for its accuracy).
    /// </summary>
    public static Sequential Default(int[] inputShape, int classes, int seed = 0) => new Sequential(RequireImages(inputShape, 4, "default"), "default", seed)
        .Base(new Conv2D(32, 3, padding: 1, useBias: false), new BatchNorm2D(), new ReLU(), new MaxPool2D(2),
              new Conv2D(64, 3, padding: 1, useBias: false), new BatchNorm2D(), new ReLU(), new MaxPool2D(2))
        .Top(new Flatten(), new Dropout(0.3f), new Dense(256), new ReLU(), new Dropout(0.3f), new Dense(classes));

    /// <summary>
    /// A classifier for images of any size (at least 8 × 8), such as one's own photos at 64 × 64: four blocks of
    /// Conv2D(3×3, pad 1, no bias) - BatchNorm - ReLU with 32, 64, 128 and 256 filters, max pooling 2 after the first
    /// three, then global average pooling - Dropout(0.3) - Dense(classes). Averaging the last maps makes the parameter
    /// count independent of the image size: 388,896 in the base plus 257 per class for 3-channel input.
    /// </summary>
    public static Sequential Compact(int[] inputShape, int classes, int seed = 0) => new Sequential(RequireImages(inputShape, 8, "compact"), "compact", seed)
        .Base(new Conv2D(32, 3, padding: 1, useBias: false), new BatchNorm2D(), new ReLU(), new MaxPool2D(2),
              new Conv2D(64, 3, padding: 1, useBias: false), new BatchNorm2D(), new ReLU(), new MaxPool2D(2),
              new Conv2D(128, 3, padding: 1, useBias: false), new BatchNorm2D(), new ReLU(), new MaxPool2D(2),
              new Conv2D(256, 3, padding: 1, useBias: false), new BatchNorm2D(), new ReLU())
        .Top(new GlobalAvgPool2D(), new Dropout(0.3f), new Dense(classes));

    /// <summary>
    /// A small VGG-style network for 32 × 32 colour images such as CIFAR-10 (the default of <c>fovea train --dataset cifar10</c>):
    /// three blocks of two Conv2D(3×3, pad 1, no bias) - BatchNorm - ReLU with 32, 64 and 128 filters, each block ending in
    /// max pooling 2, then Flatten - Dropout(0.3) - Dense(256) - ReLU - Dropout(0.3) - Dense(classes). Images of at least
    /// 8 × 8. On [3, 32, 32] with 10 classes: 814,570 parameters and 78.7 million FLOPs per image (forward, as
    /// <c>fovea summary --model vgg-small</c>).
    /// </summary>
    public static Sequential VggSmall(int[] inputShape, int classes, int seed = 0) => new Sequential(RequireImages(inputShape, 8, "vgg-small"), "vgg-small", seed)
        .Base([.. ConvBlock(32), .. ConvBlock(32), new MaxPool2D(2), .. ConvBlock(64), .. ConvBlock(64), new MaxPool2D(2),
               .. ConvBlock(128), .. ConvBlock(128), new MaxPool2D(2)])
        .Top(new Flatten(), new Dropout(0.3f), new Dense(256), new ReLU(), new Dropout(0.3f), new Dense(classes));

    private static Layer[] ConvBlock(int filters) => [new Conv2D(filters, 3, padding: 1, useBias: false), new BatchNorm2D(), new ReLU()];

    /// <summary>Images [C, H, W] large enough for the network's pooling steps; otherwise an error naming the image size.</summary>
    private static int[] RequireImages(int[] inputShape, int minSide, string name)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Length != 3 || inputShape.Any(d => d <= 0))
            throw new ArgumentException($"The '{name}' network takes images [C, H, W]; received input shape {Tensors.Tensor.ShapeToString(inputShape)}.");
        if (inputShape[1] < minSide || inputShape[2] < minSide)
            throw new ArgumentException($"The '{name}' network needs images of at least {minSide} × {minSide} (its pooling halves them); received {inputShape[1]} × {inputShape[2]}.");
        return inputShape;
    }
}
