using k8s;
using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Hosting;

namespace Nexus.Operator.Tests.Controllers;

/// <summary>
/// What a user sees when something goes wrong, with every controller running as <c>nexus-operator run</c> runs them: a
/// failing training Job fails its Expert with the pod's reason, the NexusModel names the Expert that blocks it, and
/// fixing the Expert's spec recovers the whole chain; a spec the schema admits but the operator cannot carry out stalls
/// with a message naming the field, without a crash loop.
/// </summary>
public sealed class FailureStoryTests : ModelLifecycleTest
{
    [Fact]
    public async Task AFailedTrainingJobFailsItsExpert_TheModelNamesIt_AndFixingTheSpecRecoversBoth()
    {
        StartOperator(host => host.AddNexusControllers(Settings));
        await CreateExpertAsync("news");
        await CreateExpertAsync("science");
        await CreateModelAsync();
        foreach (var job in new[] { "news-train-g1", "news-embed-g1" })
        {
            await WaitForJobAsync(job);
            await Steps.SucceedAsync(job);
        }

        await WaitForJobAsync("science-train-g1");
        Server.Jobs.MarkFailed(Ns, "science-train-g1", exitCode: 137, podReason: "OOMKilled");

        var blocked = await WaitForAsync(
            m => Conditions.Get(m.Status?.Conditions, ConditionTypes.ExpertsReady)?.Message.Contains("OOMKilled", StringComparison.Ordinal) == true,
            "blocked by the failed Expert");
        var experts = Conditions.Get(blocked.Status!.Conditions, ConditionTypes.ExpertsReady)!;
        Assert.Equal((Conditions.False, Reasons.ExpertFailed), (experts.Status, experts.Reason));
        Assert.Contains("Expert science (Job science-train-g1 failed (BackoffLimitExceeded)", experts.Message);
        Assert.Contains("fix the Expert's spec or deselect it", experts.Message);
        Assert.Equal(Reasons.ExpertFailed, Conditions.Get(blocked.Status.Conditions, ConditionTypes.Ready)!.Reason);
        Assert.Null(await FindJobAsync("demo-upcycle-r1"));

        await Client.CustomObjects.PatchNamespacedCustomObjectAsync<Expert>(
            new V1Patch("""{"spec":{"resources":{"memory":"16Gi"}}}""", V1Patch.PatchType.MergePatch),
            Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName, "science");
        foreach (var job in new[] { "science-train-g2", "science-embed-g2" })
        {
            await WaitForJobAsync(job);
            await Steps.SucceedAsync(job);
        }

        await BuildAsync(1);
        await Until(async () => await FindDeploymentAsync() is not null, "the Deployment exists");
        Server.Deployments.MakeReady(Ns, Model);
        var ready = await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Ready, "Ready");
        Assert.Equal(["news", "science"], ready.Status!.Experts);
        Assert.True(Conditions.IsTrue(ready.Status.Conditions, ConditionTypes.ExpertsReady));
    }

    [Fact]
    public async Task ASpecTheSchemaAdmitsButTheOperatorCannotCarryOut_StallsNamingTheField_WithoutRetrying()
    {
        // The Experts are Ready by their status alone: the Expert controller does not run.
        StartOperator(host => host.AddNexusModelController(Settings));
        await CreateReadyExpertAsync("news");
        await CreateReadyExpertAsync("science");
        await CreateModelAsync(configure: spec => spec.Finetune.Mix = new DataMix
        {
            Type = MixType.Explicit,
            Weights = [new DomainWeight { Domain = "poetry", Weight = 1 }],
        });

        var stalled = await WaitForAsync(
            m => Conditions.Get(m.Status?.Conditions, ConditionTypes.Stalled)?.Message.Contains("poetry", StringComparison.Ordinal) == true
                 && m.Status!.ObservedGeneration == 1,
            "Stalled on the mix");
        var condition = Conditions.Get(stalled.Status!.Conditions, ConditionTypes.Stalled)!;
        Assert.Equal(Reasons.InvalidSpec, condition.Reason);
        Assert.Contains("spec.finetune.mix.weights names domain poetry", condition.Message);

        // Terminal: one Warning, no retry loop, no Job for a build that cannot be made.
        await Until(async () => (await Client.CoreV1.ListNamespacedEventAsync(Ns)).Items.Any(e => e.Reason == Reasons.InvalidSpec && e.Type == "Warning"),
            "the Warning Event is recorded");
        var settled = Server.Requests.Mark();
        await Task.Delay(1000);
        Assert.Empty(Server.Requests.Writes(settled));
        Assert.Equal(0, Server.Requests.Count("create", "jobs"));
    }
}
