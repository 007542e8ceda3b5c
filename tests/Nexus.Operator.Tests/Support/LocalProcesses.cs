namespace Nexus.Operator.Tests.Support;

/// <summary>Tests that start real `nexus` processes run alone, after the rest: on a 2-core machine they would otherwise
/// starve the timing-sensitive runtime tests running beside them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LocalProcesses
{
    public const string Name = "Local processes";
}
