using Nexus.Operator.Hosting;
using Nexus.Operator.Tests.Controllers;
using Xunit.Abstractions;

namespace Nexus.Operator.Tests.Chart;

/// <summary>
/// The chart's RBAC is exactly what the operator does: the lifecycle story (every controller, Expert, NexusModel and
/// Extension, with leader election on and Events recorded) is told against the test API server, every request the
/// operator made is read from its log as the API server authorizes it (apiGroup, resource[/subresource], verb: a GET of
/// an object is get, of a collection list, with watch=true watch; POST create, PUT update, PATCH patch, DELETE delete),
/// and the chart's rules must grant each of them, and nothing beyond them but the allow-list below.
/// </summary>
public sealed class RbacCoverageTests(ITestOutputHelper output) : LifecycleStoryTest
{
    private const string Agent = "nexus-operator/rbac";

    /// <summary>Grants the story does not (or not always) exercise, each with the code path that needs it.</summary>
    private static readonly Dictionary<Grant, string> NotInTheStory = new()
    {
        // NexusModelReconciler.DeleteStaleJobsAsync (StepJobs.DeleteAsync): the Jobs a restarted build leaves behind
        // (a seed, router or finetune change while a revision is being built).
        [new Grant("batch", "jobs", "delete")] = "NexusModelReconciler.DeleteStaleJobsAsync",
        // NexusModelReconciler: a Failed Extension that no longer makes the change the selection needs is deleted, so
        // the Automatic policy can make the next one under its name.
        [new Grant("nexus.moe", "extensions", "delete")] = "NexusModelReconciler (DeleteNamespacedCustomObjectAsync of a failed Extension)",
        // ExtensionReconciler: an Extension a user made (Manual policy) gets its model as owner, by OwnerReferences.AddOwnerAsync;
        // the model's own Extensions are created owned.
        [new Grant("nexus.moe", "extensions", "patch")] = "ExtensionReconciler (OwnerReferences.AddOwnerAsync)",
        // EventRecorder: the same Event within 10 minutes patches its count and lastTimestamp.
        [new Grant("", "events", "patch")] = "KubernetesEventSink (PatchNamespacedEventAsync: Event aggregation)",
    };

    [Fact]
    public async Task TheChartsRules_GrantEveryRequestOfTheLifecycle_AndNothingElse()
    {
        await StartClusterAsync();
        var running = StartOperator(host => host
            .WithLeaderElection(new LeaderElectionOptions { LeaseNamespace = Ns, Identity = "rbac-0" })
            .AddNexusControllers(Settings), Agent);
        await TellStoryAsync();
        await running.StopAsync();
        AssertEachStepRanOnce();

        var requests = Server.Requests.All.Where(record => record.UserAgent == Agent).ToList();
        Assert.DoesNotContain(requests, record => record.Verb is "unknown" or "discovery");
        var observed = requests.Select(record => new Grant(
            record.Group ?? "", record.Subresource is null ? record.Resource! : $"{record.Resource}/{record.Subresource}", record.Verb)).ToHashSet();
        output.WriteLine($"observed: {string.Join("; ", observed.Order(Comparer<Grant>.Create((a, b) => string.CompareOrdinal(a.ToString(), b.ToString()))))}");

        var operatorGrants = ChartFiles.Grants(ChartFiles.Rules("operator-rules.yaml"));
        var leaseGrants = ChartFiles.Grants(ChartFiles.Rules("leader-election-rules.yaml"));
        var granted = operatorGrants.Union(leaseGrants).ToHashSet();
        Assert.Empty(observed.Except(granted).Select(grant => $"not granted: {grant}"));
        Assert.Empty(granted.Except(observed).Except(NotInTheStory.Keys).Select(grant => $"granted but never used: {grant}"));
        // An allow-listed grant the story happens to use (a repeated Event on a slow run) is fine; one not granted is not.
        Assert.Empty(NotInTheStory.Keys.Except(granted).Select(grant => $"allow-listed but not granted: {grant}"));

        // Leases only in the release namespace's Role, the rest only in the ClusterRole.
        Assert.All(leaseGrants, grant => Assert.Equal("leases", grant.Resource));
        Assert.DoesNotContain(operatorGrants, grant => grant.Resource == "leases");
        Assert.Contains(new Grant("coordination.k8s.io", "leases", "update"), observed);
        Assert.Contains(new Grant("", "events", "create"), observed);
        Assert.Contains(new Grant("nexus.moe", "extensions/status", "patch"), observed);
    }
}
