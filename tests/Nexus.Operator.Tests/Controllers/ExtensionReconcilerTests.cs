using k8s;
using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Hosting;
using Nexus.Operator.Runtime;
using Nexus.Operator.Specs;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Controllers;

/// <summary>
/// The NexusModel and Extension controllers together, registered as <c>nexus-operator run</c> registers them, against
/// the test API server with the real CRDs: a new Expert extends the served model, a deleted one is removed from it, a
/// Manual policy waits for approval, and a failed Extension stalls the model until it is deleted. The test plays the
/// Expert controller, the worker and the Deployment controller (<see cref="ModelLifecycleTest"/>).
/// </summary>
public sealed class ExtensionReconcilerTests : ModelLifecycleTest
{
    [Fact]
    public async Task ANewReadyExpertExtendsTheServedModel_AndADeletedOneIsRemoved_EachARevisionRolledOut()
    {
        StartOperator(host => host.AddNexusModelController(Settings).AddExtensionController(Settings));
        await ServeRevision1Async(ExtensionPolicy.Automatic, "news", "science");

        await CreateReadyExpertAsync("code");
        var extension = await WaitForExtensionAsync("demo-r2", e => e.Status?.ActiveJob == "demo-r2-extend-code-r2", "running its surgery");
        Assert.Equal(["code"], extension.Spec.Add);
        Assert.True(OwnerReferences.IsControlledBy(extension, await GetModelAsync()));
        Assert.Equal((ExtensionPhase.Running, 1, 2), (extension.Status!.Phase, extension.Status.FromRevision, extension.Status.ToRevision));
        var extending = await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Extending, "Extending");
        Assert.Equal((1, 1), (extending.Status!.CurrentRevision, extending.Status.ServedRevision));

        var surgery = (await FindJobAsync("demo-r2-extend-code-r2"))!;
        var arguments = surgery.Spec.Template.Spec.Containers[0].Args;
        Assert.Equal(extending.Status.Revisions!.Single().Model!.Uri, arguments[arguments.IndexOf("--model") + 1]);
        Assert.Contains("code=" + $"file://{Root}/artifacts/{Ns}/experts/code/run/model", arguments);
        Assert.Contains("--finetune-out", arguments);
        var weights = await Steps.SucceedAsync("demo-r2-extend-code-r2");
        await WaitForJobAsync("demo-r2-evaluate-r2");
        await Steps.SucceedAsync("demo-r2-evaluate-r2");

        var succeeded = await WaitForExtensionAsync("demo-r2", e => e.Status?.Phase == ExtensionPhase.Succeeded, "Succeeded");
        Assert.Equal(weights, succeeded.Status!.Artifacts!.Model!.Sha256);
        Assert.Equal(Sha(FakeStepRunner.ExtendedWeights("demo-r2-extend-code-r2")), succeeded.Status.Artifacts.Extended!.Sha256);
        Assert.Equal(16.0, succeeded.Status.Metrics!.Perplexity!["code"]);
        Assert.True(Conditions.IsTrue(succeeded.Status.Conditions, ConditionTypes.Ready));
        Assert.NotNull(succeeded.Status.CompletionTime);

        var rolling = await WaitForAsync(m => m.Status?.CurrentRevision == 2, "at revision 2");
        var revision2 = rolling.Status!.Revisions!.Single(r => r.Revision == 2);
        Assert.Equal((RevisionReason.Extension, "demo-r2"), (revision2.Reason, revision2.Extension));
        Assert.Equal(["news", "science", "code"], revision2.Experts!.Select(e => e.Name));
        Assert.Equal(Sha("code"), revision2.Experts![2].CheckpointSha256);
        Assert.Equal(succeeded.Status.Artifacts.Model.Uri, revision2.Model!.Uri);
        Assert.Equal(rolling.Status.Revisions!.Single(r => r.Revision == 1).BuildSpecHash, revision2.BuildSpecHash);
        await Until(async () => (await FindDeploymentAsync())!.Spec.Template.Metadata.Annotations[Annotations.Revision] == "2", "the Deployment runs revision 2");
        Server.Deployments.MakeReady(Ns, Model);
        var ready = await WaitForAsync(m => m.Status is { Phase: NexusModelPhase.Ready, ServedRevision: 2 }, "Ready serving revision 2");
        Assert.Equal(["news", "science", "code"], ready.Status!.Experts);
        Assert.Equal(3, ready.Status.ExpertCount);

        await Client.CustomObjects.DeleteNamespacedCustomObjectAsync(Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName, "science");
        var removal = await WaitForExtensionAsync("demo-r3", e => e.Status?.ActiveJob == "demo-r3-remove-science-r3", "running its surgery");
        Assert.Equal(["science"], removal.Spec.Remove);
        var removeArguments = (await FindJobAsync("demo-r3-remove-science-r3"))!.Spec.Template.Spec.Containers[0].Args;
        Assert.Equal("1", removeArguments[removeArguments.IndexOf("--top-k") + 1]);
        Assert.DoesNotContain(removeArguments, argument => argument.StartsWith("science=", StringComparison.Ordinal));
        await Steps.SucceedAsync("demo-r3-remove-science-r3");
        await WaitForJobAsync("demo-r3-evaluate-r3");
        await Steps.SucceedAsync("demo-r3-evaluate-r3");
        var revision3 = await WaitForAsync(m => m.Status?.CurrentRevision == 3, "at revision 3");
        Assert.Equal(RevisionReason.Removal, revision3.Status!.Revisions!.Single(r => r.Revision == 3).Reason);
        Assert.Equal(["news", "code"], revision3.Status.Experts);
        await Until(async () => (await FindDeploymentAsync())!.Spec.Template.Metadata.Annotations[Annotations.Revision] == "3", "the Deployment runs revision 3");
        Server.Deployments.MakeReady(Ns, Model);
        await WaitForAsync(m => m.Status is { Phase: NexusModelPhase.Ready, ServedRevision: 3 }, "Ready serving revision 3");

        // Every Job was created once (a create answered 409 while the cache lagged made nothing); none was updated.
        Assert.All(Server.Requests.All.Where(r => r.Resource == "jobs" && r.IsWrite), r => Assert.Equal("create", r.Verb));
        var created = Server.Requests.All.Where(r => r is { Verb: "create", Resource: "jobs", StatusCode: 201 }).Select(r => r.Name).ToList();
        Assert.Equal(7, created.Count);
        Assert.Equal(7, created.Distinct().Count());
    }

    [Fact]
    public async Task PinningRevision1_RollsTheDeploymentBack_HoldsSelectionChanges_AndUnpinningReturnsToTheLatest()
    {
        StartOperator(host => host.AddNexusModelController(Settings).AddExtensionController(Settings));
        await ServeRevision1Async(ExtensionPolicy.Automatic, "news", "science");
        await CreateReadyExpertAsync("code");
        foreach (var job in new[] { "demo-r2-extend-code-r2", "demo-r2-evaluate-r2" })
        {
            await WaitForJobAsync(job);
            await Steps.SucceedAsync(job);
        }

        await Until(async () => (await FindDeploymentAsync())!.Spec.Template.Metadata.Annotations[Annotations.Revision] == "2", "the Deployment runs revision 2");
        Server.Deployments.MakeReady(Ns, Model);
        await WaitForAsync(m => m.Status is { Phase: NexusModelPhase.Ready, ServedRevision: 2 }, "Ready serving revision 2");

        await PatchModelAsync("""{"spec":{"revision":1}}""");
        await Until(async () => (await FindDeploymentAsync())!.Spec.Template.Metadata.Annotations[Annotations.Revision] == "1", "the Deployment rolls back to revision 1");
        Server.Deployments.MakeReady(Ns, Model);
        var pinned = await WaitForAsync(m => m.Status is { Phase: NexusModelPhase.Ready, ServedRevision: 1 }, "Ready serving revision 1");
        Assert.Equal(1, pinned.Status!.CurrentRevision);
        Assert.Equal(["news", "science"], pinned.Status.Experts);
        Assert.Equal(Reasons.RevisionPinned, Conditions.Get(pinned.Status.Conditions, ConditionTypes.Ready)!.Reason);
        Assert.Equal([1, 2], pinned.Status.Revisions!.Select(r => r.Revision));

        // While pinned, a selection change waits: no Extension is created.
        await CreateReadyExpertAsync("poetry");
        await Task.Delay(300);
        Assert.DoesNotContain(await ListExtensionsAsync(), e => e.Metadata.Name == "demo-r3");

        await PatchModelAsync("""{"spec":{"revision":null}}""");
        await WaitForExtensionAsync("demo-r3", e => e.Spec.Add!.SequenceEqual(["poetry"]), "created for poetry once unpinned");
    }

    [Fact]
    public async Task UnderTheManualPolicy_TheModelSaysWhichExtensionIsPending_AndAnExtensionAUserCreatesRuns()
    {
        StartOperator(host => host.AddNexusModelController(Settings).AddExtensionController(Settings));
        await ServeRevision1Async(ExtensionPolicy.Manual, "news", "science");

        await CreateReadyExpertAsync("code");
        var pending = await WaitForAsync(m => Conditions.IsTrue(m.Status?.Conditions, ConditionTypes.ExtensionPending), "ExtensionPending");
        var condition = Conditions.Get(pending.Status!.Conditions, ConditionTypes.ExtensionPending)!;
        Assert.Equal(Reasons.WaitingForExtension, condition.Reason);
        Assert.Contains("add code", condition.Message);
        Assert.Contains("create an Extension with spec.model demo", condition.Message);
        Assert.Equal(NexusModelPhase.Ready, pending.Status.Phase);
        Assert.True(Conditions.IsTrue(pending.Status.Conditions, ConditionTypes.Ready));
        await Task.Delay(300);
        Assert.Empty((await ListExtensionsAsync()));

        await CreateExtensionAsync("add-code", add: ["code"]);
        await WaitForJobAsync("add-code-extend-code-r2");
        await Steps.SucceedAsync("add-code-extend-code-r2");
        await WaitForJobAsync("add-code-evaluate-r2");
        await Steps.SucceedAsync("add-code-evaluate-r2");
        var extended = await WaitForAsync(m => m.Status?.CurrentRevision == 2, "at revision 2");
        Assert.Equal("add-code", extended.Status!.Revisions!.Single(r => r.Revision == 2).Extension);
        Assert.Null(Conditions.Get(extended.Status.Conditions, ConditionTypes.ExtensionPending));
    }

    [Fact]
    public async Task AFailedExtensionFailsWithItsJobsReason_StallsTheModel_AndDeletingItRetries()
    {
        StartOperator(host => host.AddNexusModelController(Settings).AddExtensionController(Settings));
        await ServeRevision1Async(ExtensionPolicy.Automatic, "news", "science");
        await CreateReadyExpertAsync("code");
        await WaitForJobAsync("demo-r2-extend-code-r2");
        Server.Jobs.MarkFailed(Ns, "demo-r2-extend-code-r2", exitCode: 137, podReason: "OOMKilled");

        var failed = await WaitForExtensionAsync("demo-r2", e => e.Status?.Phase == ExtensionPhase.Failed, "Failed");
        Assert.Equal("BackoffLimitExceeded", Conditions.Get(failed.Status!.Conditions, ConditionTypes.Stalled)!.Reason);
        var stalled = await WaitForAsync(m => Conditions.Get(m.Status?.Conditions, ConditionTypes.Stalled)?.Reason == Reasons.ExtensionFailed, "Stalled on the Extension");
        Assert.Contains("Extension demo-r2 failed: Job demo-r2-extend-code-r2 failed", Conditions.Get(stalled.Status!.Conditions, ConditionTypes.Stalled)!.Message);
        Assert.Equal((1, 1), (stalled.Status.CurrentRevision, stalled.Status.ServedRevision));

        await Client.CustomObjects.DeleteNamespacedCustomObjectAsync(Extension.KubeGroup, Extension.KubeApiVersion, Ns, Extension.KubePluralName, "demo-r2");
        // Once the failed Job is collected with its owner, the re-created Extension runs its surgery afresh.
        await WaitForExtensionAsync("demo-r2", e => e.Status?.Phase == ExtensionPhase.Running, "re-created and Running");
        await Until(async () => (await FindJobAsync("demo-r2-extend-code-r2"))?.Status?.Conditions is null, "a fresh surgery Job");
    }

    [Fact]
    public async Task AnExtensionThatCannotBeMade_FailsNamingTheField()
    {
        StartOperator(host => host.AddNexusModelController(Settings).AddExtensionController(Settings));
        await ServeRevision1Async(ExtensionPolicy.Manual, "news", "science");

        await CreateExtensionAsync("drop-two", remove: ["news", "science"]);
        var tooFew = await WaitForExtensionAsync("drop-two", e => e.Status?.Phase == ExtensionPhase.Failed, "Failed");
        Assert.Contains("would leave 0 expert", tooFew.Status!.Message);
        await CreateExtensionAsync("drop-missing", remove: ["poetry"]);
        var missing = await WaitForExtensionAsync("drop-missing", e => e.Status?.Phase == ExtensionPhase.Failed, "Failed");
        Assert.Equal(Reasons.InvalidSpec, Conditions.Get(missing.Status!.Conditions, ConditionTypes.Stalled)!.Reason);
        Assert.Contains("spec.remove names poetry", missing.Status.Message);
        Assert.Equal(3, Server.Requests.Count(r => r is { Verb: "create", Resource: "jobs", StatusCode: 201 }));
    }

    private Task<NexusModel> PatchModelAsync(string mergePatch) => Client.CustomObjects.PatchNamespacedCustomObjectAsync<NexusModel>(
        new V1Patch(mergePatch, V1Patch.PatchType.MergePatch), NexusModel.KubeGroup, NexusModel.KubeApiVersion, Ns, NexusModel.KubePluralName, Model);

    private Task<Extension> CreateExtensionAsync(string name, IList<string>? add = null, IList<string>? remove = null) =>
        Client.CustomObjects.CreateNamespacedCustomObjectAsync<Extension>(
            new Extension
            {
                Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Ns },
                Spec = new ExtensionSpec { Model = Model, Add = add, Remove = remove },
            },
            Extension.KubeGroup, Extension.KubeApiVersion, Ns, Extension.KubePluralName);

    private async Task<IList<Extension>> ListExtensionsAsync() =>
        (await Client.CustomObjects.ListNamespacedCustomObjectAsync<ExtensionList>(Extension.KubeGroup, Extension.KubeApiVersion, Ns, Extension.KubePluralName)).Items;

    private async Task<Extension> WaitForExtensionAsync(string name, Func<Extension, bool> condition, string because)
    {
        Extension? last = null;
        await Until(async () => (last = (await ListExtensionsAsync()).FirstOrDefault(e => e.Metadata.Name == name)) is { } found && condition(found),
            $"Extension {name} is {because} (last status: {System.Text.Json.JsonSerializer.Serialize(last?.Status)})");
        return last!;
    }
}
