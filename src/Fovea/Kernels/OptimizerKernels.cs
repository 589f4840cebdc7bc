using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
    public static void SgdStep(Span<float> param, ReadOnlySpan<float> grad, Span<float> velocity, float lr, float momentum, float weightDecay, bool nesterov)
    {
        CheckSgd(param.Length, grad.Length, velocity.Length, lr, momentum, weightDecay, nesterov);
        ref float rp = ref MemoryMarshal.GetReference(param);
        ref float rg = ref MemoryMarshal.GetReference(grad);
        int n = param.Length, i = 0;
        if (momentum == 0f)
        {
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<float> vwd = Vector256.Create(weightDecay), vlr = Vector256.Create(lr);
                for (; i + 8 <= n; i += 8)
                {
                    Vector256<float> p = Vector256.LoadUnsafe(ref rp, (nuint)i);
                    Vector256<float> g = Vector256.LoadUnsafe(ref rg, (nuint)i) + vwd * p;
                    (p - vlr * g).StoreUnsafe(ref rp, (nuint)i);
                }
            }
            for (; i < n; i++)
            {
                float g = Unsafe.Add(ref rg, i) + weightDecay * Unsafe.Add(ref rp, i);
                Unsafe.Add(ref rp, i) -= lr * g;
            }
            return;
        }
        ref float rv = ref MemoryMarshal.GetReference(velocity);
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> vwd = Vector256.Create(weightDecay), vlr = Vector256.Create(lr), vmom = Vector256.Create(momentum);
            for (; i + 8 <= n; i += 8)
            {
                Vector256<float> p = Vector256.LoadUnsafe(ref rp, (nuint)i);
                Vector256<float> g = Vector256.LoadUnsafe(ref rg, (nuint)i) + vwd * p;
                Vector256<float> v = vmom * Vector256.LoadUnsafe(ref rv, (nuint)i) + g;
                v.StoreUnsafe(ref rv, (nuint)i);
                Vector256<float> u = nesterov ? g + vmom * v : v;
                (p - vlr * u).StoreUnsafe(ref rp, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float g = Unsafe.Add(ref rg, i) + weightDecay * Unsafe.Add(ref rp, i);
            float v = momentum * Unsafe.Add(ref rv, i) + g;
            Unsafe.Add(ref rv, i) = v;
            Unsafe.Add(ref rp, i) -= lr * (nesterov ? g + momentum * v : v);
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
    public static void AdamStep(Span<float> param, ReadOnlySpan<float> grad, Span<float> m, Span<float> v,
        float lr, float beta1, float beta2, float eps, float weightDecay, bool decoupled, int step)
    {
        CheckAdam(param.Length, grad.Length, m.Length, v.Length, lr, beta1, beta2, eps, weightDecay, step);
        float stepSize = (float)(lr / (1.0 - Math.Pow(beta1, step)));
        float invSqrtBc2 = (float)(1.0 / Math.Sqrt(1.0 - Math.Pow(beta2, step)));
        float decay = decoupled ? 1f - lr * weightDecay : 1f;
        float l2 = decoupled ? 0f : weightDecay;
        float c1 = 1f - beta1, c2 = 1f - beta2;
        ref float rp = ref MemoryMarshal.GetReference(param);
        ref float rg = ref MemoryMarshal.GetReference(grad);
        ref float rm = ref MemoryMarshal.GetReference(m);
        ref float rv = ref MemoryMarshal.GetReference(v);
        int n = param.Length, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> vDecay = Vector256.Create(decay), vL2 = Vector256.Create(l2), vB1 = Vector256.Create(beta1), vB2 = Vector256.Create(beta2),
                vC1 = Vector256.Create(c1), vC2 = Vector256.Create(c2), vStep = Vector256.Create(stepSize), vInv = Vector256.Create(invSqrtBc2), vEps = Vector256.Create(eps);
            for (; i + 8 <= n; i += 8)
            {
                Vector256<float> p = Vector256.LoadUnsafe(ref rp, (nuint)i);
                Vector256<float> g = Vector256.LoadUnsafe(ref rg, (nuint)i) + vL2 * p;
                p *= vDecay;
                Vector256<float> mm = vB1 * Vector256.LoadUnsafe(ref rm, (nuint)i) + vC1 * g;
                Vector256<float> vv = vB2 * Vector256.LoadUnsafe(ref rv, (nuint)i) + vC2 * (g * g);
                mm.StoreUnsafe(ref rm, (nuint)i);
                vv.StoreUnsafe(ref rv, (nuint)i);
                (p - vStep * mm / (Vector256.Sqrt(vv) * vInv + vEps)).StoreUnsafe(ref rp, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float p = Unsafe.Add(ref rp, i);
            float g = Unsafe.Add(ref rg, i) + l2 * p;
            p *= decay;
            float mm = beta1 * Unsafe.Add(ref rm, i) + c1 * g;
            float vv = beta2 * Unsafe.Add(ref rv, i) + c2 * (g * g);
            Unsafe.Add(ref rm, i) = mm;
            Unsafe.Add(ref rv, i) = vv;
            Unsafe.Add(ref rp, i) = p - stepSize * mm / (MathF.Sqrt(vv) * invSqrtBc2 + eps);
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
