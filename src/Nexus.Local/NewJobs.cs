using System.Globalization;
using k8s;
using k8s.Models;
using Server = Nexus.ApiServer.LocalApiServer;

namespace Nexus.Local;

/// <summary>
/// The Jobs a local Job controller (<see cref="LocalJobRunner"/>, the tests' FakeStepRunner) has to run, found with
/// the server's own wait helper, which re-checks on every write: each Job once, by uid, in creation order; suspended
/// and finished Jobs are left alone.
/// </summary>
public sealed class NewJobs(Server server, string? ns)
{
    private readonly HashSet<string> _seen = [];

    /// <summary>Completes with the Jobs not returned before, once there is at least one.</summary>
    public async Task<IReadOnlyList<V1Job>> NextAsync(CancellationToken cancellationToken)
    {
        List<V1Job> fresh = [];
        await server.WaitForAsync(() => (fresh = Unseen()).Count > 0, Timeout.InfiniteTimeSpan, cancellationToken);
        _seen.UnionWith(fresh.Select(job => job.Metadata.Uid));
        return fresh;
    }

    public static bool IsFinished(V1Job job) =>
        job.Status?.Conditions?.Any(c => c.Type is "Complete" or "Failed" && c.Status == "True") == true;

    private List<V1Job> Unseen() =>
        server.List("batch/v1", "jobs", ns)
            .Select(json => KubernetesJson.Deserialize<V1Job>(json.ToJsonString()))
            .Where(job => !_seen.Contains(job.Metadata.Uid) && job.Spec?.Suspend != true && !IsFinished(job))
            .OrderBy(job => long.Parse(job.Metadata.ResourceVersion, CultureInfo.InvariantCulture))
            .ToList();
}
