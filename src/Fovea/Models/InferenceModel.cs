using Fovea.Autograd;
using Fovea.Kernels;
using Fovea.Layers;
using Fovea.Tensors;

namespace Fovea.Models;

/// <summary>
/// A model prepared for fast inference (<see cref="Model.ToInference()"/>): every BatchNorm2D that directly follows a
/// convolution is folded into its filters and bias, a following residual Add and ReLU run inside the convolution's
/// output pass, and the filters are packed once for the matrix-product kernel. Layers without a fused form run as in
/// <see cref="Model.Predict(Tensors.Tensor)"/>. A snapshot: weights, BatchNorm statistics and the input normalisation are
/// copied when it is created (a custom layer that <see cref="LayerRegistry"/> cannot rebuild runs on the model's own
/// weights), so training the model meanwhile does not change its results; re-create it to use the new weights.
/// Outputs equal the model's own up to float rounding; <see cref="Predict"/> is safe to call from many threads.
/// </summary>
public sealed class InferenceModel
{
    private readonly Step[] _steps;
    private readonly int _valueCount, _outputIndex;
    private readonly Node _output;

    internal InferenceModel(Model model, Node output)
    {
        Source = model;
        _output = output;
        var plan = InferencePlanner.Plan(model, output.Index);
        _steps = plan.Steps;
        _valueCount = model.Nodes.Count;
        _outputIndex = output.Index;
        FusedConvolutions = _steps.Count(s => s is FusedConvolutionStep);
        FoldedBatchNorms = plan.FoldedBatchNorms;
        // Part of the snapshot too: setting the model's normalisation later does not change this one's.
        if (model.Normalization is { } n) _normalization = new InputNormalization([.. n.Mean], [.. n.Std]);
    }

    private readonly InputNormalization? _normalization;

    /// <summary>The model this was prepared from.</summary>
    public Model Source { get; }
    /// <summary>Per-sample input shape, as <see cref="Model.InputShape"/>.</summary>
    public int[] InputShape => Source.InputShape;
    /// <summary>Per-sample output shape: the model's, or the chosen node's.</summary>
    public int[] OutputShape => _output.OutputShape;
    /// <summary>Number of convolutions running through the packed, fused kernel.</summary>
    public int FusedConvolutions { get; }
    /// <summary>Number of BatchNorm2D layers folded into a convolution.</summary>
    public int FoldedBatchNorms { get; }

    /// <summary>Outputs [N, ...OutputShape] for inputs x [N, ...InputShape], as <see cref="Model.Predict(Tensor)"/> computes them.</summary>
    public Tensor Predict(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != InputShape.Length + 1 || !x.Shape.AsSpan(1).SequenceEqual(InputShape))
            throw new ArgumentException($"Model '{Source.Name}' expects input [N, {string.Join(", ", InputShape)}]; received {Tensor.ShapeToString(x.Shape)}.");
        var arena = t_arena ??= new TensorArena();
        try
        {
            Tensor y;
            using (arena.Activate()) y = Tape.NoGrad(() => Run(x));
            return Tensor.FromArray(y.Span, y.Shape);
        }
        finally { arena.ReleaseAll(); }
    }

    [ThreadStatic] private static TensorArena? t_arena;

    /// <summary>Class probabilities [N, classes]: softmax of the outputs, unless the model already ends in Softmax or Sigmoid
    /// (or an AxisSoftmax over all of a sample's values).</summary>
    public Tensor PredictProbabilities(Tensor x)
    {
        var y = Predict(x);
        if (Model.EndsInProbabilities(_output)) return y.Rank == 2 ? y : y.View(y.Dim(0), y.SampleLength);
        return Tape.NoGrad(() => Ops.Softmax(y.Rank == 2 ? y : y.View(y.Dim(0), y.SampleLength)));
    }

    /// <summary>
    /// Runs <paramref name="x"/> [N, ...InputShape] <paramref name="runs"/> times (after one untimed run) and returns, per step
    /// in execution order, the median wall time: a fused step (a convolution with its folded BatchNorm, residual Add and
    /// ReLU) is one entry naming its kernel. Where the time of a network goes, for tuning or for comparing with a profile
    /// of another runtime; the input normalisation is not included.
    /// </summary>
    public IReadOnlyList<StepTiming> Profile(Tensor x, int runs = 10)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        Predict(x); // checks the shape; warms caches and the JIT
        var samples = new double[_steps.Length][];
        for (int s = 0; s < samples.Length; s++) samples[s] = new double[runs];
        var arena = t_arena ??= new TensorArena();
        for (int r = 0; r < runs; r++)
        {
            try
            {
                using (arena.Activate()) Tape.NoGrad(() => Run(x, (s, ms) => samples[s][r] = ms));
            }
            finally { arena.ReleaseAll(); }
        }
        return _steps.Select((step, s) =>
        {
            Array.Sort(samples[s]);
            return new StepTiming(step.Name, step.Kind, samples[s][runs / 2]);
        }).ToArray();
    }

    private Tensor Run(Tensor x, Action<int, double>? timing = null)
    {
        var values = new Tensor?[_valueCount];
        var norm = _normalization;
        values[0] = norm is null ? x : Ops.NormalizeChannels(x, norm.Mean, norm.Std);
        for (int s = 0; s < _steps.Length; s++)
        {
            var step = _steps[s];
            long start = timing is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            values[step.Output] = step.Run(values);
            timing?.Invoke(s, System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            foreach (int j in step.Release) values[j] = null;
        }
        return values[_outputIndex]!;
    }

    /// <summary>One unit of work: reads values by node index, produces the value of node <see cref="Output"/>.</summary>
    internal abstract class Step(int output)
    {
        public int Output { get; } = output;
        /// <summary>The layer(s) it runs (a fused step: its chain, convolution first) and what it runs, for <see cref="Profile"/>.</summary>
        public string Name { get; init; } = "";
        public string Kind { get; init; } = "";
        /// <summary>Values no later step reads; dropped after this one so their memory can go.</summary>
        public int[] Release { get; set; } = [];
        public abstract IEnumerable<int> Inputs { get; }
        public abstract Tensor Run(Tensor?[] values);
    }

    /// <summary>A layer run as is: <paramref name="layer"/> is the node's layer or a copy of it made with the snapshot.</summary>
    internal sealed class LayerStep(Node node, Layer layer) : Step(node.Index)
    {
        public override IEnumerable<int> Inputs => node.InputIndices;
        public override Tensor Run(Tensor?[] values)
        {
            var inputs = new Tensor[node.InputIndices.Count];
            for (int j = 0; j < inputs.Length; j++) inputs[j] = values[node.InputIndices[j]]!;
            return layer.Forward(inputs, training: false);
        }
    }

    /// <summary>relu?(conv(x) [with BatchNorm folded in] + residual).</summary>
    internal sealed class FusedConvolutionStep(int output, int input, int residual, PackedConv2d conv, int[] outputShape, bool relu) : Step(output)
    {
        public override IEnumerable<int> Inputs => residual < 0 ? [input] : [input, residual];
        public override Tensor Run(Tensor?[] values)
        {
            var x = values[input]!;
            int batch = x.Dim(0);
            var y = Tensor.Uninitialized([batch, .. outputShape]);
            conv.Forward(x.Span, y.Span, residual < 0 ? default : values[residual]!.Span, relu);
            return y;
        }
    }
}

/// <summary>Median wall time of one step of an <see cref="InferenceModel"/> (see <see cref="InferenceModel.Profile"/>).</summary>
/// <param name="Layer">The layer's name; for a fused step, the names of the fused layers joined by '+', convolution first.</param>
/// <param name="Kind">The layer type, or for a fused step the fused chain and its kernel, e.g. "Conv2D+BatchNorm2D+ReLU (winograd)".</param>
/// <param name="Milliseconds">Median wall time of the step.</param>
public sealed record StepTiming(string Layer, string Kind, double Milliseconds);
