using k8s;
using k8s.Models;
using Nexus.Local;
using Nexus.Operator.Controllers;
using Nexus.Operator.Specs;
using Nexus.ApiServer;
using Server = Nexus.ApiServer.LocalApiServer;

namespace Nexus.Operator.Tests.Support;

/// <summary>The fake worker against the test API server: what it publishes is what the operator reads as each step's
/// result, and once started it handles each Job once.</summary>
public sealed class FakeStepRunnerTests : IAsyncLifetime
{
    private const string Ns = "default";

    private readonly string _root = Path.Combine(Path.GetTempPath(), "nexus-fakesteps-tests-" + Guid.NewGuid().ToString("N"));
    private Server _server = null!;
    private FakeStepRunner _steps = null!;

    public async Task InitializeAsync()
    {
        // The Jobs have no owner here; nothing should collect them.
        _server = await Server.StartAsync(new LocalApiServerOptions { RunGarbageCollector = false });
        _steps = new FakeStepRunner(_server, _root, Ns);
    }

    public async Task DisposeAsync()
    {
        await _steps.DisposeAsync();
        await _server.DisposeAsync();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    public static TheoryData<StepKind> Kinds => new(StepKinds.All);

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task EachStepsOutputIsTheResultTheOperatorReads_AndTheJobSucceeds(StepKind kind)
    {
        var output = $"file://{_root}/artifacts/{kind.CommandName()}/{(kind is StepKind.Embed ? "embedding.json" : kind is StepKind.Evaluate ? "evaluation.json" : "out")}";
        SeedJob("step", kind, output);

        var sha = await _steps.SucceedAsync("step");

        var store = ArtifactStores.Default(output);
        var result = JobReadings.Result(new StepInvocation(kind, "step", [], output), await store.GetManifestAsync());
        Assert.Equal((JobReadings.ResultUri(new StepInvocation(kind, "step", [], output)), sha), (result?.Uri, result?.Sha256));
        Assert.Equal(sha, _steps.OutputOf("step").Sha256);
        Assert.True(NewJobs.IsFinished(ReadJob("step")));
        Assert.Equal("Complete", ReadJob("step").Status.Conditions.Last().Type);
    }

    [Fact]
    public async Task TheEvaluationReportCoversTheJobsDomainsInOrder()
    {
        var output = $"file://{_root}/artifacts/evaluation.json";
        SeedJob("evaluate", StepKind.Evaluate, output);

        await _steps.SucceedAsync("evaluate");

        var folder = Path.Combine(_root, "fetched");
        var manifest = await ArtifactStores.Default(output).FetchAsync(folder);
        var metrics = ModelProgress.Metrics(await File.ReadAllTextAsync(Path.Combine(folder, manifest.Files.Single().Path)))!;
        Assert.Equal(new Dictionary<string, double> { ["news"] = 10.0, ["science"] = 13.0 }, metrics.Perplexity);
        Assert.Equal(new Dictionary<string, double> { ["news"] = 0.9, ["science"] = 0.8 }, metrics.RoutingShare);
        Assert.Equal(8192, metrics.EvaluatedTokens);
    }

    [Fact]
    public async Task Started_ItHandlesEachJobOnce_AndFailsTheJobItIsToldTo()
    {
        _steps.FailJob("b-train-g1", exitCode: 137, podReason: "OOMKilled");
        await _steps.StartAsync();
        SeedJob("a-train-g1", StepKind.Train, $"file://{_root}/artifacts/a/run");
        SeedJob("b-train-g1", StepKind.Train, $"file://{_root}/artifacts/b/run");

        await _server.WaitForAsync(() => _steps.Handled.Count == 2, TimeSpan.FromSeconds(10));
        SeedJob("c-embed-g1", StepKind.Embed, $"file://{_root}/artifacts/c/embedding.json");
        await _server.WaitForAsync(() => _steps.Handled.Count == 3, TimeSpan.FromSeconds(10));

        Assert.Equal(["a-train-g1", "b-train-g1", "c-embed-g1"], _steps.Handled);
        Assert.Equal(["a-train-g1", "c-embed-g1"], _steps.Published.Select(output => output.JobName));
        var failed = ReadJob("b-train-g1");
        Assert.Equal("Failed", failed.Status.Conditions.Last().Type);
        Assert.Contains("OOMKilled", _server.Jobs.PodOf(Ns, "b-train-g1")!.ToJsonString());
        Assert.Empty(_steps.Errors);
    }

    private void SeedJob(string name, StepKind kind, string output) => _server.Seed(System.Text.Json.Nodes.JsonNode.Parse(KubernetesJson.Serialize(new V1Job
    {
        ApiVersion = "batch/v1",
        Kind = "Job",
        Metadata = new V1ObjectMeta
        {
            Name = name,
            NamespaceProperty = Ns,
            Labels = new Dictionary<string, string> { [Labels.Component] = kind.CommandName() },
            Annotations = new Dictionary<string, string> { [Annotations.Output] = output },
        },
        Spec = new V1JobSpec
        {
            Template = new V1PodTemplateSpec
            {
                Spec = new V1PodSpec
                {
                    RestartPolicy = "Never",
                    Containers =
                    [
                        new V1Container
                        {
                            Name = "nexus",
                            Image = "nexus-worker:test",
                            Args = [kind.CommandName(), "--name", "news", "--domain", "news=file:///data/news", "--domain", "science=file:///data/science", "--out", output],
                        },
                    ],
                },
            },
        },
    }))!.AsObject());

    private V1Job ReadJob(string name) => KubernetesJson.Deserialize<V1Job>(_server.Get("batch/v1", "jobs", Ns, name)!.ToJsonString());
}
