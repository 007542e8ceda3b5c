using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Caching;
using Nexus.Operator.Client;
using Nexus.Operator.Hosting;
using Nexus.Operator.Metrics;
using Nexus.Operator.Specs;
using Nexus.Operator.Tests.Controllers;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Metrics;

/// <summary>
/// The lifecycle series against the test API server, read as Prometheus scrapes them (the registry's text export): the
/// phase gauge from the caches, step durations from the Job informer, rollouts from the Deployment informer. The Job
/// and Deployment tests run an operator as <c>nexus-operator run</c> registers its controllers, so they also show that
/// <see cref="OperatorControllers.AddNexusControllers"/> adds these series to the host's <c>/metrics</c>.
/// </summary>
public sealed class LifecycleMetricsTests : LifecycleTest
{
    private static readonly DateTime T0 = new(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private readonly ConcurrentDictionary<string, bool> _seenVersions = new();

    [Fact]
    public async Task PhaseGauge_CountsEachKindByStatusPhase_EveryPhaseReported_AtScrapeTime()
    {
        var metrics = new OperatorMetrics();
        var informers = new InformerFactory(new KubernetesListWatcherFactory(Client, Ns), TestInformers.QuickRetries, metrics);
        LifecycleMetrics.Register(informers, metrics, () => true);
        using var stop = new CancellationTokenSource();
        var running = informers.RunAsync(stop.Token);

        await CreateExpertAsync("a", ExpertPhase.Training);
        await CreateExpertAsync("b", ExpertPhase.Training);
        await CreateExpertAsync("c", ExpertPhase.Ready);
        await CreateExpertAsync("d", phase: null);
        await CreateAsync(
            new NexusModel
            {
                Metadata = new V1ObjectMeta { Name = "demo" },
                Spec = new NexusModelSpec
                {
                    Seed = new ArtifactSource { Uri = $"file://{Root}/seed/model" },
                    Experts = new ExpertSelection { Names = ["a", "b"] },
                },
            },
            NexusModel.KubePluralName, new { phase = nameof(NexusModelPhase.RollingOut) });
        await CreateAsync(
            new Extension { Metadata = new V1ObjectMeta { Name = "grow" }, Spec = new ExtensionSpec { Model = "demo", Add = ["c"] } },
            Extension.KubePluralName, new { phase = nameof(ExtensionPhase.Running) });

        var expected = new Dictionary<string, double>
        {
            ["Expert/Pending"] = 0, ["Expert/Training"] = 2, ["Expert/Importing"] = 0, ["Expert/Embedding"] = 0,
            ["Expert/Ready"] = 1, ["Expert/Failed"] = 0, ["Expert/Unknown"] = 1,
            ["NexusModel/Pending"] = 0, ["NexusModel/Upcycling"] = 0, ["NexusModel/Finetuning"] = 0, ["NexusModel/Extending"] = 0,
            ["NexusModel/RollingOut"] = 1, ["NexusModel/Ready"] = 0, ["NexusModel/Failed"] = 0, ["NexusModel/Unknown"] = 0,
            ["Extension/Pending"] = 0, ["Extension/Running"] = 1, ["Extension/Succeeded"] = 0, ["Extension/Failed"] = 0,
            ["Extension/Unknown"] = 0,
        };
        await WaitForPhasesAsync(metrics, expected);

        // Counted at each scrape, from the cache as it is then.
        await PatchStatusAsync(Expert.KubePluralName, "d", new { phase = nameof(ExpertPhase.Failed) });
        await Client.CustomObjects.DeleteNamespacedCustomObjectAsync(Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName, "c");
        expected["Expert/Unknown"] = 0;
        expected["Expert/Failed"] = 1;
        expected["Expert/Ready"] = 0;
        await WaitForPhasesAsync(metrics, expected);

        await stop.CancelAsync();
        await running;
    }

    [Fact]
    public async Task AStepJobThatFinishes_IsObservedOnce_WithItsStepOutcomeAndRunTime()
    {
        // Finished before the operator started: its run was observed by the operator running then.
        await CreateJobAsync("old-train", StepLabels("train"));
        await PatchJobStatusAsync("old-train", Finished("Complete", T0, T0.AddHours(5)));

        var host = StartOperatorWatching<V1Job>();
        await Eventually.WaitUntilAsync(() => host.Informers.HasSynced, "the operator's caches synced");

        await CreateJobAsync("news-train-g1", StepLabels("train"));
        await PatchJobStatusAsync("news-train-g1", new JsonObject { ["startTime"] = Timestamp(T0), ["active"] = 1 });
        await PatchJobStatusAsync("news-train-g1", Finished("Complete", T0, T0.AddSeconds(90)));
        await CreateJobAsync("news-embed-g1", StepLabels("embed"));
        await PatchJobStatusAsync("news-embed-g1", Finished("Failed", T0, T0.AddSeconds(30)));
        // Not the operator's: a Job with the component label but no managed-by.
        await CreateJobAsync("cron", new Dictionary<string, string> { [Labels.Component] = "train" });
        var cron = await PatchJobStatusAsync("cron", Finished("Complete", T0, T0.AddSeconds(7)));

        await Eventually.WaitUntilAsync(
            async () => Sample(await ScrapeAsync(host), Series("nexus_step_duration_seconds_count", "train", "succeeded")) == 1
                        && Sample(await ScrapeAsync(host), Series("nexus_step_duration_seconds_count", "embed", "failed")) == 1,
            "the train and embed Jobs were observed");
        await WaitUntilSeenAsync(cron.Metadata.ResourceVersion, "the cron Job finished");

        // A later update of a finished Job is not another run.
        var touched = await Client.BatchV1.PatchNamespacedJobAsync(
            new V1Patch("""{"metadata":{"labels":{"touched":"yes"}}}""", V1Patch.PatchType.MergePatch), "news-train-g1", Ns);
        await WaitUntilSeenAsync(touched.Metadata.ResourceVersion, "the touched Job");

        var scrape = await ScrapeAsync(host);
        Assert.Equal(1, Sample(scrape, Series("nexus_step_duration_seconds_count", "train", "succeeded")));
        Assert.Equal(90, Sample(scrape, Series("nexus_step_duration_seconds_sum", "train", "succeeded")));
        Assert.Equal(1, Sample(scrape, Series("nexus_step_duration_seconds_bucket", "train", "succeeded", le: "160")));
        Assert.Equal(0, Sample(scrape, Series("nexus_step_duration_seconds_bucket", "train", "succeeded", le: "80")));
        Assert.Equal(1, Sample(scrape, Series("nexus_step_duration_seconds_count", "embed", "failed")));
        Assert.Equal(30, Sample(scrape, Series("nexus_step_duration_seconds_sum", "embed", "failed")));
        Assert.Null(Sample(scrape, Series("nexus_step_duration_seconds_count", "train", "failed")));
    }

    [Fact]
    public async Task ARevisionChangeOfTheServingDeployment_CountsOneRolloutOnceRolledOut()
    {
        // Rolled out to revision 1 before the operator started: served, but not this operator's rollout.
        var model = new NexusModel { Metadata = new V1ObjectMeta { Name = "demo", NamespaceProperty = Ns, Uid = Guid.NewGuid().ToString() } };
        var deployment = ServingDeployment.Build(model, 1, $"file://{Root}/artifacts/demo/r1/model", Settings);
        // No owner: the NexusModel controller leaves it alone (the model's name comes from its label).
        deployment.Metadata.OwnerReferences = null;
        await Client.AppsV1.CreateNamespacedDeploymentAsync(deployment, Ns);
        Server.Deployments.MakeReady(Ns, "demo");

        var host = StartOperatorWatching<V1Deployment>();
        await Eventually.WaitUntilAsync(() => host.Informers.HasSynced, "the operator's caches synced");
        var served = Series("nexus_served_revision", model: "demo");
        var rollouts = Series("nexus_rollouts_total", model: "demo");
        var scrape = await ScrapeAsync(host);
        Assert.Equal(1, Sample(scrape, served));
        Assert.Null(Sample(scrape, rollouts));

        // The template moves to revision 2: under way, not yet a rollout.
        var changed = await Client.AppsV1.PatchNamespacedDeploymentAsync(
            new V1Patch(KubernetesJson.Serialize(new { spec = new { template = new { metadata = new { annotations = new Dictionary<string, string> { [Annotations.Revision] = "2" } } } } }), V1Patch.PatchType.MergePatch),
            "demo", Ns);
        await WaitUntilSeenAsync(changed.Metadata.ResourceVersion, "the revision change");
        scrape = await ScrapeAsync(host);
        Assert.Equal(1, Sample(scrape, served));
        Assert.Null(Sample(scrape, rollouts));

        Server.Deployments.MakeReady(Ns, "demo");
        await Eventually.WaitUntilAsync(async () => Sample(await ScrapeAsync(host), served) == 2, "revision 2 is served");
        Assert.Equal(1, Sample(await ScrapeAsync(host), rollouts));

        // Updates of a rolled-out Deployment at the same revision are no rollout.
        Server.Deployments.MakeReady(Ns, "demo");
        var touched = await Client.AppsV1.PatchNamespacedDeploymentAsync(
            new V1Patch("""{"metadata":{"labels":{"touched":"yes"}}}""", V1Patch.PatchType.MergePatch), "demo", Ns);
        await WaitUntilSeenAsync(touched.Metadata.ResourceVersion, "the touched Deployment");
        scrape = await ScrapeAsync(host);
        Assert.Equal(1, Sample(scrape, rollouts));
        Assert.Equal(2, Sample(scrape, served));
    }

    [Fact]
    public async Task AStandbyCountsNoStep_AndOnceLeadingNeitherRepeatsNorMissesOne()
    {
        var leading = false;
        var metrics = new OperatorMetrics();
        var informers = new InformerFactory(new KubernetesListWatcherFactory(Client, Ns), TestInformers.QuickRetries, metrics);
        LifecycleMetrics.Register(informers, metrics, () => Volatile.Read(ref leading));
        informers.Get<V1Job>().AddHandler(change => _seenVersions[change.Object.Metadata.ResourceVersion] = true);
        using var stop = new CancellationTokenSource();
        var running = informers.RunAsync(stop.Token);
        await Eventually.WaitUntilAsync(() => informers.HasSynced, "the caches synced");
        var count = Series("nexus_step_duration_seconds_count", "train", "succeeded");

        await CreateJobAsync("while-standby", StepLabels("train"));
        var finished = await PatchJobStatusAsync("while-standby", Finished("Complete", T0, T0.AddSeconds(60)));
        await WaitUntilSeenAsync(finished.Metadata.ResourceVersion, "the Job finished while standing by");
        Assert.Null(Sample(await ScrapeAsync(metrics), count));

        Volatile.Write(ref leading, true);
        var touched = await Client.BatchV1.PatchNamespacedJobAsync(
            new V1Patch("""{"metadata":{"labels":{"touched":"yes"}}}""", V1Patch.PatchType.MergePatch), "while-standby", Ns);
        await WaitUntilSeenAsync(touched.Metadata.ResourceVersion, "the touched Job");
        Assert.Null(Sample(await ScrapeAsync(metrics), count));

        await CreateJobAsync("while-leading", StepLabels("train"));
        await PatchJobStatusAsync("while-leading", Finished("Complete", T0, T0.AddSeconds(20)));
        await Eventually.WaitUntilAsync(async () => Sample(await ScrapeAsync(metrics), count) == 1, "the leader observed its Job");
        Assert.Equal(20, Sample(await ScrapeAsync(metrics), Series("nexus_step_duration_seconds_sum", "train", "succeeded")));

        await stop.CancelAsync();
        await running;
    }

    /// <summary>Starts an operator with the Nexus controllers, and a handler on <typeparamref name="T"/>'s informer,
    /// registered after the lifecycle metrics' own, that records every resourceVersion handed to it: once a version is
    /// seen there, the metrics' handler has had it too.</summary>
    private OperatorHost StartOperatorWatching<T>()
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        StartOperator(host => host.AddNexusControllers(Settings));
        var started = Operators[^1].Host;
        started.Informers.Get<T>().AddHandler(change => _seenVersions[change.Object.Metadata.ResourceVersion] = true);
        return started;
    }

    private Task WaitUntilSeenAsync(string resourceVersion, string what) =>
        Eventually.WaitUntilAsync(() => _seenVersions.ContainsKey(resourceVersion), $"the informer handed over {what}");

    private async Task WaitForPhasesAsync(OperatorMetrics metrics, Dictionary<string, double> expected)
    {
        string scrape = "";
        await Eventually.WaitUntilAsync(
            async () =>
            {
                scrape = await ScrapeAsync(metrics);
                return expected.All(pair =>
                {
                    var (kind, phase) = (pair.Key.Split('/')[0], pair.Key.Split('/')[1]);
                    return Sample(scrape, $$"""nexus_resources{kind="{{kind}}",phase="{{phase}}"}""") == pair.Value;
                });
            },
            $"the phase gauge reads {string.Join(", ", expected.Select(pair => $"{pair.Key}={pair.Value}"))} (last scrape: {scrape})");
    }

    private async Task CreateExpertAsync(string name, ExpertPhase? phase) => await CreateAsync(
        new Expert
        {
            Metadata = new V1ObjectMeta { Name = name },
            Spec = new ExpertSpec
            {
                Domain = name,
                Seed = new ArtifactSource { Uri = $"file://{Root}/seed/model" },
                Data = new ArtifactSource { Uri = $"file://{Root}/data/{name}" },
                Training = new ExpertTraining { Steps = 100 },
            },
        },
        Expert.KubePluralName, phase is { } value ? new { phase = value.ToString() } : null);

    private async Task CreateAsync<T>(T resource, string plural, object? status)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        await Client.CustomObjects.CreateNamespacedCustomObjectAsync<T>(resource, GroupVersion.Group, GroupVersion.Version, Ns, plural);
        if (status is not null)
        {
            await PatchStatusAsync(plural, resource.Metadata.Name, status);
        }
    }

    private Task PatchStatusAsync(string plural, string name, object status) =>
        Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(
            new V1Patch(KubernetesJson.Serialize(new { status }), V1Patch.PatchType.MergePatch),
            GroupVersion.Group, GroupVersion.Version, Ns, plural, name);

    private static Dictionary<string, string> StepLabels(string step) => new()
    {
        [Labels.Name] = Labels.NameValue,
        [Labels.Component] = step,
        [Labels.ManagedBy] = Labels.ManagedByValue,
    };

    private Task<V1Job> CreateJobAsync(string name, Dictionary<string, string> labels) => Client.BatchV1.CreateNamespacedJobAsync(
        new V1Job
        {
            Metadata = new V1ObjectMeta { Name = name, Labels = labels },
            Spec = new V1JobSpec
            {
                Template = new V1PodTemplateSpec
                {
                    Spec = new V1PodSpec { RestartPolicy = "Never", Containers = [new V1Container { Name = "nexus", Image = "nexus-worker:test" }] },
                },
            },
        },
        Ns);

    private Task<V1Job> PatchJobStatusAsync(string name, JsonObject status) =>
        Client.BatchV1.PatchNamespacedJobStatusAsync(
            new V1Patch(new JsonObject { ["status"] = status }.ToJsonString(), V1Patch.PatchType.MergePatch), name, Ns);

    /// <summary>A finished Job's status as the Job controller writes it: Complete with a completionTime, or Failed.</summary>
    private static JsonObject Finished(string condition, DateTime start, DateTime end)
    {
        var status = new JsonObject
        {
            ["startTime"] = Timestamp(start),
            ["active"] = 0,
            [condition == "Complete" ? "succeeded" : "failed"] = 1,
            ["conditions"] = new JsonArray(new JsonObject
            {
                ["type"] = condition,
                ["status"] = "True",
                ["reason"] = condition == "Complete" ? "CompletionsReached" : "BackoffLimitExceeded",
                ["lastTransitionTime"] = Timestamp(end),
            }),
        };
        if (condition == "Complete")
        {
            status["completionTime"] = Timestamp(end);
        }

        return status;
    }

    private static string Timestamp(DateTime time) => time.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Series(string name, string step, string outcome, string? le = null) =>
        le is null ? $$"""{{name}}{step="{{step}}",outcome="{{outcome}}"}""" : $$"""{{name}}{step="{{step}}",outcome="{{outcome}}",le="{{le}}"}""";

    private static string Series(string name, string model) => $$"""{{name}}{namespace="{{Ns}}",model="{{model}}"}""";

    private static Task<string> ScrapeAsync(OperatorHost host) => ScrapeAsync(host.Metrics);

    private static async Task<string> ScrapeAsync(OperatorMetrics metrics)
    {
        using var exported = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(exported);
        return Encoding.UTF8.GetString(exported.ToArray());
    }

    /// <summary>The value of one series in a text scrape; null when the scrape has no such series.</summary>
    private static double? Sample(string scrape, string series)
    {
        foreach (var line in scrape.Split('\n'))
        {
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return null;
    }
}
