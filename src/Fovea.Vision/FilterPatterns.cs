using Fovea.Autograd;
using Fovea.Layers;
using Fovea.Models;
using Fovea.Tensors;
using SkiaSharp;

namespace Fovea.Vision;

/// <summary>
/// Options of <see cref="FilterPatterns.Compute"/>. Defaults: the first 16 channels, 128 steps of 0.05, a light blur every
/// 8 steps, jitter of a sixteenth of the image, decay 0.01, seed 1, 16 patterns per batch.
/// </summary>
public sealed record FilterPatternOptions
{
    /// <summary>Channels (or units of a dense layer) to visualise; null: the first <see cref="MaxChannels"/>.</summary>
    public IReadOnlyList<int>? Channels { get; init; }
    /// <summary>How many channels when <see cref="Channels"/> is null. Default 16.</summary>
    public int MaxChannels { get; init; } = 16;
    /// <summary>Gradient-ascent steps. Default 128; 0 returns the starting images.</summary>
    public int Steps { get; init; } = 128;
    /// <summary>
    /// Size of one step in input units (the [0, 1] pixel range the model takes before its own normalisation): each step
    /// moves the image by this times its gradient divided by the gradient's root mean square. Default 0.05.
    /// </summary>
    public float StepSize { get; init; } = 0.05f;
    /// <summary>Seed of the starting noise. Default 1.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>
    /// Blur the images (3×3 binomial) every this many steps, which keeps them from filling with pixel-level noise that
    /// excites a channel without showing a pattern. 0: never. Default 8.
    /// </summary>
    public int BlurEvery { get; init; } = 8;
    /// <summary>
    /// Each step looks at the images shifted by a random offset of up to this many pixels (wrapping around), so a pattern
    /// must excite the channel wherever it sits rather than through one pixel grid. null: a sixteenth of the shorter side,
    /// at least 1.
    /// </summary>
    public int? Jitter { get; init; }
    /// <summary>Each step pulls every pixel this fraction of the way back to grey (0.5): an L2 penalty that keeps only what
    /// the channel needs. Default 0.01.</summary>
    public float Decay { get; init; } = 0.01f;
    /// <summary>Patterns computed together in one batch (memory against speed). Default 16.</summary>
    public int BatchSize { get; init; } = 16;
}

/// <summary>One channel's pattern: the input that drove its mean activation up.</summary>
/// <param name="Channel">Channel (or unit) of the layer.</param>
/// <param name="Label">"channel 3", or the class name when the layer gives the model's class scores.</param>
/// <param name="Image">The input [C, H, W] flattened, values in [0, 1] as the model takes them before its normalisation.</param>
/// <param name="StartActivation">Mean activation of the channel on the starting image (grey with faint noise).</param>
/// <param name="Activation">Mean activation of the channel on <see cref="Image"/>.</param>
public sealed record FilterPattern(int Channel, string Label, float[] Image, float StartActivation, float Activation);

/// <summary>The patterns of one layer.</summary>
/// <param name="LayerName">The layer whose channels were maximised.</param>
/// <param name="LayerType">Its type name (Conv2D, BatchNorm2D, Dense, ...).</param>
/// <param name="InputShape">The model's input [C, H, W]: the shape of each <see cref="FilterPattern.Image"/>.</param>
/// <param name="Patterns">One per channel, in the order asked.</param>
/// <param name="Steps">Gradient-ascent steps taken.</param>
/// <param name="ClassScores">True when the layer gives the model's class scores: each pattern is what the network takes for a class.</param>
public sealed record FilterPatternResult(string LayerName, string LayerType, int[] InputShape, IReadOnlyList<FilterPattern> Patterns, int Steps, bool ClassScores = false);

/// <summary>
/// What a channel responds to, found by activation maximisation (Erhan et al., 2009; Simonyan et al., 2013): start from a
/// grey image with faint noise and climb the gradient of the channel's mean activation with respect to the input, keeping
/// pixels in [0, 1]. First layers give oriented edges and colours, deeper ones textures and parts; a dense output unit
/// gives the image that most says "this class" to the network. The model runs in inference mode and its weights are not
/// changed; like Grad-CAM it must not be trained on another thread meanwhile.
/// </summary>
public static class FilterPatterns
{
    /// <summary>
    /// Patterns of <paramref name="layerName"/>'s channels: a layer with output [C, h, w] (mean over the map) or [C] / [C, 1, 1]
    /// (a dense layer's units). Throws ArgumentException naming the layer or value when the layer or an option does not fit.
    /// </summary>
    public static FilterPatternResult Compute(Model model, string layerName, FilterPatternOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(layerName);
        options ??= new FilterPatternOptions();
        Validate(options);
        var target = model.GetNode(layerName);
        if (target.Index == 0) throw new ArgumentException("Layer 'input' has no channels to maximise: name a layer of the model.");
        if (target.Index > model.Output.Index)
            throw new ArgumentException($"Layer '{target.Name}' comes after the model output '{model.Output.Name}'.");
        int[] shape = target.OutputShape;
        if (shape.Length is not (1 or 3))
            throw new ArgumentException($"Filter patterns need a layer with [C, H, W] or [C] output; '{target.Name}' gives {Drawing.Shape(shape)}.");
        int units = shape[0];
        var channels = options.Channels?.ToArray() ?? Enumerable.Range(0, Math.Min(options.MaxChannels, units)).ToArray();
        foreach (int c in channels)
            if ((uint)c >= (uint)units) throw new ArgumentException($"Channel {c} is out of range: layer '{target.Name}' has {units} channels (0..{units - 1}).");
        if (model.InputShape.Length != 3) throw new ArgumentException($"Filter patterns need an image input [C, H, W]; model '{model.Name}' takes {Drawing.Shape(model.InputShape)}.");

        int blurEvery = options.BlurEvery;
        // The units of the class-score layer are named after their classes.
        bool classScores = target == NetworkVisualizer.ScoreNode(model) && NetworkVisualizer.HasClassScores(model);
        Func<int, string> labels = c => classScores ? GradCam.ClassName(model, c) : $"channel {c}";
        var needed = NodesNeeded(model, target);
        // Weights keep RequiresGrad = false during the passes so backward computes no weight gradients.
        var parameters = model.Nodes.Where(n => needed[n.Index] && n.Layer is not null).SelectMany(n => n.Layer!.Parameters)
            .Select(p => p.Value).Where(t => t.RequiresGrad).ToList();
        foreach (var p in parameters) p.RequiresGrad = false;
        try
        {
            var random = new Random(options.Seed);
            var patterns = new List<FilterPattern>(channels.Length);
            for (int first = 0; first < channels.Length; first += options.BatchSize)
            {
                var batch = channels.AsSpan(first, Math.Min(options.BatchSize, channels.Length - first)).ToArray();
                patterns.AddRange(Climb(model, target, needed, batch, options, blurEvery, random, labels));
            }
            return new FilterPatternResult(target.Name, target.Layer!.TypeName, model.InputShape.ToArray(), patterns, options.Steps, classScores);
        }
        finally
        {
            foreach (var p in parameters) p.RequiresGrad = true;
        }
    }

    private static void Validate(FilterPatternOptions o)
    {
        if (o.MaxChannels < 1) throw new ArgumentException($"MaxChannels must be at least 1; received {o.MaxChannels}.");
        if (o.Steps < 0) throw new ArgumentException($"Steps must be 0 or more; received {o.Steps}.");
        if (!(o.StepSize > 0) || !float.IsFinite(o.StepSize)) throw new ArgumentException($"StepSize must be a positive finite number; received {o.StepSize}.");
        if (o.BlurEvery < 0) throw new ArgumentException($"BlurEvery must be 0 (never) or more; received {o.BlurEvery}.");
        if (o.Jitter < 0) throw new ArgumentException($"Jitter must be 0 (none) or more pixels; received {o.Jitter}.");
        if (!(o.Decay >= 0 && o.Decay < 1)) throw new ArgumentException($"Decay must be in [0, 1); received {o.Decay}.");
        if (o.BatchSize < 1) throw new ArgumentException($"BatchSize must be at least 1; received {o.BatchSize}.");
        if (o.Channels is { Count: 0 }) throw new ArgumentException("Channels is empty: name at least one channel, or pass null for the first MaxChannels.");
    }

    /// <summary>needed[i]: node i lies on a path from the input to <paramref name="target"/> (only those are run).</summary>
    private static bool[] NodesNeeded(Model model, Node target)
    {
        var needed = new bool[model.Nodes.Count];
        needed[target.Index] = true;
        for (int i = target.Index; i > 0; i--)
            if (needed[i])
                foreach (int j in model.Nodes[i].InputIndices) needed[j] = true;
        return needed;
    }

    /// <summary>Gradient ascent for one batch of channels, image b maximising channel channels[b].</summary>
    private static IEnumerable<FilterPattern> Climb(Model model, Node target, bool[] needed, int[] channels, FilterPatternOptions options, int blurEvery, Random random,
        Func<int, string> labels)
    {
        int batch = channels.Length, c = model.InputShape[0], h = model.InputShape[1], w = model.InputShape[2], length = c * h * w;
        int jitter = options.Jitter ?? Math.Max(1, Math.Min(h, w) / 16);
        var x = new float[batch * length];
        for (int i = 0; i < x.Length; i++) x[i] = 0.5f + 0.1f * ((float)random.NextDouble() - 0.5f);
        var shifted = new float[x.Length];
        float[] start = ActivationAndGradient(model, target, needed, x, channels, withGradient: false).Activations;
        for (int step = 0; step < options.Steps; step++)
        {
            int dy = jitter > 0 ? random.Next(-jitter, jitter + 1) : 0, dx = jitter > 0 ? random.Next(-jitter, jitter + 1) : 0;
            Roll(x, shifted, batch * c, h, w, dy, dx);
            var gradientShifted = ActivationAndGradient(model, target, needed, shifted, channels, withGradient: true).Gradient;
            Roll(gradientShifted, shifted, batch * c, h, w, -dy, -dx); // the gradient back on the unshifted pixels
            for (int b = 0; b < batch; b++)
            {
                var g = shifted.AsSpan(b * length, length);
                var image = x.AsSpan(b * length, length);
                double sumSquares = 0;
                foreach (float v in g) sumSquares += (double)v * v;
                if (sumSquares == 0 || !double.IsFinite(sumSquares)) continue; // a dead channel: nothing to climb
                float scale = options.StepSize / (float)Math.Sqrt(sumSquares / length), keep = 1 - options.Decay;
                for (int i = 0; i < length; i++) image[i] = Math.Clamp(0.5f + keep * (image[i] - 0.5f) + scale * g[i], 0f, 1f);
            }
            if (blurEvery > 0 && (step + 1) % blurEvery == 0) Blur(x, batch * c, h, w);
        }
        var activation = ActivationAndGradient(model, target, needed, x, channels, withGradient: false).Activations;
        for (int b = 0; b < batch; b++)
            yield return new FilterPattern(channels[b], labels(channels[b]), x.AsSpan(b * length, length).ToArray(), start[b], activation[b]);
    }

    /// <summary>destination plane p at (y, x) = source plane p at ((y − dy) mod h, (x − dx) mod w): a shift with wrap-around.</summary>
    private static void Roll(float[] source, float[] destination, int planes, int h, int w, int dy, int dx)
    {
        for (int p = 0; p < planes; p++)
            for (int y = 0; y < h; y++)
            {
                int sy = ((y - dy) % h + h) % h;
                var from = source.AsSpan((p * h + sy) * w, w);
                var to = destination.AsSpan((p * h + y) * w, w);
                int shift = ((dx % w) + w) % w;
                from[..(w - shift)].CopyTo(to[shift..]);
                from[(w - shift)..].CopyTo(to[..shift]);
            }
    }

    /// <summary>
    /// Mean activation of channel channels[b] on image b, and its gradient with respect to the raw image (before the
    /// model's normalisation), [batch, C, H, W] flattened.
    /// </summary>
    private static (float[] Activations, float[] Gradient) ActivationAndGradient(Model model, Node target, bool[] needed, float[] x, int[] channels, bool withGradient)
    {
        int batch = channels.Length;
        var raw = Tensor.FromArray(x, [batch, .. model.InputShape]);
        var norm = model.Normalization;
        var z = norm is null ? raw : Tape.NoGrad(() => Ops.NormalizeChannels(raw, norm.Mean, norm.Std));
        z.RequiresGrad = withGradient;
        var values = new Tensor?[target.Index + 1];
        values[0] = z;
        var tape = new Tape();
        using (tape.Record())
            for (int i = 1; i <= target.Index; i++)
            {
                if (!needed[i]) continue;
                var node = model.Nodes[i];
                var inputs = new Tensor[node.InputIndices.Count];
                for (int j = 0; j < inputs.Length; j++) inputs[j] = values[node.InputIndices[j]]!;
                values[i] = node.Layer!.Forward(inputs, training: false);
            }
        var output = values[target.Index]!;
        int units = target.OutputShape[0], plane = output.Length / (batch * units);
        var outputValues = output.Span;
        var seed = new float[output.Length];
        var activations = new float[batch];
        for (int b = 0; b < batch; b++)
        {
            int offset = (b * units + channels[b]) * plane;
            double sum = 0;
            for (int i = 0; i < plane; i++) { sum += outputValues[offset + i]; seed[offset + i] = 1f / plane; }
            activations[b] = (float)(sum / plane);
        }
        if (!withGradient) return (activations, []);
        tape.Backward(output, seed);
        var gradient = z.Grad?.ToArray() ?? new float[x.Length];
        if (norm is not null)
        {
            // z = (x − mean) / std, so dA/dx = dA/dz / std, channel by channel.
            int c = model.InputShape[0], planeIn = x.Length / (batch * c);
            for (int i = 0; i < gradient.Length; i++) gradient[i] /= norm.Std[i / planeIn % c];
        }
        return (activations, gradient);
    }

    /// <summary>In place, each of <paramref name="planes"/> h×w planes: a 3×3 binomial blur (1 2 1 / 4 per axis), edges clamped.</summary>
    private static void Blur(float[] data, int planes, int h, int w)
    {
        var row = new float[w];
        var column = new float[h];
        for (int p = 0; p < planes; p++)
        {
            var plane = data.AsSpan(p * h * w, h * w);
            for (int y = 0; y < h; y++)
            {
                var r = plane.Slice(y * w, w);
                r.CopyTo(row);
                for (int x = 0; x < w; x++) r[x] = 0.25f * row[Math.Max(0, x - 1)] + 0.5f * row[x] + 0.25f * row[Math.Min(w - 1, x + 1)];
            }
            for (int x = 0; x < w; x++)
            {
                for (int y = 0; y < h; y++) column[y] = plane[y * w + x];
                for (int y = 0; y < h; y++) plane[y * w + x] = 0.25f * column[Math.Max(0, y - 1)] + 0.5f * column[y] + 0.25f * column[Math.Min(h - 1, y + 1)];
            }
        }
    }

    /// <summary>
    /// The patterns as a grid of tiles (RGB for 3-channel inputs, grey otherwise: the channels' mean), each tile stretched
    /// to its own range so faint patterns show, labelled with the channel and its mean activation before → after.
    /// </summary>
    public static Picture Render(FilterPatternResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        int c = result.InputShape[0], h = result.InputShape[1], w = result.InputShape[2], plane = h * w, count = result.Patterns.Count;
        int scale = Drawing.Enlargement(h, w, 96, 160);
        int tw = w * scale, th = h * scale, pad = 8, label = 28, header = 52;
        int cols = Math.Clamp(1200 / (tw + pad), 1, Math.Max(1, count));
        if (count <= 16) cols = Math.Min(cols, 8);
        int rows = (count + cols - 1) / cols;
        var image = Drawing.Render(Math.Max(560, cols * (tw + pad) + pad), header + rows * (th + label + pad) + pad, canvas =>
        {
            Drawing.Text(canvas, result.ClassScores
                ? $"What the network takes for each class: inputs that raise the class scores of {result.LayerName}"
                : $"What excites {result.LayerName} ({result.LayerType}): {count} channel{(count == 1 ? "" : "s")}", pad, 20, 15, Drawing.Ink, bold: true);
            Drawing.Text(canvas, $"Inputs found by {result.Steps} steps of gradient ascent on each channel's mean activation, from grey; each tile contrast-stretched",
                pad, 38, 11, Drawing.Muted);
            for (int k = 0; k < count; k++)
            {
                var pattern = result.Patterns[k];
                var pixels = pattern.Image;
                float lo = pixels.Min(), hi = pixels.Max(), range = hi - lo > 1e-6f ? hi - lo : 1f;
                byte Level(float v) => (byte)Math.Clamp((int)MathF.Round(255 * (v - lo) / range), 0, 255);
                SKColor Color(int y, int x)
                {
                    int o = y * w + x;
                    if (c == 3) return new SKColor(Level(pixels[o]), Level(pixels[plane + o]), Level(pixels[2 * plane + o]));
                    float sum = 0;
                    for (int ch = 0; ch < c; ch++) sum += pixels[ch * plane + o];
                    byte g = Level(sum / c);
                    return new SKColor(g, g, g);
                }
                using var bitmap = Drawing.Pixels(h, w, Color);
                float x0 = pad + (k % cols) * (tw + pad), y0 = header + (k / cols) * (th + label + pad);
                Drawing.Text(canvas, Fit(pattern.Label, tw), x0, y0 + 11, 10, Drawing.Ink, bold: true);
                Drawing.Text(canvas, $"{Drawing.Number(pattern.StartActivation)} → {Drawing.Number(pattern.Activation)}", x0, y0 + 24, 10, Drawing.Muted);
                var rect = SKRect.Create(x0, y0 + label, tw, th);
                Drawing.Blit(canvas, bitmap, rect, smooth: scale > 4 && h >= 64);
                Drawing.Frame(canvas, rect, new SKColor(0xbb, 0xbb, 0xbb));
            }
        });
        return new Picture($"patterns-{Picture.SafeName(result.LayerName)}", $"What excites the channels of {result.LayerName}", image,
            "Each tile is an input image grown to make one channel fire as strongly as it can (its mean activation before → after): the pattern the channel looks for.");
    }

    /// <summary>A label shortened with an ellipsis to fit <paramref name="width"/> pixels at 10 px bold.</summary>
    private static string Fit(string text, float width)
    {
        if (Drawing.TextWidth(text, 10, bold: true) <= width) return text;
        while (text.Length > 1 && Drawing.TextWidth(text + "…", 10, bold: true) > width) text = text[..^1];
        return text + "…";
    }

    /// <summary>
    /// The layers <c>fovea visualize --patterns auto</c> draws: the last convolution block before its final activation (a
    /// ReLU passes no gradient where a channel starts negative, so the climb starts from what feeds it), and the class
    /// scores when the model gives them (the input that most says each class). Empty for a model without either.
    /// </summary>
    public static IReadOnlyList<string> DefaultLayers(Model model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var layers = new List<string>();
        if (GradCam.FindDefaultLayer(model) is { } block)
        {
            var node = model.GetNode(block);
            if (node.Layer is ActivationLayer && node.InputIndices.Count == 1 && node.InputIndices[0] > 0) node = model.Nodes[node.InputIndices[0]];
            layers.Add(node.Name);
        }
        if (NetworkVisualizer.HasClassScores(model) && model.InputShape.Length == 3) layers.Add(NetworkVisualizer.ScoreNode(model).Name);
        return layers;
    }
}
