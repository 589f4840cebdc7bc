namespace Fovea.Tests;

// Parallelism.Degree is process-wide. Test classes that change it join this collection, which xunit runs alone, after
// the parallel ones: a test running beside them would otherwise see its degree, and so its reduction order, change
// halfway (seeded runs compared bit for bit would differ).
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DegreeCollection
{
    public const string Name = "Changes Parallelism.Degree";
}
