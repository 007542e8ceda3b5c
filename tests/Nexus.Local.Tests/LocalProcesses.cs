namespace Nexus.Local.Tests;

/// <summary>Tests that start real processes run alone: on a 2-core machine they would otherwise starve each other's
/// timing.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LocalProcesses
{
    public const string Name = "Local processes";
}
