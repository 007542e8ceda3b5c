using Nexus.Operator.Specs;

namespace Nexus.Operator.Tests.Support;

/// <summary>How <see cref="LocalJobRunner"/> turns a Job's container into a local process.</summary>
public sealed record LocalJobRunnerOptions
{
    /// <summary>The local <c>nexus</c> binary that stands for the worker image; by default the Release build in this
    /// checkout (<see cref="LocalNexus.Path"/>).</summary>
    public string NexusPath { get; init; } = LocalNexus.Path;

    /// <summary>Image → local binary that replaces the container's command (its first word; the rest of the command
    /// and the args follow unchanged). Null: only <see cref="OperatorSettings.WorkerImage"/>'s default → <see cref="NexusPath"/>.</summary>
    public IReadOnlyDictionary<string, string>? Images { get; init; }

    /// <summary>Environment values set after the container's own, e.g. NEXUS_S3_ENDPOINT → the s3rver fixture's URL.</summary>
    public IReadOnlyDictionary<string, string> EnvironmentOverrides { get; init; } = new Dictionary<string, string>();

    /// <summary>Wall-clock limit of one step's process; past it the process is killed and the Job fails with
    /// DeadlineExceeded.</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Processes running at once; the others' Jobs wait, not yet running, as on a full node.</summary>
    public int MaxParallel { get; init; } = 1;

    /// <summary>Only Jobs in this namespace; null: every namespace.</summary>
    public string? Namespace { get; init; }

    internal IReadOnlyDictionary<string, string> ResolvedImages =>
        Images ?? new Dictionary<string, string> { [new OperatorSettings().WorkerImage] = NexusPath };

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

/// <summary>Where the <c>nexus</c> binary of this checkout is: <c>src/Nexus.Cli/bin/CONFIGURATION/net10.0/linux-x64/nexus</c>
/// (built by <c>make build</c>, or <c>dotnet build src/Nexus.Cli -c Release</c>).</summary>
public static class LocalNexus
{
    public static string Path
    {
        get
        {
            var root = RepositoryRoot.Path;
            var configuration = AppContext.BaseDirectory.Contains($"{System.IO.Path.DirectorySeparatorChar}Debug{System.IO.Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                ? "Debug"
                : "Release";
            return System.IO.Path.Combine(root, "src", "Nexus.Cli", "bin", configuration, "net10.0", "linux-x64", "nexus");
        }
    }

    /// <summary>Fails with the command that builds the binary when it is missing.</summary>
    public static string Require()
    {
        var path = Path;
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"The nexus binary is not built: {path}. Run `dotnet build src/Nexus.Cli -c Release` (or `make build`).", path);
    }

}
