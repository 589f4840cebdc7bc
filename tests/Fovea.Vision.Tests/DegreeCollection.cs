namespace Fovea.Vision.Tests;

// Parallelism.Degree is process-wide: test classes that change it run alone, after the parallel ones.
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DegreeCollection
{
    public const string Name = "Changes Parallelism.Degree";
}
