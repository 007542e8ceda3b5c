using k8s;
using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Controllers;
using Nexus.Operator.Hosting;
using Nexus.Operator.Specs;
using Nexus.Storage;

namespace Nexus.Operator.Tests.Controllers;

/// <summary>
/// The Expert controller, registered as <c>nexus-operator run</c> registers it, against the test API server with the real
/// CRDs and a file:// artifact root. The tests play the Job controller and the worker (<see cref="LifecycleTest.Steps"/>):
/// marking a Job succeeded first publishes a small fake artifact at the Job's <c>nexus.moe/output</c>, as the step would.
/// </summary>
public sealed class ExpertReconcilerTests : LifecycleTest
{
    [Fact]
    public async Task TrainsThenEmbeds_ThenIsReadyWithBothArtifacts_AndASettledWorldMakesNoWrites()
    {
        StartOperator(host => host.AddNexusControllers(Settings));
        await CreateExpertAsync();
        await WaitForAsync(e => e.Status?.Phase == ExpertPhase.Pending && e.Status.ActiveJob == "news-train-g1", "Pending on its train Job");
        Assert.Contains(ExpertReconciler.ArtifactsFinalizer, (await GetExpertAsync()).Metadata.Finalizers);
        Assert.Null(await FindJobAsync("news-embed-g1"));

        Server.Jobs.MarkRunning(Ns, "news-train-g1");
        await WaitForAsync(e => e.Status?.Phase == ExpertPhase.Training, "Training");

        var weights = await Steps.SucceedAsync("news-train-g1");
        await WaitForAsync(e => e.Status?.Phase == ExpertPhase.Embedding && e.Status.ActiveJob == "news-embed-g1", "Embedding");
        Assert.True(Conditions.IsTrue((await GetExpertAsync()).Status!.Conditions, ConditionTypes.CheckpointReady));

        Server.Jobs.MarkRunning(Ns, "news-embed-g1");
        var embedding = await Steps.SucceedAsync("news-embed-g1");
        var ready = await WaitForAsync(e => e.Status?.Phase == ExpertPhase.Ready, "Ready");

        var status = ready.Status!;
        var folder = new ArtifactPaths(Settings).ExpertFolder(ready);
        Assert.Equal((folder + "/run/model", weights), (status.Artifacts!.Checkpoint!.Uri, status.Artifacts.Checkpoint.Sha256));
        Assert.Equal((folder + "/embedding.json", embedding), (status.Artifacts.Embedding!.Uri, status.Artifacts.Embedding.Sha256));
        Assert.True(Conditions.IsTrue(status.Conditions, ConditionTypes.Ready));
        Assert.True(Conditions.IsTrue(status.Conditions, ConditionTypes.EmbeddingReady));
        Assert.Null(Conditions.Get(status.Conditions, ConditionTypes.Reconciling));
        Assert.Equal(1, status.ObservedGeneration);
        Assert.NotNull(status.StartTime);
        Assert.NotNull(status.CompletionTime);
        Assert.Null(status.ActiveJob);
        // Two Jobs made; a create answered 409 (the Job cache lagging behind a busy machine) made nothing.
        Assert.Equal(2, Server.Requests.Count(record => record is { Verb: "create", Resource: "jobs", StatusCode: 201 }));
        Assert.Equal(2, Server.List("batch/v1", "jobs", Ns).Count);

        // Settled: a change that is not the spec's reconciles the Expert again, and nothing is written.
        await Task.Delay(300);
        await Client.CustomObjects.PatchNamespacedCustomObjectAsync<Expert>(
            new V1Patch("""{"metadata":{"labels":{"touched":"yes"}}}""", V1Patch.PatchType.MergePatch),
            Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName, "news");
        var settled = Server.Requests.Mark();
        await Task.Delay(500);
        Assert.Empty(Server.Requests.Writes(settled));
    }

    [Fact]
    public async Task AnOomKilledPodFailsTheExpertWithThatReason_AndANewGenerationRecovers()
    {
        StartOperator(host => host.AddNexusControllers(Settings));
        await CreateExpertAsync();
        await WaitForJobAsync("news-train-g1");
        Server.Jobs.MarkFailed(Ns, "news-train-g1", exitCode: 137, podReason: "OOMKilled");

        // The Job's and the pod's watch events arrive in either order: the message names the pod once both have.
        var failed = await WaitForAsync(
            e => e.Status?.Phase == ExpertPhase.Failed
                 && Conditions.Get(e.Status.Conditions, ConditionTypes.Stalled)?.Message.Contains("OOMKilled", StringComparison.Ordinal) == true,
            "Failed with the pod's reason");
        var stalled = Conditions.Get(failed.Status!.Conditions, ConditionTypes.Stalled)!;
        Assert.Equal(("True", "BackoffLimitExceeded"), (stalled.Status, stalled.Reason));
        Assert.Contains("Job news-train-g1 failed (BackoffLimitExceeded): pod news-train-g1-", stalled.Message);
        Assert.Contains("container nexus terminated with OOMKilled (exit code 137)", stalled.Message);
        Assert.Equal(stalled.Reason, Conditions.Get(failed.Status.Conditions, ConditionTypes.Ready)!.Reason);

        // The fix is a spec change: the new generation has its own Job and starts afresh.
        await Client.CustomObjects.PatchNamespacedCustomObjectAsync<Expert>(
            new V1Patch("""{"spec":{"resources":{"memory":"8Gi"}}}""", V1Patch.PatchType.MergePatch),
            Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName, "news");
        var recovering = await WaitForAsync(
            e => e.Status?.ObservedGeneration == 2 && e.Status.ActiveJob == "news-train-g2", "generation 2 works on its own Job");
        await WaitForJobAsync("news-train-g2");
        Assert.Equal(ExpertPhase.Pending, recovering.Status!.Phase);
        Assert.Null(Conditions.Get(recovering.Status.Conditions, ConditionTypes.Stalled));
        Assert.True(Conditions.IsTrue(recovering.Status.Conditions, ConditionTypes.Reconciling));
        Assert.Null(recovering.Status.CompletionTime);
    }

    [Fact]
    public async Task AnImagePullBackOffStallsTheExpertWhileItsJobRuns()
    {
        StartOperator(host => host.AddNexusControllers(Settings));
        await CreateExpertAsync();
        await WaitForJobAsync("news-train-g1");
        Server.Jobs.MarkPodWaiting(Ns, "news-train-g1", "ImagePullBackOff", "Back-off pulling image \"nexus-worker:0.1.0\"");

        // The pod's watch event may come before the Job's startTime: Stalled in Pending first, then in Training.
        var stuck = await WaitForAsync(
            e => Conditions.IsTrue(e.Status?.Conditions, ConditionTypes.Stalled) && e.Status!.Phase == ExpertPhase.Training, "Stalled in Training");
        var stalled = Conditions.Get(stuck.Status!.Conditions, ConditionTypes.Stalled)!;
        Assert.Equal("ImagePullBackOff", stalled.Reason);
        Assert.Contains("Back-off pulling image", stalled.Message);
        Assert.Equal("news-train-g1", stuck.Status.ActiveJob);
        Assert.NotNull(await FindJobAsync("news-train-g1"));
    }

    [Fact]
    public async Task WhileItsJobRuns_AStepsOutputIsNotReadAgainOnEveryReconcile()
    {
        var reads = 0;
        ArtifactStoreFactory counting = uri =>
        {
            Interlocked.Increment(ref reads);
            return ArtifactStores.Default(uri);
        };
        StartOperator(host => host.AddExpertController(Settings, counting));
        await CreateExpertAsync();
        await WaitForJobAsync("news-train-g1");
        Server.Jobs.MarkRunning(Ns, "news-train-g1");
        await WaitForAsync(e => e.Status?.Phase == ExpertPhase.Training, "Training");
        var before = Volatile.Read(ref reads);

        var reconciles = Operators[0].Host.Metrics.ReconcileTotal.WithLabels(Expert.KubeKind, "done");
        foreach (var touch in new[] { "a", "b", "c" })
        {
            var done = reconciles.Value;
            await Client.CustomObjects.PatchNamespacedCustomObjectAsync<Expert>(
                new V1Patch(KubernetesJson.Serialize(new { metadata = new { labels = new Dictionary<string, string> { ["touch"] = touch } } }), V1Patch.PatchType.MergePatch),
                Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName, "news");
            await Until(() => Task.FromResult(reconciles.Value > done), $"the touch {touch} was reconciled");
        }

        Assert.Equal(before, Volatile.Read(ref reads));
    }

    [Fact]
    public async Task APublishedOutputMeansItsStepIsDone_SoARestartedOperatorCreatesNoJobForIt()
    {
        // The train Job ran and was deleted by its TTL before this operator started: only its artifact is left.
        var expert = await CreateExpertAsync();
        var run = StepCommands.Train(expert, new ArtifactPaths(Settings)).OutputUri;
        var weights = await Steps.PublishAsync(run, "model/model.safetensors", [("model/model.safetensors", "weights"), ("model/config.json", "{}")]);

        StartOperator(host => host.AddNexusControllers(Settings));
        var embedding = await WaitForAsync(e => e.Status?.Phase == ExpertPhase.Embedding, "Embedding");
        Assert.Equal(weights, embedding.Status!.Artifacts!.Checkpoint!.Sha256);
        await WaitForJobAsync("news-embed-g1");
        Assert.Null(await FindJobAsync("news-train-g1"));

        // Restarted again with both artifacts in place: Ready, still without a train Job.
        await Steps.SucceedAsync("news-embed-g1");
        await WaitForAsync(e => e.Status?.Phase == ExpertPhase.Ready, "Ready");
        await Operators[0].StopAsync();
        await Client.BatchV1.DeleteNamespacedJobAsync("news-embed-g1", Ns);
        var creates = Server.Requests.Count("create", "jobs");
        StartOperator(host => host.AddNexusControllers(Settings));
        await Task.Delay(500);
        Assert.Equal(creates, Server.Requests.Count("create", "jobs"));
        Assert.Equal(ExpertPhase.Ready, (await GetExpertAsync()).Status!.Phase);
    }

    [Fact]
    public async Task DeletingAnExpertRemovesItsArtifacts_ThenItsFinalizer()
    {
        StartOperator(host => host.AddNexusControllers(Settings));
        var expert = await CreateExpertAsync();
        await WaitForJobAsync("news-train-g1");
        await Steps.SucceedAsync("news-train-g1");
        await WaitForJobAsync("news-embed-g1");
        await Steps.SucceedAsync("news-embed-g1");
        await WaitForAsync(e => e.Status?.Phase == ExpertPhase.Ready, "Ready");
        var folder = new ArtifactPaths(Settings).ExpertFolder(expert)["file://".Length..];
        Assert.True(File.Exists(Path.Combine(folder, "run", ArtifactManifest.FileName)));

        await Client.CustomObjects.DeleteNamespacedCustomObjectAsync(Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName, "news");

        await Until(async () => (await TryGetExpertAsync()) is null, "the Expert is gone");
        Assert.False(File.Exists(Path.Combine(folder, "run", ArtifactManifest.FileName)));
        Assert.False(File.Exists(Path.Combine(folder, "embedding.json", ArtifactManifest.FileName)));
        Assert.Empty(Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task EveryPhaseChange_IsRecordedAsAnEvent_TheReadyTransitionIncluded()
    {
        StartOperator(host => host.AddNexusControllers(Settings));
        await CreateExpertAsync();
        await WaitForJobAsync("news-train-g1");
        Server.Jobs.MarkRunning(Ns, "news-train-g1");
        await WaitForAsync(e => e.Status?.Phase == ExpertPhase.Training, "Training");
        await Steps.SucceedAsync("news-train-g1");
        await WaitForJobAsync("news-embed-g1");
        Server.Jobs.MarkRunning(Ns, "news-embed-g1");
        await Steps.SucceedAsync("news-embed-g1");
        await WaitForAsync(e => e.Status?.Phase == ExpertPhase.Ready, "Ready");

        (string Type, string Reason)[] phases = [("Normal", Reasons.Pending), ("Normal", Reasons.Training), ("Normal", Reasons.Embedding), ("Normal", Reasons.Succeeded)];
        await Until(async () => phases.All((await ExpertEventsAsync()).Select(e => (e.Type, e.Reason)).Contains), "an Event for each phase");
        var ready = (await ExpertEventsAsync()).Single(e => e.Reason == Reasons.Succeeded);
        Assert.StartsWith("Checkpoint ", ready.Message);
    }

    [Fact]
    public async Task AFailedExpertsNewFailureMessage_IsRecordedAsAnotherWarning()
    {
        StartOperator(host => host.AddNexusControllers(Settings));
        await CreateExpertAsync();
        await WaitForJobAsync("news-train-g1");
        // The Job controller's verdict first, before any pod says why.
        await Client.BatchV1.PatchNamespacedJobStatusAsync(
            new V1Patch("""{"status":{"failed":1,"conditions":[{"type":"Failed","status":"True","reason":"BackoffLimitExceeded","message":"Job has reached the specified backoff limit"}]}}""",
                V1Patch.PatchType.MergePatch),
            "news-train-g1", Ns);
        await Until(
            async () => (await ExpertEventsAsync()).Any(e => e is { Type: "Warning", Reason: "BackoffLimitExceeded" } && !e.Message.Contains("OOMKilled", StringComparison.Ordinal)),
            "a Warning for the failed Job");

        // Then the pod's termination: the same phase and reason, a message that now names the container's fate.
        Server.Jobs.MarkFailed(Ns, "news-train-g1", exitCode: 137, podReason: "OOMKilled");
        await Until(
            async () => (await ExpertEventsAsync()).Any(e => e is { Type: "Warning", Reason: "BackoffLimitExceeded" } && e.Message.Contains("OOMKilled", StringComparison.Ordinal)),
            "a Warning naming the OOMKilled container");
        Assert.Equal(ExpertPhase.Failed, (await GetExpertAsync()).Status!.Phase);
    }

    private async Task<List<Corev1Event>> ExpertEventsAsync() =>
        (await Client.CoreV1.ListNamespacedEventAsync(Ns)).Items
        .Where(e => e.InvolvedObject.Kind == Expert.KubeKind && e.InvolvedObject.Name == "news")
        .ToList();

    private Task<Expert> CreateExpertAsync() => Client.CustomObjects.CreateNamespacedCustomObjectAsync<Expert>(
        new Expert
        {
            Metadata = new V1ObjectMeta { Name = "news", NamespaceProperty = Ns },
            Spec = new ExpertSpec
            {
                Domain = "news",
                Seed = new ArtifactSource { Uri = $"file://{Root}/seed/model" },
                Data = new ArtifactSource { Uri = $"file://{Root}/data/news" },
                Training = new ExpertTraining { Steps = 100 },
                Resources = new WorkloadResources { Cpu = new ResourceQuantity("1"), Memory = new ResourceQuantity("2Gi") },
            },
        },
        Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName);

    private Task<Expert> GetExpertAsync() =>
        Client.CustomObjects.GetNamespacedCustomObjectAsync<Expert>(Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName, "news");

    private async Task<Expert?> TryGetExpertAsync()
    {
        try
        {
            return await GetExpertAsync();
        }
        catch (k8s.Autorest.HttpOperationException missing) when (missing.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private async Task<Expert> WaitForAsync(Func<Expert, bool> condition, string because)
    {
        Expert? last = null;
        await Until(async () => condition(last = await GetExpertAsync()), $"the Expert is {because} (last status: {System.Text.Json.JsonSerializer.Serialize(last?.Status)})");
        return last!;
    }
}
