using System.Diagnostics;
using System.Net;
using k8s;
using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Specs;
using Nexus.Operator.Tests.Support;
using Nexus.Storage;

namespace Nexus.Local.Tests;

/// <summary>
/// <c>nexus run</c>'s cluster end to end: the <c>examples/</c> manifests with their <c>s3://</c> locations as written
/// (read from the local buckets, where a tiny seed and texts are put) and their budgets shrunk (as ExamplesStoryTests
/// does), applied from a folder; every step a real <c>nexus</c> process, the artifacts under <c>file://ROOT/artifacts</c>,
/// the model served by <c>nexus serve</c>.
/// </summary>
[Collection(LocalProcesses.Name)]
public sealed class LocalClusterTests : IDisposable
{
    private static readonly string[] InitialDomains = TinyExamples.InitialDomains;
    private static readonly TimeSpan Lifecycle = TimeSpan.FromMinutes(5);
    private readonly string directory = Path.Combine(Path.GetTempPath(), "nexus-run-tests-" + Guid.NewGuid().ToString("N"));
    private readonly StringWriter log = new();
    private readonly TinyExamples examples;
    private readonly TextWriter output;

    public LocalClusterTests()
    {
        output = TextWriter.Synchronized(log);
        examples = new TinyExamples(Buckets, asLocalBuckets: true);
    }

    private string Manifests => Path.Combine(directory, "manifests");

    private string Buckets => Path.Combine(directory, ".nexus", "s3");

    private LocalClusterOptions Options(bool serve = true) => new()
    {
        Root = Path.Combine(directory, ".nexus"), NexusPath = LocalNexus.Require(), Parallel = 2, Serve = serve, ServingPort = serve ? 0 : null,
        ManifestPollInterval = TimeSpan.FromMilliseconds(200), LocalBuckets = Buckets,
    };

    public void Dispose()
    {
        output.Dispose();
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task TheExamplesBecomeAServedModel_AndAnExpertFileAddedToTheFolderMakesRevisionTwo()
    {
        await PrepareSeedAndDataAsync();
        Directory.CreateDirectory(Manifests);
        foreach (var domain in InitialDomains)
        {
            WriteExample($"expert-{domain}.yaml");
        }

        WriteExample("nexusmodel-demo.yaml");
        Assert.Contains("uri: s3://corpora/nexus-data/news", await File.ReadAllTextAsync(Path.Combine(Manifests, "expert-news.yaml")));
        await using (var cluster = await LocalCluster.StartAsync(Options(), output))
        {
            await ExtendWhileRunningAsync(cluster);
        }

        // Run again on the same root: it resumes at revision 2 and reports it with its table, read from the step's log.
        var before = Occurrences("| code |");
        await using (var again = await LocalCluster.StartAsync(Options(serve: false), output))
        {
            Assert.Empty(await again.ApplyAsync([Manifests]));
            Assert.Equal(0, await UntilReadyAsync(again));
            Assert.Empty(again.Jobs.Ran);
            Assert.Equal(before + 1, Occurrences("| code |"));
        }
    }

    /// <summary>Revision 1 from the four examples in the folder, then revision 2 once the code Expert's file is added.</summary>
    private async Task ExtendWhileRunningAsync(LocalCluster cluster)
    {
        using var stop = new CancellationTokenSource();
        var watching = cluster.WatchManifestsAsync([Manifests], stop.Token);

        Assert.Empty(await cluster.ApplyAsync([Manifests]));
        var news = KubernetesJson.Deserialize<Expert>(cluster.Server.Get("nexus.moe/v1alpha1", "experts", "default", "news")!.ToJsonString());
        Assert.Equal(TinyExamples.FileUri(Path.Combine(Buckets, "corpora", "nexus-data", "news")), news.Spec.Data.Uri); // s3:// read from the local buckets
        Assert.Equal(0, await UntilReadyAsync(cluster));
        Assert.DoesNotContain("which does not exist", log.ToString()); // the seed is found inside its published artifact

        var first = await ModelAsync(cluster);
        Assert.Equal(1, first.Status!.ServedRevision);
        Assert.Equal(InitialDomains.Order(), first.Status.Experts!.Order());
        await Eventually.WaitUntilAsync(() => log.ToString().Contains("NexusModel default/demo: Ready", StringComparison.Ordinal), "the Ready phase is reported");
        Assert.Contains("NexusModel default/demo Ready: revision 1", log.ToString());
        Assert.Contains($"server: {cluster.Server.BaseUri.ToString().TrimEnd('/')}", await File.ReadAllTextAsync(cluster.KubeconfigPath));
        using var http = new HttpClient();
        var endpoint = cluster.Deployments!.EndpointOf("default", "demo")!;
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(endpoint, "readyz"))).StatusCode);
        Assert.Contains($"NexusModel default/demo Ready: revision 1", log.ToString());
        Assert.Contains($"endpoint {cluster.ServingUri}", log.ToString());
        Assert.Contains("| domain | perplexity | tokens |", log.ToString()); // the evaluate step's table, routing shares included
        Assert.Contains("| news |", log.ToString());
        Assert.Contains("\"demo\"", await http.GetStringAsync(new Uri(cluster.ServingUri!, "v1/models")));

        File.Copy(Path.Combine(directory, "staged", "code-expert.yaml"), Path.Combine(Manifests, "code-expert.yaml"));
        await Eventually.WaitUntilAsync(
            async () => (await ModelAsync(cluster)).Status is { ServedRevision: 2, Phase: NexusModelPhase.Ready },
            () => Task.FromResult($"revision 2 served; so far:\n{log}"),
            Lifecycle);

        await Eventually.WaitUntilAsync(() => log.ToString().Contains("NexusModel default/demo Ready: revision 2", StringComparison.Ordinal), "revision 2 is reported");
        var second = await ModelAsync(cluster);
        Assert.NotEqual(endpoint, cluster.Deployments.EndpointOf("default", "demo"));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(cluster.ServingUri!, "readyz"))).StatusCode); // the same address, the new process
        Assert.Equal([.. first.Status.Experts!, "code"], second.Status!.Experts);
        Assert.Equal(RevisionReason.Extension, second.Status.Revisions!.Single(r => r.Revision == 2).Reason);
        Assert.All(cluster.Jobs.Ran, name => Assert.Equal(LocalJobOutcome.Succeeded, cluster.Jobs.LogsOf(name).Outcome));
        await stop.CancelAsync();
        await watching;
    }

    [Fact]
    public async Task WithS3_AnExampleReadsItsS3LocationsThereAndItsArtifactsArePublishedUnderTheS3Root()
    {
        using var s3 = new Nexus.Storage.Tests.S3rver();
        var local = Path.Combine(directory, "to-upload");
        await new TinyExamples(local, asLocalBuckets: true).PrepareSeedAndDataAsync();
        var seed = Path.Combine(directory, "seed-files");
        await new FileArtifactStore(ArtifactLocation.Parse(Path.Combine(local, "models", "runs", "seed"))).FetchAsync(seed);
        foreach (var (folder, uri) in new[] { (Path.Combine(local, "corpora", "nexus-data"), "s3://corpora/nexus-data"), (seed, "s3://models/runs/seed") })
        {
            using var store = new S3ArtifactStore(ArtifactLocation.Parse(uri), s3.Settings);
            await store.EnsureBucketAsync();
            await store.PublishAsync(folder);
        }

        Directory.CreateDirectory(Manifests);
        WriteExample("expert-news.yaml", new TinyExamples(local, asLocalBuckets: true));
        await using var cluster = await LocalCluster.StartAsync(
            Options(serve: false) with { LocalBuckets = null, S3 = s3.Settings, Artifacts = "s3://nexus-artifacts/run" }, output);

        Assert.Empty(await cluster.ApplyAsync([Manifests]));
        Expert? news = null;
        await Eventually.WaitUntilAsync(
            () => Task.FromResult((news = KubernetesJson.Deserialize<Expert>(cluster.Server.Get("nexus.moe/v1alpha1", "experts", "default", "news")!.ToJsonString()))
                .Status?.Phase is ExpertPhase.Ready or ExpertPhase.Failed),
            () => Task.FromResult($"the Expert is Ready or Failed; so far:\n{log}\n{string.Join("\n", cluster.Jobs.Ran.Select(cluster.Jobs.LogsOf))}"),
            Lifecycle);

        Assert.True(news!.Status!.Phase == ExpertPhase.Ready, string.Join("\n", cluster.Jobs.Ran.Select(cluster.Jobs.LogsOf)));
        Assert.Equal("s3://corpora/nexus-data/news", news.Spec.Data.Uri); // not a local bucket: S3 is configured
        Assert.StartsWith("s3://nexus-artifacts/run/", news.Status.Artifacts!.Checkpoint!.Uri);
        Assert.StartsWith("s3://nexus-artifacts/run/", news.Status.Artifacts!.Embedding!.Uri);
        var run = news.Status.Artifacts.Checkpoint.Uri[..news.Status.Artifacts.Checkpoint.Uri.LastIndexOf("/model", StringComparison.Ordinal)];
        using var published = new S3ArtifactStore(ArtifactLocation.Parse(run), s3.Settings);
        Assert.NotNull(await published.GetManifestAsync());
    }

    [Fact]
    public async Task ARerunWithOtherS3KeysGivesTheStepsTheNewKeys_NotTheSavedOnes()
    {
        Directory.CreateDirectory(Manifests);
        File.Copy(Path.Combine(RepositoryRoot.Path, "examples", "expert-news.yaml"), Path.Combine(Manifests, "expert-news.yaml"));
        foreach (var key in new[] { "first-key", "second-key" })
        {
            var s3 = new S3Settings(new Uri("http://127.0.0.1:9"), "us-east-1", key, key + "-secret");
            await using var cluster = await LocalCluster.StartAsync(Options(serve: false) with { LocalBuckets = null, S3 = s3 }, output);
            Assert.Empty(await cluster.ApplyAsync([Manifests]));

            var secret = await cluster.Client.CoreV1.ReadNamespacedSecretAsync(new OperatorSettings().S3CredentialsSecretName, "default");
            Assert.Equal(key, System.Text.Encoding.UTF8.GetString(secret.Data[OperatorSettings.S3AccessKeyKey]));
            Assert.Equal(key + "-secret", System.Text.Encoding.UTF8.GetString(secret.Data[OperatorSettings.S3SecretKeyKey]));
        }
    }

    [Fact]
    public async Task AnS3LocationMissingFromTheLocalBucketsIsReportedOnce_NamingWhereItIsRead()
    {
        Directory.CreateDirectory(Manifests);
        File.Copy(Path.Combine(RepositoryRoot.Path, "examples", "expert-news.yaml"), Path.Combine(Manifests, "expert-news.yaml"));
        await using var cluster = await LocalCluster.StartAsync(Options(serve: false), output);

        Assert.Empty(await cluster.ApplyAsync([Manifests]));
        Assert.Empty(await cluster.ApplyAsync([Manifests]));

        var data = Path.Combine(Buckets, "corpora", "nexus-data", "news");
        Assert.Equal(1, Occurrences($"names s3://corpora/nexus-data/news, read from {data}, which does not exist (yet): put it there, or set S3 credentials"));
        Assert.Equal(1, Occurrences("names s3://models/runs/seed/model, read from"));
    }

    [Fact]
    public async Task ARemovedManifestDeletesItsObject_AnotherKindIsAProblemLine_AndARerunResumesFromTheStateFile()
    {
        Directory.CreateDirectory(Manifests);
        var seed = new Uri(Path.Combine(directory, "no-seed")).AbsoluteUri;
        await File.WriteAllTextAsync(Path.Combine(Manifests, "lone.yaml"), $"""
            apiVersion: nexus.moe/v1alpha1
            kind: Expert
            metadata:
              name: lone
            spec:
              domain: lone
              seed:
                uri: {seed}
              data:
                uri: {seed}
              training:
                steps: 1
                warmupSteps: 0
            """);
        await File.WriteAllTextAsync(Path.Combine(Manifests, "other.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n");
        string uid;
        await using (var cluster = await LocalCluster.StartAsync(Options(serve: false), output))
        {
            var problems = await cluster.ApplyAsync([Manifests]);

            var problem = Assert.Single(problems, p => p.Contains("other.yaml", StringComparison.Ordinal)); Assert.True(problems.Count == 1, string.Join("\n", problems));
            Assert.Contains("other.yaml: v1 ConfigMap is not applied by nexus run", problem);
            uid = cluster.Server.Get("nexus.moe/v1alpha1", "experts", "default", "lone")!["metadata"]!["uid"]!.GetValue<string>();
            await Eventually.WaitUntilAsync(() => log.ToString().Contains("Expert default/lone:", StringComparison.Ordinal), "the Expert's phase is reported");
        }

        await using (var again = await LocalCluster.StartAsync(Options(serve: false), output))
        {
            var resumed = again.Server.Get("nexus.moe/v1alpha1", "experts", "default", "lone")!;
            Assert.Equal(uid, resumed["metadata"]!["uid"]!.GetValue<string>());

            // Applying the same file again changes nothing (the server's defaults do not count as a difference) ...
            await again.ApplyAsync([Manifests]);
            Assert.Equal(1, again.Server.Get("nexus.moe/v1alpha1", "experts", "default", "lone")!["metadata"]!["generation"]!.GetValue<long>());
            Assert.DoesNotContain("Expert default/lone: updated", log.ToString());

            // ... a change in it updates the object ...
            var file = Path.Combine(Manifests, "lone.yaml");
            await File.WriteAllTextAsync(file, (await File.ReadAllTextAsync(file)).Replace("steps: 1\n", "steps: 3\n", StringComparison.Ordinal));
            await again.ApplyAsync([Manifests]);
            Assert.Equal(3, again.Server.Get("nexus.moe/v1alpha1", "experts", "default", "lone")!["spec"]!["training"]!["steps"]!.GetValue<int>());
            Assert.Contains("Expert default/lone: updated from", log.ToString());

            // ... and removing it deletes the object.
            File.Delete(file);

            await again.ApplyAsync([Manifests]);

            await again.Server.WaitForDeletionAsync("nexus.moe/v1alpha1", "experts", "default", "lone", TimeSpan.FromSeconds(30));
            Assert.Contains("Expert default/lone: deleted", log.ToString());
        }
    }

    private async Task<int> UntilReadyAsync(LocalCluster cluster)
    {
        using var limit = new CancellationTokenSource(Lifecycle);
        try
        {
            return await cluster.WaitUntilReadyAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"not Ready within {Lifecycle}:\n{log}\n{string.Join("\n", cluster.Jobs.Ran.Select(cluster.Jobs.LogsOf).Where(r => r.Outcome != LocalJobOutcome.Succeeded))}");
            throw;
        }
    }

    private int Occurrences(string text) => log.ToString().Split(text).Length - 1;

    private static async Task<NexusModel> ModelAsync(LocalCluster cluster) =>
        await cluster.Client.CustomObjects.GetNamespacedCustomObjectAsync<NexusModel>(NexusModel.KubeGroup, NexusModel.KubeApiVersion, "default", NexusModel.KubePluralName, "demo");

    /// <summary>The tiny seed and data (<see cref="TinyExamples"/>), and the code Expert's manifest staged for later.</summary>
    private async Task PrepareSeedAndDataAsync()
    {
        await examples.PrepareSeedAndDataAsync();
        Directory.CreateDirectory(Path.Combine(directory, "staged"));
        await File.WriteAllTextAsync(Path.Combine(directory, "staged", "code-expert.yaml"), KubernetesYaml.Serialize(examples.Load<Expert>("extension/code-expert.yaml")));
    }

    private void WriteExample(string file, TinyExamples? from = null)
    {
        from ??= examples;
        object resource = file.StartsWith("expert-", StringComparison.Ordinal) ? from.Load<Expert>(file) : from.Load<NexusModel>(file);
        File.WriteAllText(Path.Combine(Manifests, Path.GetFileName(file)), KubernetesYaml.Serialize(resource));
    }
}
