using Fovea.Layers;
using Fovea.Models;
using Fovea.Tensors;

namespace Fovea.Vision;

/// <summary>Options of <see cref="NetworkVisualizer.Visualize"/>. Defaults: top-5, Grad-CAM of the predicted class at <see cref="GradCam.DefaultLayer"/>, every convolution and pooling layer.</summary>
public sealed record VisualizationOptions
{
    /// <summary>Predictions listed (capped at the class count). Default 5.</summary>
    public int TopK { get; init; } = 5;
    /// <summary>Classes explained with Grad-CAM besides the predicted one.</summary>
    public IReadOnlyList<int> ExtraClasses { get; init; } = [];
    /// <summary>Layer Grad-CAM weights (null: the last convolution block, see <see cref="GradCam.DefaultLayer"/>).</summary>
    public string? GradCamLayer { get; init; }
    /// <summary>
    /// What Grad-CAM explains. Default <see cref="GradCamTarget.LogProbability"/>: what sets this class apart from the
    /// others (plain scores also light up objects that raise every class alike, e.g. a shared distractor).
    /// </summary>
    public GradCamTarget GradCamTarget { get; init; } = GradCamTarget.LogProbability;
    /// <summary>Layers whose activations are drawn (null: every Conv2D and pooling layer).</summary>
    public IReadOnlyList<string>? ActivationLayers { get; init; }
    /// <summary>Tile sizes and channel limit of the activation grids.</summary>
    public ActivationGridOptions Grid { get; init; } = new();
    /// <summary>Layer whose map the pooling explainer uses (null: the input of the first pooling layer, else the first convolution block's output).</summary>
    public string? PoolingLayer { get; init; }
    /// <summary>
    /// Convolution whose filters are drawn as tiles (null: the first Conv2D with a kernel larger than 1×1 — a 1×1 layer in
    /// front, such as a channel mixing of an imported network's preprocessing, has no spatial pattern to show).
    /// Every other convolution gets a weight-statistics chart.
    /// </summary>
    public string? FilterLayer { get; init; }
    /// <summary>
    /// Also explain the top class by occlusion (<see cref="Vision.Occlusion"/>: one inference per patch position, 49 by
    /// default), which needs no convolution layer. Default true.
    /// </summary>
    public bool Occlusion { get; init; } = true;
    /// <summary>
    /// Layers whose channels get filter patterns (<see cref="FilterPatterns"/>: the input each channel responds to most,
    /// found by gradient ascent); null or empty: none (they cost many forward and backward passes: seconds on small
    /// networks, a minute or more on ResNet-18). <see cref="FilterPatterns.DefaultLayers"/> gives a good pair.
    /// </summary>
    public IReadOnlyList<string>? PatternLayers { get; init; }
    /// <summary>How the filter patterns are found (channels, steps, ...).</summary>
    public FilterPatternOptions Patterns { get; init; } = new();
    /// <summary>Draw the pictures on this many threads (default: all cores). They are independent, so this only saves time.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;
}

/// <summary>Every picture of one image going through a model. Dispose to free the pixels.</summary>
public sealed class Visualization : IDisposable
{
    internal Visualization() { }

    /// <summary>The model's summary (layers, shapes, parameters, FLOPs).</summary>
    public required ModelSummary Summary { get; init; }
    /// <summary>
    /// The top-k classes with probabilities, most likely first. When <see cref="ClassScores"/> is false: the largest
    /// outputs, named "output channel i", by raw value (<see cref="ClassProbability.Score"/>; Probability is NaN).
    /// </summary>
    public required IReadOnlyList<ClassProbability> TopK { get; init; }
    /// <summary>True when the model's outputs are class scores (see <see cref="NetworkVisualizer.HasClassScores"/>).</summary>
    public bool ClassScores { get; init; } = true;
    /// <summary>The input after resize and normalisation.</summary>
    public required Picture Input { get; init; }
    /// <summary>One grid per convolution and pooling layer, in network order.</summary>
    public required IReadOnlyList<Picture> ActivationMaps { get; init; }
    /// <summary>Filters of the first convolution (null without a Conv2D).</summary>
    public Picture? FirstLayerFilters { get; init; }
    /// <summary>Per-filter weight statistics of every other convolution.</summary>
    public required IReadOnlyList<Picture> WeightStatistics { get; init; }
    /// <summary>Filter patterns of each of <see cref="VisualizationOptions.PatternLayers"/> (empty when none were asked for).</summary>
    public IReadOnlyList<Picture> Patterns { get; init; } = [];
    /// <summary>The numbers and images behind <see cref="Patterns"/>.</summary>
    public IReadOnlyList<FilterPatternResult> PatternResults { get; init; } = [];
    /// <summary>Grad-CAM of the predicted class, then of each extra class; empty for a model without a convolution layer.</summary>
    public required IReadOnlyList<Picture> GradCams { get; init; }
    /// <summary>The numbers behind <see cref="GradCams"/>.</summary>
    public required IReadOnlyList<GradCamResult> GradCamResults { get; init; }
    /// <summary>The top class explained by occlusion (null when <see cref="VisualizationOptions.Occlusion"/> is off).</summary>
    public Picture? Occlusion { get; init; }
    /// <summary>The numbers behind <see cref="Occlusion"/>.</summary>
    public OcclusionResult? OcclusionResult { get; init; }
    /// <summary>Max/average pooling explained on one activation map (null when no map is at least 2×2).</summary>
    public Picture? Pooling { get; init; }
    /// <summary>Top-k bar chart.</summary>
    public required Picture Predictions { get; init; }
    /// <summary>Seconds spent (forward, gradients and drawing; encoding excluded).</summary>
    public double Seconds { get; internal set; }

    /// <summary>All pictures in reading order.</summary>
    public IEnumerable<Picture> All
    {
        get
        {
            yield return Input;
            yield return Predictions;
            foreach (var p in ActivationMaps) yield return p;
            if (FirstLayerFilters is not null) yield return FirstLayerFilters;
            foreach (var p in WeightStatistics) yield return p;
            foreach (var p in Patterns) yield return p;
            foreach (var p in GradCams) yield return p;
            if (Occlusion is not null) yield return Occlusion;
            if (Pooling is not null) yield return Pooling;
        }
    }

    /// <summary>
    /// Writes every picture as DIR/NN-name.png (atomically, encoded on all cores) and returns the paths in order. The names are
    /// listed in DIR/.fovea-pictures, so pictures an earlier call wrote there and this one does not (another model's
    /// layers) are removed afterwards, while other files in DIR are never touched.
    /// </summary>
    public IReadOnlyList<string> SaveAll(string directory)
    {
        Directory.CreateDirectory(directory);
        var pictures = All.ToArray();
        var paths = PicturePaths(directory);
        InParallel(pictures.Length, Environment.ProcessorCount, i => pictures[i].SavePng(paths[i]));
        foreach (var stale in StalePictures(directory, paths)) File.Delete(stale);
        AtomicWrite.Text(Path.Combine(directory, PictureListName), string.Join('\n', paths.Select(Path.GetFileName)) + "\n");
        return paths;
    }

    /// <summary>
    /// The files <see cref="SaveAll"/> would replace or remove in <paramref name="directory"/>: every picture's path, then
    /// the pictures an earlier call listed there that this one does not write. A caller checks them against its inputs
    /// before saving (an image drawn from the folder it is drawn into must not be replaced by its own picture).
    /// </summary>
    public IReadOnlyList<string> FilesReplacedBySaveAll(string directory)
    {
        var paths = PicturePaths(directory);
        return [.. paths, .. StalePictures(directory, paths)];
    }

    /// <summary>
    /// body(i) for i in [0, count) on up to <paramref name="threads"/> threads; an exception of one (a picture that cannot
    /// be written: a full disk, a folder in its place) reaches the caller as it was thrown, not wrapped by Parallel.For,
    /// so callers that handle IOException see one.
    /// </summary>
    internal static void InParallel(int count, int threads, Action<int> body)
    {
        try { Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads }, body); }
        catch (AggregateException e) { System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]); }
    }

    private string[] PicturePaths(string directory) => All.Select((p, i) => Path.Combine(directory, $"{i:D2}-{p.Name}.png")).ToArray();

    private static List<string> StalePictures(string directory, string[] paths)
    {
        string listPath = Path.Combine(directory, PictureListName);
        var stale = new List<string>();
        if (!File.Exists(listPath)) return stale;
        var written = paths.Select(Path.GetFileName).ToHashSet();
        foreach (var old in File.ReadAllLines(listPath))
            // Only bare picture names this method wrote: a hand-edited list cannot reach outside the folder.
            if (!written.Contains(old) && old.EndsWith(".png", StringComparison.Ordinal) && Path.GetFileName(old) == old)
                stale.Add(Path.Combine(directory, old));
        return stale;
    }

    /// <summary>The file in a picture folder listing the pictures <see cref="SaveAll"/> wrote there.</summary>
    public const string PictureListName = ".fovea-pictures";

    /// <inheritdoc/>
    public void Dispose() { foreach (var p in All) p.Dispose(); }
}

/// <summary>
/// Draws what a CNN does with one image: the input as the network sees it, every convolution and pooling layer's activation
/// maps, the first layer's filters, weight statistics of deeper layers, Grad-CAM of the predicted (and any chosen) class,
/// a pooling explainer and the top-k predictions. The CLI's <c>fovea visualize</c> is a thin layer over this.
/// </summary>
public static class NetworkVisualizer
{
    /// <summary>True for the layers drawn by default: Conv2D and pooling layers (any type whose name contains "Pool").</summary>
    public static bool IsConvOrPool(Layer layer) => layer is Conv2D || layer.TypeName.Contains("Pool", StringComparison.Ordinal);

    /// <summary>
    /// True when <paramref name="model"/>'s outputs are class scores, so they are shown as classes with softmax
    /// probabilities: its score output (the output, or the input of a final Softmax/Sigmoid) is a vector [K] or
    /// [K, 1, 1], and either the model names exactly K classes, or it names none and the output is a Dense layer's or a
    /// Softmax's (a classification head, as every model <c>fovea train</c> makes). Anything else — the [512, 1, 1]
    /// features of an imported ResNet-18 without its classifier, a spatial map, a model whose class names do not match its
    /// outputs — is shown as raw output values named "output channel i", with no probabilities, and Grad-CAM explains the
    /// raw value of an output.
    /// </summary>
    public static bool HasClassScores(Model model)
    {
        var shape = ScoreShape(model);
        if (shape is not ([_] or [_, 1, 1])) return false;
        int k = shape[0];
        if (model.ClassNames.Count > 0) return model.ClassNames.Count == k;
        var scoreNode = ScoreNode(model);
        return scoreNode.Layer is Dense || Model.IsSoftmaxOverSample(model.Output);
    }

    /// <summary>The node whose output Grad-CAM and the top-k list read: the output, or the input of a final Softmax/Sigmoid.</summary>
    internal static Node ScoreNode(Model model) =>
        (model.Output.Layer is Sigmoid && model.Output.InputIndices.Count == 1) || Model.IsSoftmaxOverSample(model.Output)
        ? model.Nodes[model.Output.InputIndices[0]] : model.Output;

    internal static int[] ScoreShape(Model model) => ScoreNode(model).OutputShape;

    /// <summary>
    /// Visualises <paramref name="image"/> [C, H, W] (or [1, C, H, W]) — values as the model takes them before its own
    /// normalisation, e.g. [0, 1] from <see cref="ImageLoader.Load"/> — through <paramref name="model"/> in inference mode.
    /// </summary>
    public static Visualization Visualize(Model model, Tensor image, VisualizationOptions? options = null)
    {
        options ??= new VisualizationOptions();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var trace = NetworkTrace.Run(model, image);
        var scores = trace.Scores;
        var probabilities = GradCam.Softmax(scores);
        int classes = scores.Length;
        foreach (int c in options.ExtraClasses)
            if ((uint)c >= (uint)classes) throw new ArgumentException($"Class {c} is out of range: model '{model.Name}' has {classes} classes (0..{classes - 1}).");
        bool classScores = HasClassScores(model);
        // Without class scores a softmax over the outputs means nothing: rank by raw value, and explain raw values.
        var top = Enumerable.Range(0, classes).OrderByDescending(i => scores[i]).Take(Math.Clamp(options.TopK, 1, classes))
            .Select(i => new ClassProbability(i, GradCam.ClassName(model, i), classScores ? probabilities[i] : float.NaN, scores[i])).ToList();
        var camTarget = classScores ? options.GradCamTarget : GradCamTarget.Score;

        var activationNodes = options.ActivationLayers is { } names
            ? names.Select(model.GetNode).ToList()
            : model.Nodes.Skip(1).Where(n => n.Index <= model.Output.Index && IsConvOrPool(n.Layer!)).ToList();
        var convs = model.Nodes.Skip(1).Where(n => n.Index <= model.Output.Index && n.Layer is Conv2D).Select(n => (Conv2D)n.Layer!).ToList();
        var firstConv = FilterSource(model, convs, options.FilterLayer);
        // A network without convolutions (a dense one) has no map for Grad-CAM: everything else is still drawn, unless
        // classes to explain were asked for.
        string? camLayer = options.GradCamLayer ?? (options.ExtraClasses.Count > 0 ? GradCam.DefaultLayer(model) : GradCam.FindDefaultLayer(model));
        if (camLayer is not null) model.GetNode(camLayer); // fail early, naming the layers, before any drawing
        var camClasses = camLayer is null ? [] : new[] { top[0].ClassIndex }.Concat(options.ExtraClasses).Distinct().ToList();

        // Gradients run here (cheap, sequential); drawing runs in parallel below.
        var cams = camClasses.Select(c => GradCam.Compute(trace, c, camLayer, camTarget)).ToList();
        var pooling = PoolingSource(trace, options.PoolingLayer);
        var patternLayers = options.PatternLayers ?? [];
        foreach (var name in patternLayers) model.GetNode(name); // fail early, naming the layers
        var occlusion = options.Occlusion ? Vision.Occlusion.Compute(model, trace.RawInput, top[0].ClassIndex) : null;
        var patterns = patternLayers.Distinct().Select(name => FilterPatterns.Compute(model, name, options.Patterns)).ToList();

        var jobs = new List<Func<Picture>>();
        jobs.Add(() => ActivationGrid.RenderInput(trace.NetworkInput));
        jobs.Add(() => Charts.Predictions(top, classScores: classScores));
        jobs.AddRange(activationNodes.Select(n => (Func<Picture>)(() => ActivationGrid.Render(n.Name, n.Layer?.TypeName ?? "input", trace.Value(n), options.Grid))));
        if (firstConv is not null) jobs.Add(() => FilterPictures.RenderFilters(firstConv));
        var statistics = convs.Where(c => !ReferenceEquals(c, firstConv)).ToList();
        jobs.AddRange(statistics.Select(c => (Func<Picture>)(() => FilterPictures.RenderStatistics(c))));
        jobs.AddRange(patterns.Select(r => (Func<Picture>)(() => FilterPatterns.Render(r))));
        // Score maps of several classes share one colour scale: a class the network hardly sees must not glow like the
        // predicted one. Log-p maps cannot: d log p / d score = 1 − p is near 0 for a confident prediction, so the
        // predicted class's map is the faintest; each fills its own scale and is read with its probability.
        float? strongest = cams.Count > 1 && camTarget == GradCamTarget.Score ? cams.Max(c => c.Strength) : null;
        jobs.AddRange(cams.Select(c => (Func<Picture>)(() => GradCam.Render(c, trace.RawInput, strongest: strongest))));
        if (occlusion is not null) jobs.Add(() => Vision.Occlusion.Render(occlusion, trace.RawInput));
        if (pooling is not null) jobs.Add(() => PoolingExplainer.Render(PoolingExplainer.Explain(pooling.Value.Map, pooling.Value.Title)));
        var pictures = new Picture[jobs.Count];
        Visualization.InParallel(jobs.Count, Math.Max(1, options.Threads), i => pictures[i] = jobs[i]());

        int k = 2;
        var result = new Visualization
        {
            Summary = model.Summary(),
            TopK = top,
            ClassScores = classScores,
            Input = pictures[0],
            Predictions = pictures[1],
            ActivationMaps = pictures[k..(k += activationNodes.Count)],
            FirstLayerFilters = firstConv is not null ? pictures[k++] : null,
            WeightStatistics = pictures[k..(k += statistics.Count)],
            Patterns = pictures[k..(k += patterns.Count)],
            PatternResults = patterns,
            GradCams = pictures[k..(k += cams.Count)],
            GradCamResults = cams,
            Occlusion = occlusion is not null ? pictures[k++] : null,
            OcclusionResult = occlusion,
            Pooling = pooling is not null ? pictures[k++] : null,
        };
        result.Seconds = clock.Elapsed.TotalSeconds;
        return result;
    }

    /// <summary>The convolution drawn as filter tiles: the named one, else the first with a kernel larger than 1×1, else the first.</summary>
    private static Conv2D? FilterSource(Model model, List<Conv2D> convs, string? layerName)
    {
        if (layerName is not null)
            return model.GetLayer(layerName) as Conv2D ?? throw new ArgumentException($"Filters can only be drawn for a Conv2D layer; '{layerName}' is {model.GetLayer(layerName).TypeName}.");
        return convs.FirstOrDefault(c => c.KernelSize.Height * c.KernelSize.Width > 1) ?? convs.FirstOrDefault();
    }

    /// <summary>
    /// The map the pooling explainer uses: channel with the largest variance of the named layer; by default of what the
    /// first pooling layer (with a [C, H, W] input) receives, or without one, of the first convolution block's output
    /// (after its BatchNorm/ReLU).
    /// </summary>
    private static (float[,] Map, string Title)? PoolingSource(NetworkTrace trace, string? layerName)
    {
        var model = trace.Model;
        Node? node = layerName is not null ? model.GetNode(layerName) : null;
        if (node is null)
        {
            var pool = model.Nodes.Skip(1).FirstOrDefault(n => n.Index <= model.Output.Index && n.Layer!.TypeName.Contains("Pool", StringComparison.Ordinal)
                && n.InputIndices.Count == 1 && model.Nodes[n.InputIndices[0]].OutputShape is { Length: 3 } s && s[1] >= 2 && s[2] >= 2);
            if (pool is not null) node = model.Nodes[pool.InputIndices[0]];
        }
        if (node is null)
        {
            var firstConv = model.Nodes.FirstOrDefault(n => n.Layer is Conv2D);
            if (firstConv is null) return null;
            node = firstConv;
            while (true)
            {
                var next = model.Nodes.Where(n => n.InputIndices.Contains(node.Index)).ToList();
                if (next.Count != 1 || next[0].Layer is not (BatchNorm2D or ActivationLayer) || !next[0].OutputShape.AsSpan().SequenceEqual(node.OutputShape)) break;
                node = next[0];
            }
        }
        if (node.OutputShape.Length != 3 || node.OutputShape[1] < 2 || node.OutputShape[2] < 2)
        {
            if (layerName is not null) throw new ArgumentException($"The pooling explainer needs a layer with [C, H, W] output of at least 2×2; '{node.Name}' gives {Drawing.Shape(node.OutputShape)}.");
            return null;
        }
        int c = node.OutputShape[0], h = node.OutputShape[1], w = node.OutputShape[2], plane = h * w;
        var values = trace.Value(node).Span;
        int best = 0; double bestVar = -1;
        for (int k = 0; k < c; k++)
        {
            double s = 0, sq = 0;
            for (int i = 0; i < plane; i++) { double v = values[k * plane + i]; s += v; sq += v * v; }
            double var = sq / plane - (s / plane) * (s / plane);
            if (var > bestVar) (best, bestVar) = (k, var);
        }
        var map = new float[h, w];
        for (int i = 0; i < plane; i++) map[i / w, i % w] = values[best * plane + i];
        return (map, $"{node.Name} channel {best}");
    }
}
