using Nexus.Operator.Specs;

namespace Nexus.Local;

/// <summary>How <see cref="LocalJobRunner"/> turns a Job's container into a local process.</summary>
public sealed record LocalJobRunnerOptions
{
    /// <summary>The local <c>nexus</c> binary that stands for the worker image (<c>nexus run</c>: its own executable).</summary>
    public required string NexusPath { get; init; }

    /// <summary>Image → local binary that replaces the container's command (its first word; the rest of the command
    /// and the args follow unchanged). Null: only <see cref="OperatorSettings.WorkerImage"/>'s default → <see cref="NexusPath"/>.</summary>
    public IReadOnlyDictionary<string, string>? Images { get; init; }

    /// <summary>Environment values set after the container's own, e.g. NEXUS_S3_ENDPOINT → a local S3 endpoint.</summary>
    public IReadOnlyDictionary<string, string> EnvironmentOverrides { get; init; } = new Dictionary<string, string>();

    /// <summary>Wall-clock limit of one step's process; past it the process is killed and the Job fails with
    /// DeadlineExceeded.</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>When set, every step process's output (stdout and stderr lines as they come) is also written to
    /// <c>LOGFOLDER/NAMESPACE/JOB.log</c>, which outlives the runner (<c>nexus run</c>: <c>ROOT/logs</c>).</summary>
    public string? LogFolder { get; init; }

    /// <summary>Processes running at once; the others' Jobs wait, not yet running, as on a full node.</summary>
    public int MaxParallel { get; init; } = 1;

    /// <summary>Only Jobs in this namespace; null: every namespace.</summary>
    public string? Namespace { get; init; }

    internal IReadOnlyDictionary<string, string> ResolvedImages => LocalContainers.ImagesOr(Images, NexusPath);

    internal LocalJobRunnerOptions Validate()
    {
        if (MaxParallel < 1)
        {
            throw new ArgumentException($"{nameof(MaxParallel)} is {MaxParallel}; it must be at least 1.");
        }

        if (StepTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(StepTimeout)} must be positive.");
        }

        return this;
    }
}
