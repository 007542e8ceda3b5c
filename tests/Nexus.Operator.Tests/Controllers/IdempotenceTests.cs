using k8s;
using k8s.Models;
using Nexus.Api.V1Alpha1;

namespace Nexus.Operator.Tests.Controllers;

/// <summary>
/// Idempotence: once the story has been told (no crashes), reconciling the unchanged world again makes no writes —
/// neither the running operator reconciling every object once more, nor a freshly started one that reconciles
/// everything from scratch with empty caches (not a status, not an Event).
/// </summary>
public sealed class IdempotenceTests : LifecycleStoryTest
{
    private const string Settled = "nexus-operator/settled";

    [Fact]
    public async Task ASettledWorld_ReconciledAgain_MakesNoWrites()
    {
        var running = await TellTheStoryAsync();
        var expertsDone = running.Host.Metrics.ReconcileTotal.WithLabels(Expert.KubeKind, "done");
        var modelsDone = running.Host.Metrics.ReconcileTotal.WithLabels(NexusModel.KubeKind, "done");
        var extensionsDone = running.Host.Metrics.ReconcileTotal.WithLabels(Extension.KubeKind, "done");
        var (experts, models, extensions) = (expertsDone.Value, modelsDone.Value, extensionsDone.Value);
        var mark = Server.Requests.Mark();

        // A change that is not the spec's reconciles each object again (the Experts' also the model that selects them).
        foreach (var domain in FinalDomains)
        {
            await TouchAsync<Expert>(Expert.KubePluralName, domain);
        }

        await TouchAsync<NexusModel>(NexusModel.KubePluralName, Model);
        await TouchAsync<Extension>(Extension.KubePluralName, "demo-r2");
        await TouchAsync<Extension>(Extension.KubePluralName, "demo-r3");
        await Until(() => Task.FromResult(expertsDone.Value >= experts + FinalDomains.Length && modelsDone.Value >= models + 1 && extensionsDone.Value >= extensions + 2),
            "every object was reconciled again");
        await Task.Delay(500);

        var writes = Server.Requests.Writes(mark).Where(record => record.UserAgent == Settled).ToList();
        Assert.Empty(writes);
        Assert.Equal(0, new[] { Expert.KubeKind, NexusModel.KubeKind, Extension.KubeKind }.Sum(kind => running.Host.Metrics.ReconcileErrors.WithLabels(kind).Value));
    }

    [Fact]
    public async Task AFreshlyStartedOperator_ReconcilingEverythingFromScratch_MakesNoWrites()
    {
        var settled = await TellTheStoryAsync();
        await settled.StopAsync();
        var mark = Server.Requests.Mark();

        var fresh = StartNexusOperator("nexus-operator/fresh");
        var expertsDone = fresh.Host.Metrics.ReconcileTotal.WithLabels(Expert.KubeKind, "done");
        var modelsDone = fresh.Host.Metrics.ReconcileTotal.WithLabels(NexusModel.KubeKind, "done");
        var extensionsDone = fresh.Host.Metrics.ReconcileTotal.WithLabels(Extension.KubeKind, "done");
        await Until(() => Task.FromResult(expertsDone.Value >= FinalDomains.Length && modelsDone.Value >= 1 && extensionsDone.Value >= 2),
            "the fresh operator reconciled every object");
        await Task.Delay(500);

        Assert.Empty(Server.Requests.Writes(mark));
        AssertEachStepRanOnce();
        await AssertTheStatusesTellTheTruthAsync();
    }

    /// <summary>Tells the story to one operator, then waits until it has written nothing for a while (the Events of its
    /// last status are written in the background).</summary>
    private async Task<RunningOperator> TellTheStoryAsync()
    {
        await StartClusterAsync();
        var running = StartNexusOperator(Settled);
        await TellStoryAsync();
        AssertEachStepRanOnce();
        await AssertTheStatusesTellTheTruthAsync();
        await Until(
            () => Task.FromResult(Server.Requests.All.LastOrDefault(record => record.UserAgent == Settled && record.IsWrite) is not { } last
                                  || DateTimeOffset.UtcNow - last.Time > TimeSpan.FromMilliseconds(400)),
            "the operator stopped writing");
        return running;
    }

    private Task TouchAsync<T>(string plural, string name) => Client.CustomObjects.PatchNamespacedCustomObjectAsync<T>(
        new V1Patch("""{"metadata":{"labels":{"touched":"yes"}}}""", V1Patch.PatchType.MergePatch),
        Expert.KubeGroup, Expert.KubeApiVersion, Ns, plural, name);
}
