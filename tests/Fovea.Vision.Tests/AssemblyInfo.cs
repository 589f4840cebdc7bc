// Tests here train networks and time a ResNet-sized pass on a shared 2-core machine, and the CLI test sets the global
// Parallelism.Degree: run them one at a time so results and timings do not depend on what runs alongside.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
