using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

// Legend: a cache line is 64 bytes = 16 floats; a prefetch group is IMicroKernel.PrefetchLines contiguous lines.
// The GEMM reads its next block while the current one is multiplied: the data is prefetched into L2 in small steps
// inside the micro-kernels' depth loops, an equal share per register tile, so the requests neither come in one burst
// (which stalls the loads that feed the FMAs) nor arrive too late (a demand miss on a strided row costs ~100 ns).

public static partial class Gemm
{
    /// <summary>
    /// Data the driver reads after the current block: runs of contiguous cache lines a constant stride apart (one run
    /// for contiguous data, e.g. packed panels; one per row for the rows of an unpacked matrix). Default: nothing.
    /// </summary>
    internal readonly unsafe struct Lookahead
    {
        private readonly float* _start;
        private readonly int _runs;
        private readonly long _runLines, _runStride;

        private Lookahead(float* start, int runs, long runLines, long runStride)
        {
            _start = start; _runs = runs; _runLines = runLines; _runStride = runStride;
        }

        /// <summary>The cache lines of <paramref name="floats"/> contiguous floats from <paramref name="start"/> (64-byte aligned).</summary>
        public static Lookahead Contiguous(float* start, long floats) => floats > 0 ? new(start, 1, (floats + 15) / 16, 0) : default;

        /// <summary><paramref name="rows"/> rows of <paramref name="floats"/> floats each, <paramref name="stride"/> floats apart, the first at <paramref name="first"/>.</summary>
        public static Lookahead Strided(float* first, int rows, int floats, long stride)
        {
            if (rows <= 0 || floats <= 0) return default;
            float* start = (float*)((nuint)first & ~(nuint)63);
            long lines = ((first - start) + floats + 15) / 16;
            // Rows off the 64-byte grid straddle one line more than the first row does.
            if (stride % 16 != 0) lines++;
            return new(start, rows, lines, stride);
        }

        /// <summary>Share <paramref name="part"/> of <paramref name="parts"/> for a micro-kernel's depth loop of <paramref name="kc"/> steps (see <see cref="Share(long, long, int, int, out int, out long)"/>).</summary>
        public float* Share<TK>(long part, long parts, int kc, out int inLoopLines, out long stride) where TK : IMicroKernel
            => Share(part, parts, kc, TK.PrefetchLines, out inLoopLines, out stride);

        /// <summary>
        /// Share <paramref name="part"/> of <paramref name="parts"/> for a loop of <paramref name="steps"/> steps that
        /// prefetches a group of <paramref name="groupLines"/> contiguous lines every <paramref name="groupLines"/> steps:
        /// returns the first group, with <paramref name="inLoopLines"/> lines in groups <paramref name="stride"/> floats
        /// apart for the loop; what does not fit the loop is prefetched here. Null on hardware without x86 prefetch
        /// instructions or when there is nothing ahead.
        /// </summary>
        public float* Share(long part, long parts, int steps, int groupLines, out int inLoopLines, out long stride)
        {
            inLoopLines = 0; stride = 0;
            if (_start == null || !Sse.IsSupported) return null;
            return _start + Split(part, parts, steps, groupLines, prefetchRest: true, out inLoopLines, out stride, out _);
        }

        /// <summary>The first cache line of this lookahead (64-byte aligned); null when there is nothing ahead.</summary>
        public float* Start => _start;

        /// <summary>
        /// Where <see cref="Share(long, long, int, int, out int, out long)"/> would start, in floats from
        /// <see cref="Start"/>, without prefetching anything; false when part of the share would not fit the loop. A
        /// lookahead of the same shape at another start splits the same way, so a driver can work this out once per block.
        /// </summary>
        public bool TrySplit(long part, long parts, int steps, int groupLines, out long offset, out int inLoopLines, out long stride)
        {
            offset = 0; inLoopLines = 0; stride = 0;
            if (_start == null || !Sse.IsSupported) return false;
            offset = Split(part, parts, steps, groupLines, prefetchRest: false, out inLoopLines, out stride, out bool whole);
            return whole;
        }

        private long Split(long part, long parts, int steps, int groupLines, bool prefetchRest, out int inLoopLines, out long stride, out bool whole)
        {
            int lines = groupLines;
            // Units of one group each (int arithmetic: this runs once per register tile). One run: the units walk
            // along it. Many runs: down the runs, one group column after another, so a share's units are a constant
            // stride apart, the runs' stride.
            int groups = (int)((_runLines + lines - 1) / lines);
            int inner = _runs == 1 ? groups : _runs;
            long innerStep = _runs == 1 ? 16L * lines : _runStride, outerStep = 16L * lines;
            int units = _runs == 1 ? groups : _runs * groups;
            int u0 = (int)(units * part / parts), u1 = (int)(units * (part + 1) / parts);
            int column = _runs == 1 ? 0 : u0 / inner, row = u0 - column * inner;
            int inLoop = Math.Min(Math.Min(u1 - u0, inner - row), steps / lines);
            long first = column * outerStep + row * innerStep;
            whole = inLoop == u1 - u0;
            for (int u = u0 + inLoop; prefetchRest && u < u1; u++)
            {
                int c = _runs == 1 ? 0 : u / inner;
                float* group = _start + c * outerStep + (u - c * inner) * innerStep;
                for (int l = 0; l < lines; l++) Sse.Prefetch1(group + 16 * l);
            }
            inLoopLines = inLoop * lines;
            stride = innerStep;
            return first;
        }
    }
}
