using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Fovea.Kernels;

/// <summary>
/// Lane shuffles shared by kernels that work on every second element (stride-2 pooling, Winograd tiles), and lane-wise
/// math for width-agnostic <see cref="Vector{T}"/> loops.
/// </summary>
internal static class Lanes
{
    /// <summary>Splits 16 consecutive floats (a then b) into their even and odd positions, in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(Vector256<float> a, Vector256<float> b, out Vector256<float> even, out Vector256<float> odd)
    {
        Vector256<float> pa = Vector256.Shuffle(a, Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7));
        Vector256<float> pb = Vector256.Shuffle(b, Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7));
        even = Vector256.Create(pa.GetLower(), pb.GetLower());
        odd = Vector256.Create(pa.GetUpper(), pb.GetUpper());
    }

    /// <summary>The inverse of <see cref="Deinterleave"/>: a0 b0 a1 b1 … a3 b3 into <paramref name="low"/>, a4 b4 … a7 b7 into <paramref name="high"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Interleave(Vector256<float> a, Vector256<float> b, out Vector256<float> low, out Vector256<float> high)
    {
        low = Vector256.Shuffle(Vector256.Create(a.GetLower(), b.GetLower()), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7));
        high = Vector256.Shuffle(Vector256.Create(a.GetUpper(), b.GetUpper()), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7));
    }

    /// <summary>
    /// e^x per lane. On .NET 10 (measured on an AVX-512 machine), <see cref="Vector.Exp(Vector{float})"/> takes about twice as
    /// long as <see cref="Vector256.Exp(Vector256{float})"/>, so a 256-bit <see cref="Vector{T}"/> goes through the latter (the
    /// width test is a JIT-time constant); 128-bit hardware keeps <see cref="Vector.Exp(Vector{float})"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Exp(Vector<float> x)
        => Vector<float>.Count == Vector256<float>.Count ? Vector256.Exp(x.AsVector256()).AsVector() : Vector.Exp(x);
}
