using Fovea.Data;
using Fovea.Layers;
using Fovea.Losses;
using Fovea.Models;
using Fovea.Optimizers;
using Fovea.Training;

namespace Fovea.Vision.Tests;

/// <summary>Generated images with one object at a known place, and small networks that learn them.</summary>
internal static class Synthetic
{
    public static readonly string[] ShapeNames = ["square", "cross", "ring"];

    /// <summary>
    /// Seconds a ResNet-18-sized visualisation may take: the 5 on this machine's kernels (AVX-512 or AVX2). CI also
    /// runs the suite on the 128-bit paths (DOTNET_EnableAVX=0: SSE without FMA, several times slower), where it only has
    /// to stay in bounds: 40 s, eight times the target (an Intel Xeon VM took 18 s there, the AMD one under 15).
    /// </summary>
    public static double VisualizationSecondsLimit => System.Runtime.Intrinsics.X86.Avx2.IsSupported ? 5 : 40;

    /// <summary>
    /// n images [channels, size, size]: a noisy dark background with faint random streaks, and one object (filled square,
    /// plus-shaped cross or hollow ring, side ≈ size/4) at a random place, and an equally bright diagonal bar elsewhere. Boxes are (top, left, bottom, right), inclusive.
    /// </summary>
    public static (InMemoryDataset Data, (int Top, int Left, int Bottom, int Right)[] Boxes) Shapes(int n, int size, int channels, int seed) =>
        ShapesWithDistractors(n, size, channels, seed) is var r ? (r.Data, r.Boxes) : default;

    /// <summary>As <see cref="Shapes"/>, also returning the distractors' boxes.</summary>
    public static (InMemoryDataset Data, (int Top, int Left, int Bottom, int Right)[] Boxes, (int Top, int Left, int Bottom, int Right)[] Distractors) ShapesWithDistractors(int n, int size, int channels, int seed)
    {
        var rng = new Random(seed);
        int plane = size * size, side = Math.Max(6, size / 4 | 1);
        var images = new float[n * channels * plane];
        var labels = new int[n];
        var boxes = new (int, int, int, int)[n];
        var distractors = new (int, int, int, int)[n];
        for (int i = 0; i < n; i++)
        {
            int label = i % ShapeNames.Length;
            labels[i] = label;
            var img = images.AsSpan(i * channels * plane, channels * plane);
            var tint = Enumerable.Range(0, channels).Select(_ => 0.6f + 0.4f * rng.NextSingle()).ToArray();
            for (int c = 0; c < channels; c++)
                for (int p = 0; p < plane; p++) img[c * plane + p] = 0.25f * rng.NextSingle();
            for (int s = 0; s < 2; s++) // faint streaks so the background is not trivially flat
            {
                int row = rng.Next(size);
                for (int c = 0; c < channels; c++) for (int x = 0; x < size; x++) img[c * plane + row * size + x] += 0.2f;
            }
            // The object, and a distractor of the same brightness elsewhere (a diagonal bar, in no class), so that
            // "the brightest place" is not the answer: only a network that learned the shapes points at the object.
            int top, left, dTop, dLeft;
            do
            {
                top = rng.Next(0, size - side + 1); left = rng.Next(0, size - side + 1);
                dTop = rng.Next(0, size - side + 1); dLeft = rng.Next(0, size - side + 1);
            } while (Math.Abs(top - dTop) < side + 1 && Math.Abs(left - dLeft) < side + 1);
            boxes[i] = (top, left, top + side - 1, left + side - 1);
            distractors[i] = (dTop, dLeft, dTop + side - 1, dLeft + side - 1);
            int mid = side / 2, bar = Math.Max(1, side / 6);
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++)
                {
                    bool on = label switch
                    {
                        0 => true,
                        1 => Math.Abs(y - mid) <= bar || Math.Abs(x - mid) <= bar,
                        _ => y < 2 || x < 2 || y >= side - 2 || x >= side - 2,
                    };
                    bool distractor = Math.Abs(y - x) <= 1;
                    for (int c = 0; c < channels; c++)
                    {
                        if (on) img[c * plane + (top + y) * size + left + x] = 0.75f + 0.25f * tint[c];
                        if (distractor) img[c * plane + (dTop + y) * size + dLeft + x] = 0.75f + 0.25f * tint[c];
                    }
                }
        }
        return (new InMemoryDataset(images, labels, [channels, size, size], ShapeNames), boxes, distractors);
    }

    public static readonly string[] ColourObjectNames = ["red disk", "green stripes", "blue checker"];

    /// <summary>
    /// n RGB images [3, size, size] in [0, 1] for a pretrained ImageNet network: a noisy grey background (random level, pixel
    /// noise, a few faint horizontal and vertical streaks) and one object of random side (about a quarter to a third of the
    /// image) at a random place: a red disk, a square of green diagonal stripes, or a blue-and-white checkerboard square.
    /// Classes differ in colour and texture; the background is drawn the same way for all of them. Boxes are the object's
    /// bounding box (top, left, bottom, right), inclusive.
    /// </summary>
    public static (InMemoryDataset Data, (int Top, int Left, int Bottom, int Right)[] Boxes) ColourObjects(int n, int size, int seed)
    {
        var rng = new Random(seed);
        int plane = size * size;
        var images = new float[n * 3 * plane];
        var labels = new int[n];
        var boxes = new (int, int, int, int)[n];
        for (int i = 0; i < n; i++)
        {
            int label = i % ColourObjectNames.Length;
            labels[i] = label;
            var img = images.AsSpan(i * 3 * plane, 3 * plane);
            float level = 0.35f + 0.25f * rng.NextSingle();
            for (int c = 0; c < 3; c++)
            {
                float cast = 0.04f * (rng.NextSingle() - 0.5f); // slight colour cast of the grey
                for (int p = 0; p < plane; p++) img[c * plane + p] = level + cast + 0.16f * (rng.NextSingle() - 0.5f);
            }
            for (int s = 0; s < 4; s++)
            {
                bool horizontal = s % 2 == 0;
                int at = rng.Next(size), width = 2 + rng.Next(4);
                float delta = 0.12f * (rng.NextSingle() < 0.5f ? -1 : 1);
                for (int t = 0; t < width && at + t < size; t++)
                    for (int u = 0; u < size; u++)
                    {
                        int p = horizontal ? (at + t) * size + u : u * size + at + t;
                        for (int c = 0; c < 3; c++) img[c * plane + p] += delta;
                    }
            }
            int side = size / 4 + rng.Next(size / 10);
            int top = rng.Next(0, size - side + 1), left = rng.Next(0, size - side + 1);
            boxes[i] = (top, left, top + side - 1, left + side - 1);
            float r2 = side * side / 4f;
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++)
                {
                    (float R, float G, float B)? colour = label switch
                    {
                        0 => (y - side / 2f + 0.5f) * (y - side / 2f + 0.5f) + (x - side / 2f + 0.5f) * (x - side / 2f + 0.5f) <= r2 ? (0.85f, 0.12f, 0.1f) : null,
                        1 => (x + y) / 6 % 2 == 0 ? (0.15f, 0.75f, 0.2f) : (0.02f, 0.2f, 0.05f),
                        _ => (x / 8 + y / 8) % 2 == 0 ? (0.15f, 0.3f, 0.9f) : (0.92f, 0.92f, 0.95f),
                    };
                    if (colour is not { } col) continue;
                    int p = (top + y) * size + left + x;
                    img[p] = col.R; img[plane + p] = col.G; img[2 * plane + p] = col.B;
                }
            for (int k = 0; k < img.Length; k++) img[k] = Math.Clamp(img[k], 0f, 1f);
        }
        return (new InMemoryDataset(images, labels, [3, size, size], ColourObjectNames), boxes);
    }

    /// <summary>A small all-convolutional classifier: two conv blocks, global average pooling, one dense layer.</summary>
    public static Sequential TinyCnn(int channels, int size, int classes) => new Sequential([channels, size, size], "tiny", seed: 1)
        .Base(new Conv2D(16, 3, padding: 1), new ReLU(), new MaxPool2D(2),
              new Conv2D(32, 3, padding: 1), new ReLU())
        .Top(new GlobalAvgPool2D(), new Dense(classes));

    public static History Train(Model model, IDataset data, int epochs, float lr = 0.01f) =>
        new Trainer(model, new Adam(lr), new SoftmaxCrossEntropyLoss()).Fit(data, new FitOptions { Epochs = epochs, BatchSize = 32, Seed = 3 });

    /// <summary>
    /// A residual graph with the ResNet-18 topology: 7×7/2 stem conv, 3×3/2 max pooling, four stages of two basic blocks
    /// (conv-BN-ReLU-conv-BN + shortcut, 1×1/2 conv + BN when the stage downsamples), global average pooling, dense.
    /// <paramref name="widths"/> = (64, 128, 256, 512) gives ResNet-18's 11.7 M parameters.
    /// </summary>
    public static Model ResNet(int inputSize, int classes, int[] widths, int seed = 0)
    {
        var m = new Model([3, inputSize, inputSize], "resnet", seed)
        {
            ClassNames = Enumerable.Range(0, classes).Select(i => i < ShapeNames.Length ? ShapeNames[i] : $"class{i}").ToArray(),
            Normalization = new InputNormalization([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]),
        };
        m.Add(new Conv2D(widths[0], 7, stride: 2, padding: 3, useBias: false, name: "conv1"));
        m.Add(new BatchNorm2D(name: "bn1"));
        m.Add(new ReLU(name: "relu"));
        var x = m.Add(new MaxPool2D(3, 2, padding: 1, name: "maxpool"));
        int inWidth = widths[0];
        for (int stage = 0; stage < 4; stage++)
            for (int block = 0; block < 2; block++)
            {
                int width = widths[stage], stride = stage > 0 && block == 0 ? 2 : 1;
                string p = $"layer{stage + 1}_{block}_";
                m.Add(new Conv2D(width, 3, stride: stride, padding: 1, useBias: false, name: p + "conv1"), x);
                m.Add(new BatchNorm2D(name: p + "bn1"));
                m.Add(new ReLU(name: p + "relu1"));
                m.Add(new Conv2D(width, 3, padding: 1, useBias: false, name: p + "conv2"));
                var main = m.Add(new BatchNorm2D(name: p + "bn2"));
                var shortcut = x;
                if (stride != 1 || inWidth != width)
                {
                    m.Add(new Conv2D(width, 1, stride: stride, useBias: false, name: p + "down_conv"), x);
                    shortcut = m.Add(new BatchNorm2D(name: p + "down_bn"));
                }
                m.Add(new Add(name: p + "add"), main, shortcut);
                x = m.Add(new ReLU(name: p + "relu2"));
                inWidth = width;
            }
        m.AddTop(new GlobalAvgPool2D(name: "avgpool"));
        m.AddTop(new Dense(classes, name: "fc"));
        return m;
    }

    /// <summary>Fraction of images whose Grad-CAM peak (predicted class) lies inside the object's box grown by <paramref name="margin"/> pixels.</summary>
    public static double PeakInsideBox(Model model, InMemoryDataset data, (int Top, int Left, int Bottom, int Right)[] boxes, int margin, out double accuracy, GradCamTarget target = GradCamTarget.LogProbability)
    {
        int hits = 0, correct = 0;
        var image = new Fovea.Tensors.Tensor(data.SampleShape);
        for (int i = 0; i < data.Count; i++)
        {
            data.CopyImage(i, image.Span);
            var cam = GradCam.Compute(model, image, target: target);
            if (cam.ClassIndex == data.GetLabel(i)) correct++;
            var b = boxes[i];
            if (cam.Peak.Y >= b.Top - margin && cam.Peak.Y <= b.Bottom + margin && cam.Peak.X >= b.Left - margin && cam.Peak.X <= b.Right + margin) hits++;
        }
        accuracy = (double)correct / data.Count;
        return (double)hits / data.Count;
    }

    /// <summary>Share of the images whose occlusion peak (the largest fall of log p of the predicted class) lies in the box grown by <paramref name="margin"/>.</summary>
    public static double OcclusionPeakInsideBox(Model model, InMemoryDataset data, (int Top, int Left, int Bottom, int Right)[] boxes, int margin)
    {
        int hits = 0;
        var image = new Fovea.Tensors.Tensor(data.SampleShape);
        for (int i = 0; i < data.Count; i++)
        {
            data.CopyImage(i, image.Span);
            var map = Occlusion.Compute(model, image);
            var b = boxes[i];
            if (map.Peak.Y >= b.Top - margin && map.Peak.Y <= b.Bottom + margin && map.Peak.X >= b.Left - margin && map.Peak.X <= b.Right + margin) hits++;
        }
        return (double)hits / data.Count;
    }

    /// <summary>
    /// Over all images: the mean fraction of the hottest 5% of Grad-CAM pixels that lie in the object box (grown by
    /// <paramref name="margin"/>). Heat spread without regard to the object would put the box's share of the area there.
    /// </summary>
    public static double HottestPixelsInsideBox(Model model, InMemoryDataset data, (int Top, int Left, int Bottom, int Right)[] boxes, int margin, out double boxArea)
    {
        double sum = 0, area = 0;
        var image = new Fovea.Tensors.Tensor(data.SampleShape);
        for (int i = 0; i < data.Count; i++)
        {
            data.CopyImage(i, image.Span);
            var map = GradCam.Compute(model, image).Upsampled;
            int h = map.GetLength(0), w = map.GetLength(1), hot = Math.Max(1, h * w / 20);
            var b = boxes[i];
            bool InBox(int k) => k / w >= b.Top - margin && k / w <= b.Bottom + margin && k % w >= b.Left - margin && k % w <= b.Right + margin;
            sum += Enumerable.Range(0, h * w).OrderByDescending(k => map[k / w, k % w]).Take(hot).Count(InBox) / (double)hot;
            area += Enumerable.Range(0, h * w).Count(InBox) / (double)(h * w);
        }
        boxArea = area / data.Count;
        return sum / data.Count;
    }
}
