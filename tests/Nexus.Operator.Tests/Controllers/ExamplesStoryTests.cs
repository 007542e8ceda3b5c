using System.Diagnostics;
using k8s;
using k8s.Models;
using Nexus.Local;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Hosting;
using Nexus.Operator.Specs;
using Nexus.Operator.Tests.Support;
using Nexus.Storage;
using Xunit.Abstractions;

namespace Nexus.Operator.Tests.Controllers;

/// <summary>
/// The product's promise end to end, on the <c>examples/</c> manifests: the four Experts and the demo NexusModel applied,
/// every Job run as the real <c>nexus</c> step (a local process, <see cref="LocalJobRunner"/>) on a tiny model and tiny
/// texts, revision 1 served; the fifth Expert applied and, with no other action, revision 2 served with five experts;
/// an Expert deleted and revision 3 served without it. The manifests are the examples' own, with only their locations
/// pointed at local folders and their budgets shrunk to a few steps. The artifacts go to S3 (s3rver on loopback), as
/// in a cluster: the steps publish there and the operator reads their manifests there.
/// </summary>
[Collection(LocalProcesses.Name)]
public sealed class ExamplesStoryTests(ITestOutputHelper output) : LifecycleTest
{
    private static readonly string[] InitialDomains = TinyExamples.InitialDomains;
    private static readonly TimeSpan StoryStep = TimeSpan.FromMinutes(1);

    private TinyExamples examples => new(Root);

    [Fact]
    public async Task TheExamplesBecomeAServedModel_ThatGrowsWithAFifthExpert_AndShrinksWhenOneIsDeleted()
    {
        var clock = Stopwatch.StartNew();
        using var s3 = new Nexus.Storage.Tests.S3rver();
        var settings = Settings with { ArtifactRoot = "s3://nexus-artifacts/story", S3Endpoint = s3.Settings.Endpoint.AbsoluteUri.TrimEnd('/') };
        using (var bucket = new S3ArtifactStore(ArtifactLocation.Parse(settings.ArtifactRoot), s3.Settings))
        {
            await bucket.EnsureBucketAsync();
        }

        await examples.PrepareSeedAndDataAsync();
        await Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = settings.S3CredentialsSecretName },
            StringData = new Dictionary<string, string>
            {
                [OperatorSettings.S3AccessKeyKey] = s3.Settings.AccessKey, [OperatorSettings.S3SecretKeyKey] = s3.Settings.SecretKey,
            },
        }, Ns);
        await using var runner = new LocalJobRunner(Server, new LocalJobRunnerOptions { NexusPath = LocalNexus.Require(), MaxParallel = 2 });
        await runner.StartAsync();
        StartOperator(host => host.AddNexusControllers(settings, uri => new S3ArtifactStore(ArtifactLocation.Parse(uri), s3.Settings)));

        foreach (var domain in InitialDomains)
        {
            await ApplyAsync(Example<Expert>($"expert-{domain}.yaml"));
        }

        await ApplyAsync(Example<NexusModel>("nexusmodel-demo.yaml"));
        await ServedAsync(1, runner);
        var first = await GetModelAsync();
        Assert.Equal(InitialDomains.Order(), first.Status!.Experts!.Order());
        var revision1 = first.Status.Revisions!.Single();
        Assert.Equal(RevisionReason.Initial, revision1.Reason);
        Assert.All(InitialDomains, domain => Assert.True(revision1.Metrics!.Perplexity![domain] > 1, $"perplexity of {domain}"));
        // Jobs in the right order: every expert's training before its embedding, every embedding before the upcycle,
        // then finetune, then evaluation.
        var ran = runner.Ran.ToList();
        foreach (var domain in InitialDomains)
        {
            Assert.True(ran.IndexOf($"{domain}-train-g1") < ran.IndexOf($"{domain}-embed-g1"), string.Join(", ", ran));
            Assert.True(ran.IndexOf($"{domain}-embed-g1") < ran.IndexOf("demo-upcycle-r1"), string.Join(", ", ran));
        }

        Assert.Equal(["demo-upcycle-r1", "demo-finetune-r1", "demo-evaluate-r1"], ran.Skip(8));
        output.WriteLine($"revision 1 served after {clock.Elapsed.TotalSeconds:F0} s: {string.Join(", ", ran)}");

        await ApplyAsync(Example<Expert>("extension/code-expert.yaml"));
        await ServedAsync(2, runner);
        var second = await GetModelAsync();
        Assert.Equal([.. first.Status.Experts!, "code"], second.Status!.Experts);
        var revision2 = second.Status.Revisions!.Single(r => r.Revision == 2);
        Assert.Equal((RevisionReason.Extension, "demo-r2"), (revision2.Reason, revision2.Extension));
        Assert.True(revision2.Metrics!.Perplexity!["code"] > 1);
        Assert.Equal(["code-train-g1", "code-embed-g1", "demo-r2-extend-code-r2", "demo-r2-evaluate-r2"], runner.Ran.Skip(11));
        output.WriteLine($"revision 2 served after {clock.Elapsed.TotalSeconds:F0} s");

        await Client.CustomObjects.DeleteNamespacedCustomObjectAsync(Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName, "speeches");
        await ServedAsync(3, runner);
        var third = await GetModelAsync();
        Assert.Equal(second.Status.Experts!.Where(name => name != "speeches"), third.Status!.Experts);
        Assert.Equal(RevisionReason.Removal, third.Status.Revisions!.Single(r => r.Revision == 3).Reason);
        Assert.Equal(["demo-r3-remove-speeches-r3", "demo-r3-evaluate-r3"], runner.Ran.Skip(15));
        output.WriteLine($"revision 3 served after {clock.Elapsed.TotalSeconds:F0} s");

        // No Job was created twice or updated, and every process succeeded.
        var jobCreates = Server.Requests.All.Where(r => r.Resource == "jobs" && r.IsWrite).ToList();
        Assert.All(jobCreates, r => Assert.Equal("create", r.Verb));
        Assert.All(runner.Ran, name => Assert.Equal(LocalJobOutcome.Succeeded, runner.LogsOf(name).Outcome));
    }

    /// <summary>Waits until the model's Deployment runs <paramref name="revision"/>, makes it ready (the test plays the
    /// Deployment controller), then waits for the model to be Ready serving it.</summary>
    private async Task ServedAsync(int revision, LocalJobRunner runner)
    {
        var text = revision.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await Eventually.WaitUntilAsync(async () =>
            {
                var deployment = (await Client.AppsV1.ListNamespacedDeploymentAsync(Ns)).Items.FirstOrDefault(d => d.Metadata.Name == "demo");
                return deployment?.Spec.Template.Metadata.Annotations[Annotations.Revision] == text;
            },
            async () => $"the Deployment runs revision {revision} ({await DescribeAsync(runner)})",
            StoryStep);
        Server.Deployments.MakeReady(Ns, "demo");
        await Eventually.WaitUntilAsync(async () => (await GetModelAsync()).Status is { Phase: NexusModelPhase.Ready } status && status.ServedRevision == revision,
            $"the model is Ready serving revision {revision}", TimeSpan.FromSeconds(20));
    }

    /// <summary>Where the story is: each resource's phase and message, the Jobs run, and any that failed.</summary>
    private async Task<string> DescribeAsync(LocalJobRunner runner)
    {
        var experts = await Client.CustomObjects.ListNamespacedCustomObjectAsync<ExpertList>(Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName);
        var model = await GetModelAsync();
        var jobs = await Client.BatchV1.ListNamespacedJobAsync(Ns);
        return string.Join("; ", experts.Items.Select(e => $"Expert {e.Metadata.Name} {e.Status?.Phase}: {e.Status?.Message}"))
               + $"; NexusModel {model.Status?.Phase}: {model.Status?.Message}; Jobs: {string.Join(", ", jobs.Items.Select(j => j.Metadata.Name))}"
               + $"; run: {string.Join(", ", runner.Ran)}; failed: "
               + string.Join("; ", runner.Ran.Select(runner.LogsOf).Where(run => run.Outcome == LocalJobOutcome.Failed));
    }

    /// <summary>An example manifest shrunk to the tiny seed and data (<see cref="TinyExamples"/>), in this test's namespace.</summary>
    private T Example<T>(string file) where T : IKubernetesObject<V1ObjectMeta>
    {
        var resource = examples.Load<T>(file);
        resource.Metadata.NamespaceProperty = Ns;
        return resource;
    }

    private Task ApplyAsync<T>(T resource) where T : IKubernetesObject<V1ObjectMeta>
    {
        var (group, version, plural) = resource switch
        {
            Expert => (Expert.KubeGroup, Expert.KubeApiVersion, Expert.KubePluralName),
            NexusModel => (NexusModel.KubeGroup, NexusModel.KubeApiVersion, NexusModel.KubePluralName),
            _ => throw new ArgumentException($"No examples of {typeof(T).Name} are applied here."),
        };
        return Client.CustomObjects.CreateNamespacedCustomObjectAsync(resource, group, version, Ns, plural);
    }

    private Task<NexusModel> GetModelAsync() =>
        Client.CustomObjects.GetNamespacedCustomObjectAsync<NexusModel>(NexusModel.KubeGroup, NexusModel.KubeApiVersion, Ns, NexusModel.KubePluralName, "demo");
}
