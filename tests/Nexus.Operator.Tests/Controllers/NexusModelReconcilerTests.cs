using System.Text.Json;
using k8s;
using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Controllers;
using Nexus.Operator.Hosting;
using Nexus.Operator.Policies;
using Nexus.Operator.Specs;
using Nexus.Storage;

namespace Nexus.Operator.Tests.Controllers;

/// <summary>
/// The NexusModel controller, registered as <c>nexus-operator run</c> registers it, against the test API server with the
/// real CRDs and a file:// artifact root. The Experts are given a Ready status through /status (the Expert controller
/// does not run here); the tests play the Job controller, the worker and the Deployment controller: marking a Job
/// succeeded first publishes a small fake artifact at its <c>nexus.moe/output</c>, as the step would.
/// </summary>
public sealed class NexusModelReconcilerTests : ModelLifecycleTest
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
        Assert.Equal(new ArtifactPaths(Settings).RevisionModel(rollingOut, await ExpectedBuildAsync(rollingOut, 1)), revision.Model!.Uri);
        Assert.Equal(weights, revision.Model.Sha256);
        Assert.Equal(10.0, revision.Metrics!.Perplexity!["news"]);
        Assert.Equal(0.8, revision.Metrics.RoutingShare!["science"]);
        Assert.Equal(8192, revision.Metrics.EvaluatedTokens);
        Assert.Equal(RevisionPolicy.BuildSpecHash(rollingOut.Spec), revision.BuildSpecHash);
        Assert.Null(rollingOut.Status.ServedRevision);
        // One create per step, each only once the step before it had published (checked above); a Job is never updated.
        // (A create answered 409, while the Job cache lagged, made nothing.)
        Assert.All(Server.Requests.All.Where(r => r.Resource == "jobs" && r.IsWrite), r => Assert.Equal("create", r.Verb));
        Assert.Equal(["demo-upcycle-r1", "demo-finetune-r1", "demo-evaluate-r1"],
            Server.Requests.All.Where(r => r is { Verb: "create", Resource: "jobs", StatusCode: 201 }).Select(r => r.Name));

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
        await FailTheFinetuneAsync(exitCode: 137, podReason: "OOMKilled");

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
        await ServeRevision1Async();

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
        Assert.Contains(new ArtifactPaths(Settings).RevisionModel(rolling, await ExpectedBuildAsync(rolling, 2)), (await FindDeploymentAsync())!.Spec.Template.Spec.Containers[0].Args);
        await Task.Delay(200);
        Assert.Equal(1, (await GetModelAsync()).Status!.ServedRevision);

        Server.Deployments.MakeReady(Ns, Model);
        var ready = await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Ready, "Ready at revision 2");
        Assert.Equal((2, 2), (ready.Status!.CurrentRevision, ready.Status.ServedRevision));
        Assert.True(Conditions.IsTrue(ready.Status.Conditions, ConditionTypes.Ready));
    }

    [Fact]
    public async Task SwitchingTheRuntime_RollsTheSameDeployment_ToVllmAndBack_LeavingNothingOfVllmBehind()
    {
        await CreateReadyExpertAsync("news");
        await CreateReadyExpertAsync("science");
        StartOperator(host => host.AddNexusModelController(Settings));
        await CreateModelAsync();
        await ServeRevision1Async();
        var builtin = (await FindDeploymentAsync())!;

        await PatchServingAsync("""{"runtime":"vllm"}""");
        await Until(async () => (await FindDeploymentAsync())!.Spec.Template.Spec.Containers.Single().Name == ServingDeployment.VllmContainerName,
            "the Deployment runs vLLM");
        var vllm = (await FindDeploymentAsync())!;
        Assert.Equal(builtin.Metadata.Uid, vllm.Metadata.Uid); // the same Deployment, rolled
        Assert.Equal(ServingDeployment.ExportContainerName, Assert.Single(vllm.Spec.Template.Spec.InitContainers).Name);
        Assert.Equal("1", vllm.Spec.Template.Metadata.Annotations[Annotations.Revision]);
        Assert.NotEqual(builtin.Metadata.Annotations[Annotations.SpecHash], vllm.Metadata.Annotations[Annotations.SpecHash]);
        Assert.Contains(vllm.Spec.Template.Spec.Volumes, volume => volume.Name == ServingDeployment.SharedMemoryVolume);

        await PatchServingAsync("""{"runtime":"builtin"}""");
        await Until(async () => (await FindDeploymentAsync())!.Spec.Template.Spec.Containers.Single().Name == WorkerPod.ContainerName,
            "the Deployment runs nexus serve again");
        var back = (await FindDeploymentAsync())!;
        Assert.Null(back.Spec.Template.Spec.InitContainers);
        Assert.DoesNotContain(back.Spec.Template.Spec.Volumes, volume => volume.Name == ServingDeployment.SharedMemoryVolume);
        Assert.Equal(builtin.Metadata.Annotations[Annotations.SpecHash], back.Metadata.Annotations[Annotations.SpecHash]);
        Assert.Equal(KubernetesJson.Serialize(builtin.Spec.Template), KubernetesJson.Serialize(back.Spec.Template));

        // Settled again: reconciling the model writes nothing to the Deployment.
        var settled = Server.Requests.Mark();
        await Client.CustomObjects.PatchNamespacedCustomObjectAsync<NexusModel>(
            new V1Patch("""{"metadata":{"labels":{"touched":"yes"}}}""", V1Patch.PatchType.MergePatch),
            NexusModel.KubeGroup, NexusModel.KubeApiVersion, Ns, NexusModel.KubePluralName, Model);
        await Task.Delay(500);
        Assert.DoesNotContain(Server.Requests.Writes(settled), request => request.Resource == "deployments");
    }

    /// <summary>Builds revision 1, lets its Deployment become ready and waits until the model is Ready on it.</summary>
    private async Task ServeRevision1Async()
    {
        await BuildAsync(1);
        await Until(async () => await FindDeploymentAsync() is not null, "the Deployment exists");
        Server.Deployments.MakeReady(Ns, Model);
        await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Ready, "Ready at revision 1");
    }

    private Task PatchServingAsync(string serving) =>
        Client.CustomObjects.PatchNamespacedCustomObjectAsync<NexusModel>(
            new V1Patch("""{"spec":{"serving":""" + serving + "}}", V1Patch.PatchType.MergePatch),
            NexusModel.KubeGroup, NexusModel.KubeApiVersion, Ns, NexusModel.KubePluralName, Model);

    [Fact]
    public async Task AFailedFinetune_RecoversWhenSpecFinetuneChanges_TheStaleJobsGo_AndRevision1IsBuiltAnewToReady()
    {
        await FailTheFinetuneAsync(exitCode: 1, podReason: "Error");
        var failed = await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Failed, "Failed");
        Assert.Contains("fix what the build is made from", failed.Status!.Message);
        Assert.Contains("or delete Job demo-finetune-r1", failed.Status.Message);
        var staleUpcycle = (await FindJobAsync("demo-upcycle-r1"))!;
        var oldBuild = await ExpectedBuildAsync(failed, 1);
        Assert.Equal(oldBuild.Id, staleUpcycle.Metadata.Annotations[Annotations.Build]);

        await PatchModelAsync("""{"spec":{"finetune":{"steps":60}}}""");

        // The new upcycle Job is created only once both stale Jobs are gone: the failed finetune is deleted too.
        await Until(async () => await FindJobAsync("demo-upcycle-r1") is { } job && job.Metadata.Uid != staleUpcycle.Metadata.Uid,
            "a new upcycle Job replaced the stale one");
        var newBuild = await ExpectedBuildAsync(await GetModelAsync(), 1);
        Assert.NotEqual(oldBuild.Id, newBuild.Id);
        var upcycle = (await FindJobAsync("demo-upcycle-r1"))!;
        Assert.Equal(newBuild.Id, upcycle.Metadata.Annotations[Annotations.Build]);
        Assert.Equal(newBuild.Inputs, upcycle.Metadata.Annotations[Annotations.BuildInputs]);
        Assert.Equal(new ArtifactPaths(Settings).Upcycled(failed, newBuild), upcycle.Metadata.Annotations[Annotations.Output]);
        Assert.Null(await FindJobAsync("demo-finetune-r1"));
        await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Upcycling && m.Status.ActiveJob == "demo-upcycle-r1", "upcycling again");
        await Until(async () => (await EventMessagesAsync(Reasons.BuildRestarted)).Any(message =>
                message.Contains($"build {oldBuild.Id} ({oldBuild.Inputs}) is now {newBuild.Id} ({newBuild.Inputs})", StringComparison.Ordinal)),
            "a BuildRestarted Event names the old and the new build with their inputs");

        await BuildAsync(1);
        await Until(async () => await FindDeploymentAsync() is not null, "the Deployment exists");
        Server.Deployments.MakeReady(Ns, Model);
        var ready = await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Ready, "Ready");
        var revision = Assert.Single(ready.Status!.Revisions!);
        Assert.Equal(1, revision.Revision);
        Assert.Equal(new ArtifactPaths(Settings).RevisionModel(ready, newBuild), revision.Model!.Uri);
        Assert.Equal(RevisionPolicy.BuildSpecHash(ready.Spec), revision.BuildSpecHash);

        // One Job of each name at a time: both stale Jobs were deleted before a Job was created (or tried) again. A
        // reconcile that ran before the Job cache saw a deletion may repeat it (404), which changes nothing.
        var writes = Server.Requests.All.Where(r => r is { Resource: "jobs", IsWrite: true }).ToList();
        var done = writes.Where(r => r.StatusCode is 200 or 201).ToList();
        Assert.Equal(["create", "create", "delete", "delete", "create", "create", "create"], done.Select(r => r.Verb));
        Assert.Equal(["demo-finetune-r1", "demo-upcycle-r1"], done.Where(r => r.Verb == "delete").Select(r => r.Name!).Order(StringComparer.Ordinal));
        var lastDelete = writes.FindLastIndex(r => r is { Verb: "delete", StatusCode: 200 });
        Assert.Equal(2, writes.Take(lastDelete).Count(r => r is { Verb: "create", StatusCode: 201 }));
    }

    [Fact]
    public async Task AFailedStepWithUnchangedInputs_StaysFailed_AndDeletingItsJobRunsItAgainInTheSameBuild()
    {
        var first = await FailTheFinetuneAsync(exitCode: 1, podReason: "Error");
        await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Failed, "Failed");

        // A reconcile with the same inputs (a label change reconciles the model) neither retries nor deletes anything.
        await PatchModelAsync("""{"metadata":{"labels":{"touched":"yes"}}}""");
        await Task.Delay(300);
        Assert.Equal(NexusModelPhase.Failed, (await GetModelAsync()).Status!.Phase);
        // (A create answered 409 while the Job cache lagged made nothing.)
        Assert.Equal(2, Server.Requests.Count(r => r is { Verb: "create", Resource: "jobs", StatusCode: 201 }));
        Assert.Equal(0, Server.Requests.Count("delete", "jobs"));

        await Client.BatchV1.DeleteNamespacedJobAsync("demo-finetune-r1", Ns, propagationPolicy: "Background");

        await Until(async () => await FindJobAsync("demo-finetune-r1") is { } job && job.Metadata.Uid != first.Metadata.Uid, "the finetune Job is created again");
        var again = (await FindJobAsync("demo-finetune-r1"))!;
        Assert.Equal(first.Metadata.Annotations[Annotations.Build], again.Metadata.Annotations[Annotations.Build]);
        Assert.Equal(first.Metadata.Annotations[Annotations.Output], again.Metadata.Annotations[Annotations.Output]);
        await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Finetuning && m.Status.ActiveJob == "demo-finetune-r1", "Finetuning again");
        await Steps.SucceedAsync("demo-finetune-r1");
        await WaitForJobAsync("demo-evaluate-r1");
        await Steps.SucceedAsync("demo-evaluate-r1");
        var built = await WaitForAsync(m => m.Status?.CurrentRevision == 1, "revision 1 recorded");
        Assert.Equal(1, Assert.Single(built.Status!.Revisions!).Revision);
        Assert.Equal(1, Server.Requests.Count("delete", "jobs")); // the test's own
    }

    [Fact]
    public async Task PruningRevision1_RemovesItsFolder_RetryingAFailedRemoval_WithoutHoldingTheModelUp()
    {
        var failures = 1;
        ArtifactStoreFactory flaky = uri => new FailingRemoval(ArtifactStores.Default(uri), () => Interlocked.Decrement(ref failures) >= 0);
        await CreateReadyExpertAsync("news");
        await CreateReadyExpertAsync("science");
        StartOperator(host => host.AddNexusModelController(Settings, flaky));
        var model = await CreateModelAsync(configure: spec => spec.RevisionHistoryLimit = 1);
        var paths = new ArtifactPaths(Settings);
        await ServeRevision1Async();

        await PatchModelAsync("""{"spec":{"router":{"topK":2}}}""");
        await BuildAsync(2);
        var rolling = await WaitForAsync(m => m.Status?.CurrentRevision == 2, "revision 2 recorded");
        Assert.Equal([1, 2], rolling.Status!.Revisions!.Select(r => r.Revision)); // revision 1 is served: kept
        Assert.True(Directory.Exists(LocalPath(paths.RevisionFolder(model, 1))));

        Server.Deployments.MakeReady(Ns, Model);
        var ready = await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Ready && m.Status.Revisions?.Count == 1, "Ready at revision 2 alone");
        Assert.Equal(2, ready.Status!.Revisions![0].Revision);
        await Until(async () => (await EventMessagesAsync(NexusModelReconciler.ArtifactRemovalFailed)).Any(m => m.Contains("revision 1", StringComparison.Ordinal)),
            "the failed removal is reported");
        await Until(() => Task.FromResult(!Directory.Exists(LocalPath(paths.RevisionFolder(model, 1)))), "revision 1's folder is removed on a retry");
        Assert.True(File.Exists(Path.Combine(LocalPath(paths.FinetuneRun(model, await ExpectedBuildAsync(ready, 2))), ArtifactManifest.FileName)));
        await Until(async () => (await EventMessagesAsync("ArtifactRemoved")).Any(m => m.Contains("revision 1", StringComparison.Ordinal)), "the removal is reported");
    }

    [Fact]
    public async Task DeletingTheModel_RemovesItsArtifacts_ThenItsFinalizer_AndTheObjectGoes()
    {
        await CreateReadyExpertAsync("news");
        await CreateReadyExpertAsync("science");
        StartOperator(host => host.AddNexusModelController(Settings));
        var model = await CreateModelAsync();
        await BuildAsync(1);
        var built = await WaitForAsync(m => m.Status?.CurrentRevision == 1, "revision 1 recorded");
        Assert.Contains(NexusModelReconciler.ArtifactsFinalizer, built.Metadata.Finalizers);
        var folder = LocalPath(new ArtifactPaths(Settings).ModelFolder(model));
        Assert.NotEmpty(Directory.EnumerateFiles(folder, ArtifactManifest.FileName, SearchOption.AllDirectories));
        var namesake = $"{Root}/artifacts/{Ns}/models/{Model}/00000000/r1/b-0123456789/upcycled"; // another uid's, under the same name
        await Steps.PublishAsync($"file://{namesake}", "model.safetensors", [("model.safetensors", "weights")]);

        await Client.CustomObjects.DeleteNamespacedCustomObjectAsync(NexusModel.KubeGroup, NexusModel.KubeApiVersion, Ns, NexusModel.KubePluralName, Model);

        await Until(async () => (await Client.CustomObjects.ListNamespacedCustomObjectAsync<NexusModelList>(
            NexusModel.KubeGroup, NexusModel.KubeApiVersion, Ns, NexusModel.KubePluralName)).Items.Count == 0, "the NexusModel is gone");
        Assert.False(Directory.Exists(folder));
        Assert.True(File.Exists(Path.Combine(namesake, ArtifactManifest.FileName)));
    }

    /// <summary>Two Ready Experts and the model; the operator upcycles, and the finetune Job fails with the pod's
    /// <paramref name="podReason"/>. Returns the finetune Job as it was created.</summary>
    private async Task<V1Job> FailTheFinetuneAsync(int exitCode, string podReason)
    {
        await CreateReadyExpertAsync("news");
        await CreateReadyExpertAsync("science");
        StartOperator(host => host.AddNexusModelController(Settings));
        await CreateModelAsync();
        await WaitForJobAsync("demo-upcycle-r1");
        await Steps.SucceedAsync("demo-upcycle-r1");
        await WaitForJobAsync("demo-finetune-r1");
        var job = (await FindJobAsync("demo-finetune-r1"))!;
        Server.Jobs.MarkFailed(Ns, "demo-finetune-r1", exitCode: exitCode, podReason: podReason);
        return job;
    }

    /// <summary>The build the operator should run for <paramref name="revision"/> of <paramref name="model"/>'s spec from the
    /// namespace's Experts as they are now (router order: by name).</summary>
    private async Task<ModelBuild> ExpectedBuildAsync(NexusModel model, int revision)
    {
        var experts = await Client.CustomObjects.ListNamespacedCustomObjectAsync<ExpertList>(
            Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName);
        return ModelBuild.Of(revision, model.Spec, experts.Items.OrderBy(expert => expert.Metadata.Name, StringComparer.Ordinal));
    }

    private Task<NexusModel> PatchModelAsync(string mergePatch) => Client.CustomObjects.PatchNamespacedCustomObjectAsync<NexusModel>(
        new V1Patch(mergePatch, V1Patch.PatchType.MergePatch), NexusModel.KubeGroup, NexusModel.KubeApiVersion, Ns, NexusModel.KubePluralName, Model);

    private async Task<IReadOnlyList<string>> EventMessagesAsync(string reason) =>
        (await Client.CoreV1.ListNamespacedEventAsync(Ns)).Items
        .Where(e => e.InvolvedObject?.Name == Model && e.Reason == reason).Select(e => e.Message ?? "").ToList();

    private static string LocalPath(string fileUri) => fileUri["file://".Length..];

    /// <summary>A store whose <see cref="IArtifactStore.RemoveAllAsync"/> fails while <paramref name="fail"/> says so, as an
    /// unreachable bucket would.</summary>
    private sealed class FailingRemoval(IArtifactStore inner, Func<bool> fail) : IArtifactStore
    {
        public ArtifactLocation Location => inner.Location;

        public Task<ArtifactManifest?> GetManifestAsync(CancellationToken cancellation = default) => inner.GetManifestAsync(cancellation);

        public Task<PublishResult> PublishAsync(string sourceDirectory, CancellationToken cancellation = default) => inner.PublishAsync(sourceDirectory, cancellation);

        public Task<ArtifactManifest> FetchAsync(string targetDirectory, CancellationToken cancellation = default) => inner.FetchAsync(targetDirectory, cancellation);

        public Task<bool> ExistsAsync(string key, CancellationToken cancellation = default) => inner.ExistsAsync(key, cancellation);

        public Task<bool> RemoveAsync(CancellationToken cancellation = default) => inner.RemoveAsync(cancellation);

        public Task<int> RemoveAllAsync(CancellationToken cancellation = default) =>
            fail() ? throw new ArtifactStoreException($"{Location}: the store is unreachable (test).") : inner.RemoveAllAsync(cancellation);
    }
}
