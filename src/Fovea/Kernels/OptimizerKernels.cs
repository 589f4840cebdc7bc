using System.Numerics;

namespace Fovea.Kernels;

// Legend: p = parameter, g = gradient, v = SGD velocity / Adam second moment, m = Adam first moment; all flat spans of equal length.
// t = 1-based step count; lr = learning rate; wd = weight decay.

/// <summary>
/// Fused, single-pass parameter updates with PyTorch semantics (torch.optim.SGD without dampening, torch.optim.Adam / AdamW).
/// State spans (velocity, m, v) are updated in place and must start at zero.
/// </summary>
public static class OptimizerKernels
{
    /// <summary>
    /// SGD: g' = g + wd·p; v = momentum·v + g'; update = nesterov ? g' + momentum·v : v; p −= lr·update.
    /// With momentum 0 the velocity is neither read nor written (it may be empty) and update = g'. Nesterov requires momentum &gt; 0.
    /// A zero-initialised velocity reproduces PyTorch's first step (buffer = g').
    /// </summary>
    public static unsafe void SgdStep(Span<float> param, ReadOnlySpan<float> grad, Span<float> velocity, float lr, float momentum, float weightDecay, bool nesterov)
    {
        CheckSgd(param.Length, grad.Length, velocity.Length, lr, momentum, weightDecay, nesterov);
        var k = new SgdConstants(lr, momentum, weightDecay, nesterov);
        int n = param.Length, parts = KernelSplit.Parts(n / MinElementsPerPart, long.MaxValue);
        fixed (float* pp = param, pg = grad, pv = velocity)
        {
            if (parts <= 1) SgdRange(pp, pg, pv, n, k);
            else SgdParallel(pp, pg, pv, n, k, parts);
        }
    }

    private readonly record struct SgdConstants(float Lr, float Momentum, float WeightDecay, bool Nesterov);

    private static unsafe void SgdParallel(float* p, float* g, float* v, int n, SgdConstants k, int parts)
    {
        nint ap = (nint)p, ag = (nint)g, av = (nint)v;
        Parallelism.For(parts, part =>
        {
            int start = KernelSplit.Start(part, parts, n), end = KernelSplit.Start(part + 1, parts, n);
            // Without momentum the velocity may be empty (null): it is then never touched.
            SgdRange((float*)ap + start, (float*)ag + start, av == 0 ? null : (float*)av + start, end - start, k);
        });
    }

    // Vector<float> is as wide as the hardware allows (8 lanes with AVX, 4 on ARM64 AdvSimd): one loop serves both.
    // No fused multiply-adds, so the vector body rounds exactly as the scalar tail does.
    private static unsafe void SgdRange(float* rp, float* rg, float* rv, int n, SgdConstants k)
    {
        float lr = k.Lr, momentum = k.Momentum, weightDecay = k.WeightDecay;
        int i = 0;
        if (momentum == 0f)
        {
            if (Vector.IsHardwareAccelerated)
            {
                Vector<float> vwd = new(weightDecay), vlr = new(lr);
                for (; i + Vector<float>.Count <= n; i += Vector<float>.Count)
                {
                    Vector<float> p = Vector.Load(rp + i);
                    Vector<float> g = Vector.Load(rg + i) + vwd * p;
                    (p - vlr * g).Store(rp + i);
                }
            }
            for (; i < n; i++) rp[i] -= lr * (rg[i] + weightDecay * rp[i]);
            return;
        }
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> vwd = new(weightDecay), vlr = new(lr), vmom = new(momentum);
            for (; i + Vector<float>.Count <= n; i += Vector<float>.Count)
            {
                Vector<float> p = Vector.Load(rp + i);
                Vector<float> g = Vector.Load(rg + i) + vwd * p;
                Vector<float> v = vmom * Vector.Load(rv + i) + g;
                v.Store(rv + i);
                Vector<float> u = k.Nesterov ? g + vmom * v : v;
                (p - vlr * u).Store(rp + i);
            }
        }
        for (; i < n; i++)
        {
            float g = rg[i] + weightDecay * rp[i];
            float v = momentum * rv[i] + g;
            rv[i] = v;
            rp[i] -= lr * (k.Nesterov ? g + momentum * v : v);
        }
    }

    /// <summary>Naive twin of <see cref="SgdStep"/>.</summary>
    public static void SgdStepReference(Span<float> param, ReadOnlySpan<float> grad, Span<float> velocity, float lr, float momentum, float weightDecay, bool nesterov)
    {
        CheckSgd(param.Length, grad.Length, velocity.Length, lr, momentum, weightDecay, nesterov);
        for (int i = 0; i < param.Length; i++)
        {
            float g = grad[i] + weightDecay * param[i];
            float update = g;
            if (momentum != 0f)
            {
                velocity[i] = momentum * velocity[i] + g;
                update = nesterov ? g + momentum * velocity[i] : velocity[i];
            }
            param[i] -= lr * update;
        }
    }

    /// <summary>
    /// Adam (decoupled = false: L2 decay folded into the gradient, g' = g + wd·p) or AdamW (decoupled = true: p ·= 1 − lr·wd first, g' = g).
    /// Then m = β1·m + (1 − β1)·g'; v = β2·v + (1 − β2)·g'²; p −= (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + ε).
    /// <paramref name="step"/> is the 1-based count of this update (bias correction).
    /// </summary>
    public static unsafe void AdamStep(Span<float> param, ReadOnlySpan<float> grad, Span<float> m, Span<float> v,
        float lr, float beta1, float beta2, float eps, float weightDecay, bool decoupled, int step)
    {
        CheckAdam(param.Length, grad.Length, m.Length, v.Length, lr, beta1, beta2, eps, weightDecay, step);
        var k = new AdamConstants(
            Decay: decoupled ? 1f - lr * weightDecay : 1f, L2: decoupled ? 0f : weightDecay, Beta1: beta1, Beta2: beta2,
            StepSize: (float)(lr / (1.0 - Math.Pow(beta1, step))), InvSqrtBc2: (float)(1.0 / Math.Sqrt(1.0 - Math.Pow(beta2, step))), Eps: eps);
        int n = param.Length;
        // A large layer (a 3136 x 256 dense layer has 800k weights) is worth splitting: 28 bytes of traffic per weight.
        int parts = KernelSplit.Parts(n / MinElementsPerPart, long.MaxValue);
        fixed (float* pp = param, pg = grad, pm = m, pv = v)
        {
            if (parts <= 1) AdamRange(pp, pg, pm, pv, n, k);
            else AdamParallel(pp, pg, pm, pv, n, k, parts);
        }
    }

    private const int MinElementsPerPart = 1 << 16;

    private readonly record struct AdamConstants(float Decay, float L2, float Beta1, float Beta2, float StepSize, float InvSqrtBc2, float Eps);

    // Its own method: the lambda's captured state is allocated on entry to the scope that declares it.
    private static unsafe void AdamParallel(float* p, float* g, float* m, float* v, int n, AdamConstants k, int parts)
    {
        nint ap = (nint)p, ag = (nint)g, am = (nint)m, av = (nint)v;
        Parallelism.For(parts, part =>
        {
            int start = KernelSplit.Start(part, parts, n), end = KernelSplit.Start(part + 1, parts, n);
            AdamRange((float*)ap + start, (float*)ag + start, (float*)am + start, (float*)av + start, end - start, k);
        });
    }

    private static unsafe void AdamRange(float* rp, float* rg, float* rm, float* rv, int n, AdamConstants k)
    {
        float c1 = 1f - k.Beta1, c2 = 1f - k.Beta2;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> vDecay = new(k.Decay), vL2 = new(k.L2), vB1 = new(k.Beta1), vB2 = new(k.Beta2),
                vC1 = new(c1), vC2 = new(c2), vStep = new(k.StepSize), vInv = new(k.InvSqrtBc2), vEps = new(k.Eps);
            for (; i + Vector<float>.Count <= n; i += Vector<float>.Count)
            {
                Vector<float> p = Vector.Load(rp + i);
                Vector<float> g = Vector.Load(rg + i) + vL2 * p;
                p *= vDecay;
                Vector<float> mm = vB1 * Vector.Load(rm + i) + vC1 * g;
                Vector<float> vv = vB2 * Vector.Load(rv + i) + vC2 * (g * g);
                mm.Store(rm + i);
                vv.Store(rv + i);
                (p - vStep * mm / (Vector.SquareRoot(vv) * vInv + vEps)).Store(rp + i);
            }
        }
        for (; i < n; i++)
        {
            float p = rp[i];
            float g = rg[i] + k.L2 * p;
            p *= k.Decay;
            float mm = k.Beta1 * rm[i] + c1 * g;
            float vv = k.Beta2 * rv[i] + c2 * (g * g);
            rm[i] = mm;
            rv[i] = vv;
            rp[i] = p - k.StepSize * mm / (MathF.Sqrt(vv) * k.InvSqrtBc2 + k.Eps);
        }
    }

    /// <summary>Naive twin of <see cref="AdamStep"/>: the textbook form with bias-corrected m̂ and v̂, in double.</summary>
    public static void AdamStepReference(Span<float> param, ReadOnlySpan<float> grad, Span<float> m, Span<float> v,
        float lr, float beta1, float beta2, float eps, float weightDecay, bool decoupled, int step)
    {
        CheckAdam(param.Length, grad.Length, m.Length, v.Length, lr, beta1, beta2, eps, weightDecay, step);
        double bc1 = 1.0 - Math.Pow(beta1, step), bc2 = 1.0 - Math.Pow(beta2, step);
        for (int i = 0; i < param.Length; i++)
        {
            double p = param[i];
            double g = grad[i];
            if (decoupled) p *= 1.0 - (double)lr * weightDecay;
            else g += (double)weightDecay * p;
            double mm = beta1 * (double)m[i] + (1.0 - beta1) * g;
            double vv = beta2 * (double)v[i] + (1.0 - beta2) * g * g;
            m[i] = (float)mm;
            v[i] = (float)vv;
            double mHat = mm / bc1, vHat = vv / bc2;
            param[i] = (float)(p - lr * mHat / (Math.Sqrt(vHat) + eps));
        }
    }

    private static void CheckSgd(int param, int grad, int velocity, float lr, float momentum, float weightDecay, bool nesterov)
    {
        KernelChecks.SameLength(grad, param, "Gradient", "parameter");
        if (!(lr >= 0f)) throw new ArgumentOutOfRangeException(nameof(lr), lr, $"Learning rate must be non-negative. Received: {lr}.");
        if (!(momentum >= 0f)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"Momentum must be non-negative. Received: {momentum}.");
        if (!(weightDecay >= 0f)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, $"Weight decay must be non-negative. Received: {weightDecay}.");
        if (nesterov && momentum == 0f) throw new ArgumentException($"Nesterov momentum requires momentum > 0. Received: momentum={momentum}.");
        if (momentum != 0f) KernelChecks.SameLength(velocity, param, "Velocity", "parameter");
    }

    private static void CheckAdam(int param, int grad, int m, int v, float lr, float beta1, float beta2, float eps, float weightDecay, int step)
    {
        KernelChecks.SameLength(grad, param, "Gradient", "parameter");
        KernelChecks.SameLength(m, param, "First moment", "parameter");
        KernelChecks.SameLength(v, param, "Second moment", "parameter");
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, $"Adam step count is 1-based. Received: {step}.");
        if (!(lr >= 0f)) throw new ArgumentOutOfRangeException(nameof(lr), lr, $"Learning rate must be non-negative. Received: {lr}.");
        if (!(beta1 >= 0f && beta1 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, $"beta1 must lie in [0, 1). Received: {beta1}.");
        if (!(beta2 >= 0f && beta2 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, $"beta2 must lie in [0, 1). Received: {beta2}.");
        if (!(eps >= 0f)) throw new ArgumentOutOfRangeException(nameof(eps), eps, $"Epsilon must be non-negative. Received: {eps}.");
        if (!(weightDecay >= 0f)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, $"Weight decay must be non-negative. Received: {weightDecay}.");
    }
}
