using System.Text.Json;
using k8s;
using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Hosting;
using Nexus.Operator.Specs;

namespace Nexus.Operator.Tests.Controllers;

/// <summary>
/// The NexusModel controller, registered as <c>nexus-operator run</c> registers it, against the test API server with the
/// real CRDs and a file:// artifact root. The Experts are given a Ready status through /status (the Expert controller
/// does not run here); the tests play the Job controller, the worker and the Deployment controller: marking a Job
/// succeeded first publishes a small fake artifact at its <c>nexus.moe/output</c>, as the step would.
/// </summary>
public sealed class NexusModelReconcilerTests : LifecycleTest
{
    [Fact]
    public async Task BuildsRevision1ThroughUpcycleFinetuneEvaluate_ThenServesIt_AndASettledWorldMakesNoWrites()
    {
        await CreateReadyExpertAsync("news");
        await CreateReadyExpertAsync("science");
        StartOperator(host => host.AddNexusModelController(Settings));
        await CreateModelAsync();

        var upcycling = await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Upcycling && m.Status.ActiveJob == "demo-upcycle-r1", "Upcycling");
        Assert.Equal(Reasons.Upcycling, Conditions.Get(upcycling.Status!.Conditions, ConditionTypes.Reconciling)!.Reason);
        Assert.True(Conditions.IsTrue(upcycling.Status.Conditions, ConditionTypes.ExpertsReady));
        Assert.Null(await FindJobAsync("demo-finetune-r1"));

        await Steps.SucceedAsync("demo-upcycle-r1");
        await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Finetuning && m.Status.ActiveJob == "demo-finetune-r1", "Finetuning");
        Assert.Null(await FindJobAsync("demo-evaluate-r1"));
        var weights = await Steps.SucceedAsync("demo-finetune-r1");
        var evaluating = await WaitForAsync(m => m.Status?.ActiveJob == "demo-evaluate-r1", "Evaluating");
        Assert.Equal(Reasons.Evaluating, Conditions.Get(evaluating.Status!.Conditions, ConditionTypes.Reconciling)!.Reason);
        await Steps.SucceedAsync("demo-evaluate-r1");

        var rollingOut = await WaitForAsync(m => m.Status?.CurrentRevision == 1 && m.Status.Phase == NexusModelPhase.RollingOut, "rolling out revision 1");
        var revision = Assert.Single(rollingOut.Status!.Revisions!);
        Assert.Equal((1, RevisionReason.Initial), (revision.Revision, revision.Reason));
        Assert.Equal([("news", "news"), ("science", "science")], revision.Experts!.Select(e => (e.Name, e.Domain!)));
        Assert.All(revision.Experts!, e => Assert.Equal(Sha(e.Name), e.CheckpointSha256));
        Assert.Equal(new ArtifactPaths(Settings).RevisionModel(rollingOut, 1), revision.Model!.Uri);
        Assert.Equal(weights, revision.Model.Sha256);
        Assert.Equal(10.0, revision.Metrics!.Perplexity!["news"]);
        Assert.Equal(0.8, revision.Metrics.RoutingShare!["science"]);
        Assert.Equal(8192, revision.Metrics.EvaluatedTokens);
        Assert.Equal(Nexus.Operator.Policies.RevisionPolicy.BuildSpecHash(rollingOut.Spec), revision.BuildSpecHash);
        Assert.Null(rollingOut.Status.ServedRevision);
        // One create per step, each only once the step before it had published (checked above); a Job is never updated.
        Assert.Equal(["create", "create", "create"], Server.Requests.All.Where(r => r.Resource == "jobs" && r.IsWrite).Select(r => r.Verb));

        await Until(async () => await FindDeploymentAsync() is not null, "the Deployment exists");
        Assert.Equal("1", (await FindDeploymentAsync())!.Spec.Template.Metadata.Annotations[Annotations.Revision]);
        Assert.Equal(8080, (await Client.CoreV1.ReadNamespacedServiceAsync(Model, Ns)).Spec.Ports[0].Port);

        Server.Deployments.MakeReady(Ns, Model);
        var ready = await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Ready, "Ready");
        var status = ready.Status!;
        Assert.Equal((1, 1, 1), (status.CurrentRevision, status.ServedRevision, status.ReadyReplicas));
        Assert.Equal("http://demo.default.svc:8080", status.Endpoint);
        Assert.Equal(["news", "science"], status.Experts);
        Assert.Equal(2, status.ExpertCount);
        Assert.Null(status.ActiveJob);
        Assert.True(Conditions.IsTrue(status.Conditions, ConditionTypes.Ready));
        Assert.True(Conditions.IsTrue(status.Conditions, ConditionTypes.RevisionReady));
        Assert.True(Conditions.IsTrue(status.Conditions, ConditionTypes.Available));
        Assert.Equal(Reasons.UpToDate, Conditions.Get(status.Conditions, ConditionTypes.Ready)!.Reason);
        Assert.Null(Conditions.Get(status.Conditions, ConditionTypes.Reconciling));

        // Settled: a change that is not the spec's reconciles the model again, and nothing is written.
        await Task.Delay(300);
        await Client.CustomObjects.PatchNamespacedCustomObjectAsync<NexusModel>(
            new V1Patch("""{"metadata":{"labels":{"touched":"yes"}}}""", V1Patch.PatchType.MergePatch),
            NexusModel.KubeGroup, NexusModel.KubeApiVersion, Ns, NexusModel.KubePluralName, Model);
        var settled = Server.Requests.Mark();
        await Task.Delay(500);
        Assert.Empty(Server.Requests.Writes(settled));
    }

    [Fact]
    public async Task ASelectedExpertNotReady_WaitsForExperts_NamingIt_AndCreatesNoJob()
    {
        await CreateReadyExpertAsync("news");
        await CreateExpertAsync("science");
        StartOperator(host => host.AddNexusModelController(Settings));
        await CreateModelAsync();

        var waiting = await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Pending, "Pending");
        var reconciling = Conditions.Get(waiting.Status!.Conditions, ConditionTypes.Reconciling)!;
        Assert.Equal(Reasons.WaitingForExperts, reconciling.Reason);
        Assert.Contains("science", reconciling.Message);
        Assert.Equal(Reasons.WaitingForExperts, Conditions.Get(waiting.Status.Conditions, ConditionTypes.Ready)!.Reason);
        Assert.Equal(Conditions.False, Conditions.Get(waiting.Status.Conditions, ConditionTypes.ExpertsReady)!.Status);
        await Task.Delay(300);
        Assert.Equal(0, Server.Requests.Count("create", "jobs"));

        // The Expert becoming Ready reconciles the model, which starts building.
        await MarkExpertReadyAsync("science");
        await WaitForAsync(m => m.Status?.ActiveJob == "demo-upcycle-r1", "upcycling once every Expert is Ready");
    }

    [Fact]
    public async Task AFailedFinetuneJobFailsTheModelWithTheJobsReason()
    {
        await CreateReadyExpertAsync("news");
        await CreateReadyExpertAsync("science");
        StartOperator(host => host.AddNexusModelController(Settings));
        await CreateModelAsync();
        await WaitForJobAsync("demo-upcycle-r1");
        await Steps.SucceedAsync("demo-upcycle-r1");
        await WaitForJobAsync("demo-finetune-r1");
        Server.Jobs.MarkFailed(Ns, "demo-finetune-r1", exitCode: 137, podReason: "OOMKilled");

        // The Job's and the pod's watch events arrive in either order: the message names the pod once both have.
        var failed = await WaitForAsync(
            m => m.Status?.Phase == NexusModelPhase.Failed
                 && Conditions.Get(m.Status.Conditions, ConditionTypes.Stalled)?.Message.Contains("OOMKilled", StringComparison.Ordinal) == true,
            "Failed with the pod's reason");
        var stalled = Conditions.Get(failed.Status!.Conditions, ConditionTypes.Stalled)!;
        Assert.Equal(("True", "BackoffLimitExceeded"), (stalled.Status, stalled.Reason));
        Assert.Contains("Job demo-finetune-r1 failed (BackoffLimitExceeded): pod demo-finetune-r1-", stalled.Message);
        Assert.Contains("OOMKilled (exit code 137)", stalled.Message);
        Assert.Null(failed.Status.Revisions);
        Assert.Null(await FindJobAsync("demo-evaluate-r1"));
        Assert.Null(await FindDeploymentAsync());
    }

    [Fact]
    public async Task ARouterChangeRebuildsAsRevision2_AndTheDeploymentRollsWhileRevision1StaysServed()
    {
        await CreateReadyExpertAsync("news");
        await CreateReadyExpertAsync("science");
        StartOperator(host => host.AddNexusModelController(Settings));
        await CreateModelAsync();
        await BuildAsync(1);
        await Until(async () => await FindDeploymentAsync() is not null, "the Deployment exists");
        Server.Deployments.MakeReady(Ns, Model);
        await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Ready, "Ready at revision 1");

        await Client.CustomObjects.PatchNamespacedCustomObjectAsync<NexusModel>(
            new V1Patch("""{"spec":{"router":{"topK":2}}}""", V1Patch.PatchType.MergePatch),
            NexusModel.KubeGroup, NexusModel.KubeApiVersion, Ns, NexusModel.KubePluralName, Model);
        var rebuilding = await WaitForAsync(m => m.Status?.ActiveJob == "demo-upcycle-r2", "upcycling revision 2");
        Assert.Equal((1, 1), (rebuilding.Status!.CurrentRevision, rebuilding.Status.ServedRevision));
        await BuildAsync(2);

        var rolling = await WaitForAsync(m => m.Status?.CurrentRevision == 2 && m.Status.Phase == NexusModelPhase.RollingOut, "rolling out revision 2");
        Assert.Equal(1, rolling.Status!.ServedRevision);
        Assert.Equal([1, 2], rolling.Status.Revisions!.Select(r => r.Revision));
        Assert.Equal(RevisionReason.Rebuild, rolling.Status.Revisions![1].Reason);
        Assert.False(Conditions.IsTrue(rolling.Status.Conditions, ConditionTypes.Ready));
        await Until(async () => (await FindDeploymentAsync())!.Spec.Template.Metadata.Annotations[Annotations.Revision] == "2", "the Deployment runs revision 2");
        Assert.Contains(new ArtifactPaths(Settings).RevisionModel(rolling, 2), (await FindDeploymentAsync())!.Spec.Template.Spec.Containers[0].Args);
        await Task.Delay(200);
        Assert.Equal(1, (await GetModelAsync()).Status!.ServedRevision);

        Server.Deployments.MakeReady(Ns, Model);
        var ready = await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Ready, "Ready at revision 2");
        Assert.Equal((2, 2), (ready.Status!.CurrentRevision, ready.Status.ServedRevision));
        Assert.True(Conditions.IsTrue(ready.Status.Conditions, ConditionTypes.Ready));
    }

    private async Task BuildAsync(int revision)
    {
        foreach (var step in new[] { "upcycle", "finetune", "evaluate" })
        {
            var job = $"demo-{step}-r{revision}";
            await WaitForJobAsync(job);
            await Steps.SucceedAsync(job);
        }
    }

    private async Task CreateReadyExpertAsync(string domain)
    {
        await CreateExpertAsync(domain);
        await MarkExpertReadyAsync(domain);
    }

    /// <summary>What the Expert controller writes once both artifacts are in the store.</summary>
    private async Task MarkExpertReadyAsync(string domain)
    {
        var folder = $"file://{Root}/artifacts/{Ns}/experts/{domain}";
        var status = new ExpertStatus
        {
            Phase = ExpertPhase.Ready,
            ObservedGeneration = 1,
            Artifacts = new ExpertArtifacts
            {
                Checkpoint = new ArtifactReference { Uri = $"{folder}/run/model", Sha256 = Sha(domain) },
                Embedding = new ArtifactReference { Uri = $"{folder}/embedding.json", Sha256 = Sha(domain + "-embedding") },
            },
        };
        Conditions.MarkReady(status, Reasons.Succeeded, "Checkpoint and embedding are in the artifact store.", 1, DateTimeOffset.UtcNow);
        await Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(
            new V1Patch(KubernetesJson.Serialize(new { status }), V1Patch.PatchType.MergePatch),
            Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName, domain);
    }

    private static string Sha(string text) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));

    private Task<NexusModel> GetModelAsync() =>
        Client.CustomObjects.GetNamespacedCustomObjectAsync<NexusModel>(NexusModel.KubeGroup, NexusModel.KubeApiVersion, Ns, NexusModel.KubePluralName, Model);

    private async Task<NexusModel> WaitForAsync(Func<NexusModel, bool> condition, string because)
    {
        NexusModel? last = null;
        await Until(async () => condition(last = await GetModelAsync()), $"the model is {because} (last status: {JsonSerializer.Serialize(last?.Status)})");
        return last!;
    }

    private async Task<V1Deployment?> FindDeploymentAsync() =>
        (await Client.AppsV1.ListNamespacedDeploymentAsync(Ns)).Items.FirstOrDefault(d => d.Metadata.Name == Model);
}
