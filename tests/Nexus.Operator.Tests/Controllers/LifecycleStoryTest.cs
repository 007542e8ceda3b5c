using System.Text.Json;
using k8s;
using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Controllers;
using Nexus.Operator.Hosting;
using Nexus.Operator.Specs;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Controllers;

/// <summary>One act of the operator's lifecycle story: what the user does (<paramref name="Begin"/>), and the state of
/// the world that ends the act (<paramref name="IsDone"/>, read from the server in-process).</summary>
public sealed record StoryAct(string Name, Func<Task> Begin, Func<bool> IsDone);

/// <summary>
/// The operator's lifecycle story, told against the test API server with every controller as <c>nexus-operator run</c>
/// registers them, the fake worker running every step Job (<see cref="LifecycleTest.Steps"/>) and the Deployment
/// controller completing every rollout (<see cref="LifecycleTest.Rollouts"/>). The story is a list of acts, each begun
/// once the one before has ended; append acts to <see cref="Acts"/> to tell more of it. At its end the statuses must
/// tell the truth about what was published and served, and every step must have had exactly one Job.
/// </summary>
public abstract class LifecycleStoryTest : LifecycleTest
{
    protected static readonly string[] Domains = ["news", "science"];

    /// <summary>The experts at the end: code joined, science left.</summary>
    protected static readonly string[] FinalDomains = ["news", "code"];

    /// <summary>Every step Job the story runs: each Expert's train and embed, the model's revision 1 build, the
    /// Extension adding code (revision 2) and the one removing science (revision 3).</summary>
    protected static readonly string[] StoryJobs =
    [
        "news-train-g1", "news-embed-g1", "science-train-g1", "science-embed-g1", "demo-upcycle-r1", "demo-finetune-r1", "demo-evaluate-r1",
        "code-train-g1", "code-embed-g1", "demo-r2-extend-code-r2", "demo-r2-evaluate-r2", "demo-r3-remove-science-r3", "demo-r3-evaluate-r3",
    ];

    /// <summary>The story, in order.</summary>
    protected IReadOnlyList<StoryAct> Acts =>
    [
        new("Expert news is trained and embedded", () => CreateExpertAsync("news"), () => ExpertIsReady("news")),
        new("Expert science is trained and embedded", () => CreateExpertAsync("science"), () => ExpertIsReady("science")),
        new("NexusModel demo is built and serves revision 1 with news and science", () => CreateModelAsync(), () => ModelServes(1, Domains)),
        new("Expert code is applied and the model serves revision 2 with it", () => CreateExpertAsync("code"), () => ModelServes(2, [.. Domains, "code"])),
        new("Expert science is deleted and the model serves revision 3 without it", DeleteScienceAsync, () => ModelServes(3, FinalDomains) && ReadExpert("science") is null),
    ];

    private Task DeleteScienceAsync() =>
        Client.CustomObjects.DeleteNamespacedCustomObjectAsync(Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName, "science");

    /// <summary>Starts the fake worker and the Deployment controller.</summary>
    protected async Task StartClusterAsync()
    {
        await Steps.StartAsync();
        await Rollouts.StartAsync();
    }

    /// <summary>An operator with the Expert and NexusModel controllers whose client sends <paramref name="userAgent"/>.</summary>
    protected RunningOperator StartNexusOperator(string userAgent) => StartOperator(host => host.AddNexusControllers(Settings), userAgent);

    /// <summary>Tells the whole story to the operators already running.</summary>
    protected async Task TellStoryAsync()
    {
        foreach (var act in Acts)
        {
            await act.Begin();
            try
            {
                await Server.WaitForAsync(act.IsDone, TimeSpan.FromSeconds(20));
            }
            catch (TimeoutException)
            {
                Assert.Fail($"Act '{act.Name}' did not end. {Situation()}");
            }
        }
    }

    /// <summary>Why an act has not ended: the objects' statuses and the worker's trouble, for a failure message.</summary>
    protected string Situation() =>
        string.Join("; ", Domains.Union(FinalDomains).Select(domain => $"Expert {domain}: {JsonSerializer.Serialize(ReadExpert(domain)?.Status)}"))
        + $"; NexusModel {Model}: {JsonSerializer.Serialize(ReadModel()?.Status)}; Jobs: {string.Join(", ", Server.List("batch/v1", "jobs", Ns).Select(job => job["metadata"]?["name"]))}"
        + $"; worker errors: [{string.Join("; ", Steps.Errors)}]";

    /// <summary>The story's end as the statuses report it matches the world: each remaining Expert Ready with the
    /// checkpoint and embedding the worker published (the store's manifests agree); the model current and serving
    /// revision 3, its history the three revisions with their experts' checkpoints, the models the worker published,
    /// each revision's origin (the upcycle build, the adding Extension, the removing one), and the Deployment running
    /// revision 3's model.</summary>
    protected async Task AssertTheStatusesTellTheTruthAsync()
    {
        var paths = new ArtifactPaths(Settings);
        var checkpoints = new Dictionary<string, string>();
        foreach (var domain in FinalDomains)
        {
            var expert = ReadExpert(domain)!;
            var status = expert.Status!;
            Assert.Equal(ExpertPhase.Ready, status.Phase);
            Assert.True(Conditions.IsTrue(status.Conditions, ConditionTypes.Ready), $"Expert {domain} is Ready");
            Assert.Equal(expert.Metadata.Generation, status.ObservedGeneration);
            Assert.Null(status.ActiveJob);
            var train = await PublishedAsync($"{domain}-train-g1");
            var embed = await PublishedAsync($"{domain}-embed-g1");
            Assert.Equal((ArtifactPaths.RunModel(paths.ExpertRun(expert)), train), (status.Artifacts!.Checkpoint!.Uri, status.Artifacts.Checkpoint.Sha256));
            Assert.Equal((paths.ExpertEmbedding(expert), embed), (status.Artifacts.Embedding!.Uri, status.Artifacts.Embedding.Sha256));
            checkpoints[domain] = train;
        }

        checkpoints["science"] = Steps.OutputOf("science-train-g1").Sha256;
        var model = ReadModel()!;
        var served = model.Status!;
        Assert.Equal(NexusModelPhase.Ready, served.Phase);
        Assert.True(Conditions.IsTrue(served.Conditions, ConditionTypes.Ready), $"the model is Ready: {JsonSerializer.Serialize(served)}");
        Assert.Equal(model.Metadata.Generation, served.ObservedGeneration);
        Assert.Equal((3, 3, 2), (served.CurrentRevision, served.ServedRevision, served.ExpertCount));
        Assert.Equal(FinalDomains, served.Experts);
        Assert.Null(served.ActiveJob);
        Assert.Equal([1, 2, 3], served.Revisions!.Select(revision => revision.Revision));
        (string[] Experts, RevisionReason Reason, string? Extension, string ModelJob)[] expected =
        [
            (Domains, RevisionReason.Initial, null, "demo-finetune-r1"),
            ([.. Domains, "code"], RevisionReason.Extension, "demo-r2", "demo-r2-extend-code-r2"),
            (FinalDomains, RevisionReason.Removal, "demo-r3", "demo-r3-remove-science-r3"),
        ];
        foreach (var (revision, (experts, reason, extension, modelJob)) in served.Revisions!.Zip(expected))
        {
            Assert.Equal((reason, extension), (revision.Reason, revision.Extension));
            Assert.Equal(experts.Select(domain => (domain, checkpoints[domain])), revision.Experts!.Select(expert => (expert.Name, expert.CheckpointSha256!)));
            Assert.Equal((JobOutputModel(modelJob), await PublishedAsync(modelJob)), (revision.Model!.Uri, revision.Model.Sha256));
            Assert.Equal(experts.Order(), revision.Metrics!.Perplexity!.Keys.Order());
        }

        foreach (var extension in new[] { "demo-r2", "demo-r3" })
        {
            var status = Read<Extension>($"{Extension.KubeGroup}/{Extension.KubeApiVersion}", Extension.KubePluralName, extension)!.Status!;
            Assert.Equal(ExtensionPhase.Succeeded, status.Phase);
            Assert.Equal(status.ToRevision, status.FromRevision + 1);
        }

        var deployment = KubernetesJson.Deserialize<V1Deployment>(Server.Get("apps/v1", "deployments", Ns, Model)!.ToJsonString());
        Assert.Equal("3", deployment.Spec.Template.Metadata.Annotations[Annotations.Revision]);
        Assert.Contains(served.Revisions![2].Model!.Uri, deployment.Spec.Template.Spec.Containers[0].Args);
    }

    /// <summary>Every step of the story had exactly one Job: each Job name was created successfully once (a create
    /// answered 409 made nothing), no two Jobs publish to the same output, and the worker ran each once.</summary>
    protected void AssertEachStepRanOnce()
    {
        var created = Server.Requests.All.Where(record => record is { Verb: "create", Resource: "jobs", StatusCode: 201 }).ToList();
        Assert.All(created.GroupBy(record => record.Name), name => Assert.True(name.Count() == 1, $"Job {name.Key} was created {name.Count()} times"));
        Assert.Equal(StoryJobs.Order(), created.Select(record => record.Name!).Order());
        // The deleted Expert's Jobs went with it (owner-reference garbage collection); every other Job stays.
        var jobs = Server.List("batch/v1", "jobs", Ns).Select(json => KubernetesJson.Deserialize<V1Job>(json.ToJsonString())).ToList();
        Assert.Equal(StoryJobs.Where(name => !name.StartsWith("science-", StringComparison.Ordinal)).Order(), jobs.Select(job => job.Metadata.Name).Order());
        Assert.Equal(jobs.Count, jobs.Select(FakeStepRunner.OutputUri).Distinct().Count());
        Assert.Equal(StoryJobs.Order(), Steps.Handled.Order());
        Assert.Empty(Steps.Errors);
    }

    protected Expert? ReadExpert(string name) => Read<Expert>($"{Expert.KubeGroup}/{Expert.KubeApiVersion}", Expert.KubePluralName, name);

    protected NexusModel? ReadModel() => Read<NexusModel>($"{NexusModel.KubeGroup}/{NexusModel.KubeApiVersion}", NexusModel.KubePluralName, Model);

    private bool ExpertIsReady(string name) =>
        ReadExpert(name) is { Status: { Phase: ExpertPhase.Ready } status } expert && status.ObservedGeneration == expert.Metadata.Generation;

    private bool ModelServes(int revision, IReadOnlyList<string> experts) =>
        ReadModel() is { Status: { Phase: NexusModelPhase.Ready } status } model
        && status.ObservedGeneration == model.Metadata.Generation
        && status.CurrentRevision == revision
        && status.ServedRevision == revision
        && (status.Experts ?? []).SequenceEqual(experts);

    /// <summary>The SHA-256 of the Job's result as its output's manifest in the store records it, which must be what the
    /// worker published.</summary>
    private async Task<string> PublishedAsync(string jobName)
    {
        var output = Steps.OutputOf(jobName);
        var store = ArtifactStores.Default(output.OutputUri);
        var manifest = await store.GetManifestAsync();
        var sha = Assert.Single(manifest!.Files, file => file.Path == output.ResultPath).Sha256;
        Assert.Equal(output.Sha256, sha);
        return sha;
    }

    /// <summary>The model a finetune Job's run holds (its output's <c>model/</c>).</summary>
    private string JobOutputModel(string jobName) => ArtifactPaths.RunModel(Steps.OutputOf(jobName).OutputUri);

    private T? Read<T>(string apiVersion, string plural, string name)
        where T : class =>
        Server.Get(apiVersion, plural, Ns, name) is { } json ? KubernetesJson.Deserialize<T>(json.ToJsonString()) : null;
}
