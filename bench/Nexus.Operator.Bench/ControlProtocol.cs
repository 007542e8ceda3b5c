using System.Text.Json;
using System.Text.Json.Serialization;

namespace Nexus.Operator.Bench;

/// <summary>
/// The control channel between <c>scale</c> and its <c>apiserver</c> child: one command per line on the child's stdin
/// (<c>NAME [JSON]</c>), one answer per line on its stdout (<c>ok JSON</c> or <c>error MESSAGE</c>). The child's first
/// line is the server's URL.
/// </summary>
internal static class ControlProtocol
{
    public const string CreateNamespace = "namespace";
    public const string Load = "load";
    public const string Mark = "mark";
    public const string Requests = "requests";
    public const string Quit = "quit";

    public const string Ok = "ok";
    public const string Error = "error";

    /// <summary>User-Agents that tell the requests apart in the server's log.</summary>
    public static class Agents
    {
        public const string Operator = "nexus-operator-bench";
        public const string Loader = "nexus-bench-loader";
        public const string Observer = "nexus-bench-observer";
    }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>Create <paramref name="Count"/> Experts named PREFIX0001... in a namespace, <paramref name="Concurrency"/> at
/// a time; with <paramref name="Observe"/>, also wait until each one's status shows its generation observed and a Job
/// controlled by it exists.</summary>
internal sealed record LoadRequest(string Namespace, string Prefix, int Count, int Concurrency, bool Observe, double TimeoutSeconds);

/// <param name="CreateSeconds">From the first create sent to the last one answered.</param>
/// <param name="ReconciledSeconds">From the first create sent until the observer saw the last Expert reconciled.</param>
/// <param name="ApiServerCpuSeconds">CPU time of the API server process (loader and observer included) meanwhile.</param>
internal sealed record LoadResult(int Created, double CreateSeconds, double? ReconciledSeconds, double ApiServerCpuSeconds);

/// <summary>Requests the server answered since a mark, counted by who sent them and what they were.</summary>
internal sealed record RequestCount(string Agent, string Verb, string? Resource, string? Subresource, int StatusCode, bool IsWrite, int Count);

internal sealed record RequestSnapshot(long Mark, IReadOnlyList<RequestCount> Counts)
{
    public IEnumerable<RequestCount> From(string agent) => Counts.Where(count => count.Agent == agent);

    public int Total(string agent) => From(agent).Sum(count => count.Count);

    public int Writes(string agent) => From(agent).Where(count => count.IsWrite).Sum(count => count.Count);

    public int WritesByAnyone() => Counts.Where(count => count.IsWrite).Sum(count => count.Count);
}
