using System.Numerics;
using System.Numerics.Tensors;

namespace Fovea.Kernels;

// Legend: x = activation input, y = activation output, gradY = dL/dy, gradX = dL/dx; all spans of one flat length (any shape).

/// <summary>
/// Element-wise activations. Forward overwrites y (y may alias x). Backward ACCUMULATES gradX += f'(.) * gradY, or with
/// accumulate = false overwrites gradX = f'(.) * gradY (a freshly created gradient needs no clearing); each backward says
/// whether it wants the forward input x or the forward output y (the output where that is cheaper: sigmoid, tanh, ELU).
/// NaN inputs propagate through every forward. Large spans are split over <see cref="Parallelism.Degree"/> threads.
/// </summary>
public static class Activations
{
    // ---------------- ReLU ----------------

    /// <summary>y = max(x, 0).</summary>
    public static void ReluForward(ReadOnlySpan<float> x, Span<float> y)
        => Forward(x, y, new Relu());

    /// <summary>gradX += (x &gt; 0 ? gradY : 0). Takes the forward INPUT x (the output y works too: y &gt; 0 exactly where x &gt; 0).</summary>
    public static void ReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> gradY, Span<float> gradX, bool accumulate = true)
        => Backward(x, gradY, gradX, new ReluGrad(), accumulate);

    /// <summary>Naive twin of <see cref="ReluForward"/>.</summary>
    public static void ReluForwardReference(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckForward(x, y);
        for (int i = 0; i < x.Length; i++) y[i] = float.IsNaN(x[i]) ? x[i] : (x[i] > 0 ? x[i] : 0f);
    }

    /// <summary>Naive twin of <see cref="ReluBackward"/>.</summary>
    public static void ReluBackwardReference(ReadOnlySpan<float> x, ReadOnlySpan<float> gradY, Span<float> gradX)
    {
        CheckBackward(x, gradY, gradX, "Input");
        for (int i = 0; i < x.Length; i++) if (x[i] > 0) gradX[i] += gradY[i];
    }

    // ---------------- LeakyReLU ----------------

    /// <summary>y = x &gt; 0 ? x : alpha * x (PyTorch default alpha = 0.01).</summary>
    public static void LeakyReluForward(ReadOnlySpan<float> x, Span<float> y, float alpha)
        => Forward(x, y, new LeakyRelu(alpha));

    /// <summary>gradX += (x &gt; 0 ? 1 : alpha) * gradY. Takes the forward INPUT x.</summary>
    public static void LeakyReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> gradY, Span<float> gradX, float alpha, bool accumulate = true)
        => Backward(x, gradY, gradX, new LeakyReluGrad(alpha), accumulate);

    /// <summary>Naive twin of <see cref="LeakyReluForward"/>.</summary>
    public static void LeakyReluForwardReference(ReadOnlySpan<float> x, Span<float> y, float alpha)
    {
        CheckForward(x, y);
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0 ? x[i] : alpha * x[i];
    }

    /// <summary>Naive twin of <see cref="LeakyReluBackward"/>.</summary>
    public static void LeakyReluBackwardReference(ReadOnlySpan<float> x, ReadOnlySpan<float> gradY, Span<float> gradX, float alpha)
    {
        CheckBackward(x, gradY, gradX, "Input");
        for (int i = 0; i < x.Length; i++) gradX[i] += (x[i] > 0 ? 1f : alpha) * gradY[i];
    }

    // ---------------- Sigmoid ----------------

    /// <summary>y = 1 / (1 + exp(-x)).</summary>
    public static void SigmoidForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckForward(x, y);
        if (x.Length > 0) TensorPrimitives.Sigmoid(x, y); // TensorPrimitives.Sigmoid rejects empty spans
    }

    /// <summary>gradX += y * (1 - y) * gradY. Takes the forward OUTPUT y.</summary>
    public static void SigmoidBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> gradY, Span<float> gradX, bool accumulate = true)
        => Backward(y, gradY, gradX, new SigmoidGrad(), accumulate, "Output");

    /// <summary>Naive twin of <see cref="SigmoidForward"/>.</summary>
    public static void SigmoidForwardReference(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckForward(x, y);
        for (int i = 0; i < x.Length; i++) y[i] = (float)(1.0 / (1.0 + Math.Exp(-x[i])));
    }

    /// <summary>Naive twin of <see cref="SigmoidBackward"/>.</summary>
    public static void SigmoidBackwardReference(ReadOnlySpan<float> y, ReadOnlySpan<float> gradY, Span<float> gradX)
    {
        CheckBackward(y, gradY, gradX, "Output");
        for (int i = 0; i < y.Length; i++) gradX[i] += y[i] * (1f - y[i]) * gradY[i];
    }

    // ---------------- Tanh ----------------

    /// <summary>y = tanh(x).</summary>
    public static void TanhForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckForward(x, y);
        TensorPrimitives.Tanh(x, y);
    }

    /// <summary>gradX += (1 - y²) * gradY. Takes the forward OUTPUT y.</summary>
    public static void TanhBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> gradY, Span<float> gradX, bool accumulate = true)
        => Backward(y, gradY, gradX, new TanhGrad(), accumulate, "Output");

    /// <summary>Naive twin of <see cref="TanhForward"/>.</summary>
    public static void TanhForwardReference(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckForward(x, y);
        for (int i = 0; i < x.Length; i++) y[i] = (float)Math.Tanh(x[i]);
    }

    /// <summary>Naive twin of <see cref="TanhBackward"/>.</summary>
    public static void TanhBackwardReference(ReadOnlySpan<float> y, ReadOnlySpan<float> gradY, Span<float> gradX)
    {
        CheckBackward(y, gradY, gradX, "Output");
        for (int i = 0; i < y.Length; i++) gradX[i] += (1f - y[i] * y[i]) * gradY[i];
    }

    // ---------------- ELU ----------------

    /// <summary>y = x &gt; 0 ? x : alpha * (exp(x) - 1). alpha must be non-negative (default 1).</summary>
    public static void EluForward(ReadOnlySpan<float> x, Span<float> y, float alpha)
    {
        CheckFinite(alpha);
        Forward(x, y, new Elu(alpha));
    }

    /// <summary>
    /// gradX += (y &gt; 0 ? 1 : y + alpha) * gradY. Takes the forward OUTPUT y (saves an exp): with alpha ≥ 0,
    /// y &gt; 0 exactly where x &gt; 0, and alpha·exp(x) = y + alpha elsewhere.
    /// </summary>
    public static void EluBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> gradY, Span<float> gradX, float alpha, bool accumulate = true)
    {
        CheckAlpha(alpha);
        Backward(y, gradY, gradX, new EluGrad(alpha), accumulate, "Output");
    }

    /// <summary>Naive twin of <see cref="EluForward"/>.</summary>
    public static void EluForwardReference(ReadOnlySpan<float> x, Span<float> y, float alpha)
    {
        CheckFinite(alpha);
        CheckForward(x, y);
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0 ? x[i] : (float)(alpha * (Math.Exp(x[i]) - 1.0));
    }

    /// <summary>Naive twin of <see cref="EluBackward"/>.</summary>
    public static void EluBackwardReference(ReadOnlySpan<float> y, ReadOnlySpan<float> gradY, Span<float> gradX, float alpha)
    {
        CheckAlpha(alpha);
        CheckBackward(y, gradY, gradX, "Output");
        for (int i = 0; i < y.Length; i++) gradX[i] += (y[i] > 0 ? 1f : y[i] + alpha) * gradY[i];
    }

    /// <summary>
    /// gradX += (x &gt; 0 ? 1 : alpha·exp(x)) * gradY. Takes the forward INPUT x, so any finite alpha works (with alpha &lt; 0
    /// the output no longer tells which side of 0 x was on).
    /// </summary>
    public static void EluBackwardFromInput(ReadOnlySpan<float> x, ReadOnlySpan<float> gradY, Span<float> gradX, float alpha, bool accumulate = true)
    {
        CheckFinite(alpha);
        CheckBackward(x, gradY, gradX, "Input");
        for (int i = 0; i < x.Length; i++)
        {
            float g = (x[i] > 0 ? 1f : alpha * MathF.Exp(x[i])) * gradY[i];
            gradX[i] = accumulate ? gradX[i] + g : g;
        }
    }

    // ---------------- Clip ----------------

    /// <summary>y = min(max(x, min), max) (ReLU6 is Clip(0, 6)). Requires min ≤ max.</summary>
    public static void ClipForward(ReadOnlySpan<float> x, Span<float> y, float min, float max)
    {
        CheckRange(min, max);
        Forward(x, y, new Clip(min, max));
    }

    /// <summary>gradX += (min ≤ x ≤ max ? gradY : 0) (inclusive bounds, as torch.clamp). Takes the forward INPUT x.</summary>
    public static void ClipBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> gradY, Span<float> gradX, float min, float max, bool accumulate = true)
    {
        CheckRange(min, max);
        Backward(x, gradY, gradX, new ClipGrad(min, max), accumulate);
    }

    /// <summary>Naive twin of <see cref="ClipForward"/>.</summary>
    public static void ClipForwardReference(ReadOnlySpan<float> x, Span<float> y, float min, float max)
    {
        CheckRange(min, max);
        CheckForward(x, y);
        for (int i = 0; i < x.Length; i++) y[i] = float.IsNaN(x[i]) ? x[i] : (x[i] < min ? min : (x[i] > max ? max : x[i]));
    }

    /// <summary>Naive twin of <see cref="ClipBackward"/>.</summary>
    public static void ClipBackwardReference(ReadOnlySpan<float> x, ReadOnlySpan<float> gradY, Span<float> gradX, float min, float max)
    {
        CheckRange(min, max);
        CheckBackward(x, gradY, gradX, "Input");
        for (int i = 0; i < x.Length; i++) if (x[i] >= min && x[i] <= max) gradX[i] += gradY[i];
    }

    // ---------------- machinery ----------------

    private interface IUnary
    {
        float Invoke(float x);
        Vector<float> Invoke(Vector<float> x);
    }

    /// <summary>Returns the local derivative f'(.) given the saved value (x or y).</summary>
    private interface IDerivative
    {
        float Invoke(float saved);
        Vector<float> Invoke(Vector<float> saved);
    }

    // Element-wise work is memory-bound: only spans of at least this many elements per thread are worth splitting.
    private const int MinElementsPerPart = 1 << 17;

    private static unsafe void Forward<TOp>(ReadOnlySpan<float> x, Span<float> y, TOp op) where TOp : struct, IUnary
    {
        CheckForward(x, y);
        int n = x.Length, parts = KernelSplit.Parts(n / MinElementsPerPart, long.MaxValue);
        fixed (float* px = x, py = y)
        {
            if (parts <= 1) ForwardRange(px, py, n, op);
            else ForwardParallel(px, py, n, op, parts);
        }
    }

    // Parallel branches live in their own methods: a lambda's captured state is allocated on entry to the scope that
    // declares it, and the serial path must stay allocation-free.
    private static unsafe void ForwardParallel<TOp>(float* x, float* y, int n, TOp op, int parts) where TOp : struct, IUnary
    {
        nint ax = (nint)x, ay = (nint)y;
        Parallelism.For(parts, part =>
        {
            int start = KernelSplit.Start(part, parts, n), end = KernelSplit.Start(part + 1, parts, n);
            ForwardRange((float*)ax + start, (float*)ay + start, end - start, op);
        });
    }

    private static unsafe void ForwardRange<TOp>(float* x, float* y, int n, TOp op) where TOp : struct, IUnary
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated) // 8 lanes with AVX, 4 on ARM64 AdvSimd
            for (; i + Vector<float>.Count <= n; i += Vector<float>.Count)
                op.Invoke(Vector.Load(x + i)).Store(y + i);
        for (; i < n; i++) y[i] = op.Invoke(x[i]);
    }

    private static unsafe void Backward<TOp>(ReadOnlySpan<float> saved, ReadOnlySpan<float> gradY, Span<float> gradX, TOp op,
        bool accumulate, string savedName = "Input") where TOp : struct, IDerivative
    {
        CheckBackward(saved, gradY, gradX, savedName);
        int n = saved.Length, parts = KernelSplit.Parts(n / MinElementsPerPart, long.MaxValue);
        fixed (float* ps = saved, pg = gradY, px = gradX)
        {
            if (parts <= 1) BackwardRange(ps, pg, px, n, op, accumulate);
            else BackwardParallel(ps, pg, px, n, op, accumulate, parts);
        }
    }

    private static unsafe void BackwardParallel<TOp>(float* saved, float* gradY, float* gradX, int n, TOp op, bool accumulate, int parts)
        where TOp : struct, IDerivative
    {
        nint aS = (nint)saved, aG = (nint)gradY, aX = (nint)gradX;
        Parallelism.For(parts, part =>
        {
            int start = KernelSplit.Start(part, parts, n), end = KernelSplit.Start(part + 1, parts, n);
            BackwardRange((float*)aS + start, (float*)aG + start, (float*)aX + start, end - start, op, accumulate);
        });
    }

    private static unsafe void BackwardRange<TOp>(float* saved, float* gradY, float* gradX, int n, TOp op, bool accumulate)
        where TOp : struct, IDerivative
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i + Vector<float>.Count <= n; i += Vector<float>.Count)
            {
                Vector<float> g = op.Invoke(Vector.Load(saved + i)) * Vector.Load(gradY + i);
                (accumulate ? Vector.Load(gradX + i) + g : g).Store(gradX + i);
            }
        for (; i < n; i++)
        {
            float g = op.Invoke(saved[i]) * gradY[i];
            gradX[i] = accumulate ? gradX[i] + g : g;
        }
    }

    private readonly struct Relu : IUnary
    {
        public float Invoke(float x) => float.IsNaN(x) ? x : (x > 0 ? x : 0f);
        // IEEE maximum: NaN propagates and max(-0, +0) is +0, as in the scalar form.
        public Vector<float> Invoke(Vector<float> x) => Vector.Max(x, Vector<float>.Zero);
    }

    private readonly struct ReluGrad : IDerivative
    {
        public float Invoke(float x) => x > 0 ? 1f : 0f;
        // GreaterThan<float> returns the all-ones mask as floats (the plain overload returns ints): masking 1 gives 1 or 0.
        public Vector<float> Invoke(Vector<float> x) => Vector.GreaterThan<float>(x, Vector<float>.Zero) & Vector<float>.One;
    }

    private readonly struct LeakyRelu(float alpha) : IUnary
    {
        public float Invoke(float x) => x > 0 ? x : alpha * x;
        public Vector<float> Invoke(Vector<float> x) => Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<float>.Zero), x, x * alpha);
    }

    private readonly struct LeakyReluGrad(float alpha) : IDerivative
    {
        public float Invoke(float x) => x > 0 ? 1f : alpha;
        public Vector<float> Invoke(Vector<float> x) => Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<float>.Zero), Vector<float>.One, new Vector<float>(alpha));
    }

    private readonly struct SigmoidGrad : IDerivative
    {
        public float Invoke(float y) => y * (1f - y);
        public Vector<float> Invoke(Vector<float> y) => y * (Vector<float>.One - y);
    }

    private readonly struct TanhGrad : IDerivative
    {
        public float Invoke(float y) => 1f - y * y;
        public Vector<float> Invoke(Vector<float> y) => Vector<float>.One - y * y;
    }

    private readonly struct Elu(float alpha) : IUnary
    {
        public float Invoke(float x) => x > 0 ? x : alpha * (MathF.Exp(x) - 1f);
        public Vector<float> Invoke(Vector<float> x)
            => Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<float>.Zero), x,
                (Lanes.Exp(Vector.Min(x, Vector<float>.Zero)) - Vector<float>.One) * alpha);
    }

    private readonly struct EluGrad(float alpha) : IDerivative
    {
        public float Invoke(float y) => y > 0 ? 1f : y + alpha;
        public Vector<float> Invoke(Vector<float> y)
            => Vector.ConditionalSelect(Vector.GreaterThan(y, Vector<float>.Zero), Vector<float>.One, y + new Vector<float>(alpha));
    }

    private readonly struct Clip(float min, float max) : IUnary
    {
        public float Invoke(float x) => float.IsNaN(x) ? x : (x < min ? min : (x > max ? max : x));
        public Vector<float> Invoke(Vector<float> x)
        {
            Vector<float> c = Vector.Min(Vector.Max(x, new Vector<float>(min)), new Vector<float>(max));
            return Vector.ConditionalSelect(Vector.Equals(x, x), c, x); // keep NaN
        }
    }

    private readonly struct ClipGrad(float min, float max) : IDerivative
    {
        public float Invoke(float x) => x >= min && x <= max ? 1f : 0f;
        public Vector<float> Invoke(Vector<float> x)
            => Vector.GreaterThanOrEqual<float>(x, new Vector<float>(min)) & Vector.LessThanOrEqual<float>(x, new Vector<float>(max)) & Vector<float>.One;
    }

    private static void CheckForward(ReadOnlySpan<float> x, Span<float> y)
        => KernelChecks.SameLength(y.Length, x.Length, "Output", "input");

    private static void CheckBackward(ReadOnlySpan<float> saved, ReadOnlySpan<float> gradY, Span<float> gradX, string savedName)
    {
        // The message is only built on failure: this check runs per item inside the convolution kernels.
        if (gradY.Length != saved.Length) KernelChecks.SameLength(gradY.Length, saved.Length, "Output gradient", savedName.ToLowerInvariant());
        if (gradX.Length != saved.Length) KernelChecks.SameLength(gradX.Length, saved.Length, "Input gradient", savedName.ToLowerInvariant());
    }

    private static void CheckFinite(float alpha)
    {
        if (!float.IsFinite(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, $"ELU alpha must be finite. Received: {alpha}.");
    }

    private static void CheckAlpha(float alpha)
    {
        if (!(alpha >= 0)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, $"ELU alpha must be non-negative (backward reads the output). Received: {alpha}.");
    }

    private static void CheckRange(float min, float max)
    {
        if (!(min <= max)) throw new ArgumentException($"Clip needs min <= max. Received: min={min}, max={max}.");
    }
}
