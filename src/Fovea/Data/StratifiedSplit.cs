namespace Fovea.Data;

/// <summary>Splits a labelled data set into training and validation parts with each class divided in the same proportion.</summary>
public static class StratifiedSplit
{
    /// <summary>
    /// Sample indices of the two parts. Within each class, a seeded shuffle picks round(n × fraction) samples for
    /// validation, but at least one and at most n − 1 when the class has two or more samples (a class of one sample
    /// stays in training). Both index lists are in increasing order; the same seed always gives the same split.
    /// </summary>
    /// <param name="data">Samples to split (only the labels are read).</param>
    /// <param name="validationFraction">Share of each class held out, in [0, 1). 0 puts everything in training.</param>
    /// <param name="seed">Seed of the shuffles.</param>
    public static (int[] Train, int[] Validation) Indices(IDataset data, double validationFraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!(validationFraction >= 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, $"Validation fraction must be in [0, 1); got {validationFraction}.");
        var byClass = new List<int>[data.ClassNames.Count];
        for (int c = 0; c < byClass.Length; c++) byClass[c] = new List<int>();
        for (int i = 0; i < data.Count; i++) byClass[data.GetLabel(i)].Add(i);

        var validation = new List<int>();
        for (int c = 0; c < byClass.Length; c++)
        {
            var members = byClass[c].ToArray();
            if (validationFraction == 0 || members.Length < 2) continue;
            // A generator per class (seed and class mixed) so a class's split does not depend on the sizes of the others.
            var rng = new SplitMix64(SplitMix64.Seed((ulong)(uint)seed, (ulong)c, 0x5354524154UL));
            for (int i = members.Length - 1; i > 0; i--)
            {
                int j = rng.NextInt(i + 1);
                (members[i], members[j]) = (members[j], members[i]);
            }
            int count = (int)Math.Round(members.Length * validationFraction, MidpointRounding.AwayFromZero);
            validation.AddRange(members[..Math.Clamp(count, 1, members.Length - 1)]);
        }
        validation.Sort();
        var held = new HashSet<int>(validation);
        var train = Enumerable.Range(0, data.Count).Where(i => !held.Contains(i)).ToArray();
        return (train, validation.ToArray());
    }

    /// <summary>The two parts of an in-memory data set as new data sets (see <see cref="Indices"/>).</summary>
    public static (InMemoryDataset Train, InMemoryDataset Validation) Split(InMemoryDataset data, double validationFraction, int seed)
    {
        var (train, validation) = Indices(data, validationFraction, seed);
        return (data.Subset(train), data.Subset(validation));
    }
}
