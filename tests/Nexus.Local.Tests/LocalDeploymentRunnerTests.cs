using System.Diagnostics;
using System.Net;
using k8s;
using k8s.Models;
using Nexus.ApiServer;
using Nexus.Operator.Specs;
using Nexus.Operator.Tests.Support;

namespace Nexus.Local.Tests;

/// <summary>The Deployment runner against the in-process API server, with the real <c>nexus serve</c> on a tiny model.</summary>
[Collection(LocalProcesses.Name)]
public sealed class LocalDeploymentRunnerTests : IAsyncLifetime
{
    private const string Namespace = "serving";
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(90);
    private readonly string directory = Path.Combine(Path.GetTempPath(), "nexus-deployments-tests-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private LocalApiServer server = null!;
    private Kubernetes client = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(directory);
        server = await LocalApiServer.StartAsync();
        client = server.CreateClient();
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = Namespace } });
    }

    public async Task DisposeAsync()
    {
        http.Dispose();
        client.Dispose();
        await server.DisposeAsync();
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task ServesOnceReady_RollsOnATemplateChangeStoppingTheOldProcess_AndStopsWhenDeleted()
    {
        var model = await TrainTinyModelAsync();
        await using var runner = new LocalDeploymentRunner(server, new LocalDeploymentRunnerOptions { NexusPath = LocalNexus.Require() });
        await runner.StartAsync();

        await client.AppsV1.CreateNamespacedDeploymentAsync(Deployment(model, revision: "1"), Namespace);

        var first = await AvailableAsync(runner, generation: 1);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(first.Endpoint, "readyz"))).StatusCode);

        var deployment = await client.AppsV1.ReadNamespacedDeploymentAsync("demo", Namespace);
        deployment.Spec.Template.Metadata.Annotations["nexus.moe/revision"] = "2";
        await client.AppsV1.ReplaceNamespacedDeploymentAsync(deployment, "demo", Namespace);

        var second = await AvailableAsync(runner, generation: 2);
        Assert.NotEqual(first.TemplateHash, second.TemplateHash);
        await Eventually.WaitUntilAsync(() => first.HasExited, "the old process exits after SIGTERM", TimeSpan.FromSeconds(30));
        Assert.Equal(second.Endpoint, runner.EndpointOf(Namespace, "demo"));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(second.Endpoint, "readyz"))).StatusCode);
        var rolled = await client.AppsV1.ReadNamespacedDeploymentAsync("demo", Namespace);
        Assert.Equal("2", rolled.Metadata.Annotations["deployment.kubernetes.io/revision"]);

        await client.AppsV1.DeleteNamespacedDeploymentAsync("demo", Namespace);
        await Eventually.WaitUntilAsync(() => second.HasExited, "the process exits once its Deployment is deleted", TimeSpan.FromSeconds(30));
        Assert.Null(runner.EndpointOf(Namespace, "demo"));
    }

    [Fact]
    public async Task AProcessThatExitsMakesTheDeploymentUnavailableWithItsLastLine()
    {
        await using var runner = new LocalDeploymentRunner(server, new LocalDeploymentRunnerOptions { NexusPath = LocalNexus.Require() });
        await runner.StartAsync();
        var missing = Path.Combine(directory, "no-model");

        await client.AppsV1.CreateNamespacedDeploymentAsync(Deployment(missing, revision: "1"), Namespace);

        await Eventually.WaitUntilAsync(async () =>
            {
                var stored = await client.AppsV1.ReadNamespacedDeploymentAsync("demo", Namespace);
                return stored.Status?.Conditions?.Any(c => c.Type == "Available" && c.Status == "False" && c.Message is not null) == true
                       && stored.Status.Conditions.Single(c => c.Type == "Progressing").Message.Contains("no model there", StringComparison.Ordinal);
            },
            "the Deployment is unavailable, saying why the process exited",
            Startup);
        Assert.Null(runner.EndpointOf(Namespace, "demo"));
    }

    /// <summary>Waits until the Deployment's rollout of <paramref name="generation"/> is complete and returns the
    /// process serving it.</summary>
    private async Task<LocalServingProcess> AvailableAsync(LocalDeploymentRunner runner, long generation)
    {
        await Eventually.WaitUntilAsync(async () =>
            {
                var stored = await client.AppsV1.ReadNamespacedDeploymentAsync("demo", Namespace);
                return stored.Status?.ObservedGeneration == generation && stored.Status.AvailableReplicas == 1 && runner.EndpointOf(Namespace, "demo") is not null;
            },
            async () => $"generation {generation} available; processes: {string.Join(" | ", runner.Started.Select(p => $"{p.TemplateHash} ready={p.IsReady} exited={p.HasExited}: {p.Tail}"))}",
            Startup);
        return runner.Started.Last(p => p.IsReady && !p.HasExited);
    }

    private static V1Deployment Deployment(string model, string revision) => new()
    {
        Metadata = new V1ObjectMeta { Name = "demo" },
        Spec = new V1DeploymentSpec
        {
            Replicas = 1,
            Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "demo" } },
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta
                {
                    Labels = new Dictionary<string, string> { ["app"] = "demo" },
                    Annotations = new Dictionary<string, string> { ["nexus.moe/revision"] = revision },
                },
                Spec = new V1PodSpec
                {
                    Containers =
                    [
                        new V1Container
                        {
                            Name = "server",
                            Image = new OperatorSettings().WorkerImage,
                            Command = ["nexus"],
                            Args = ["serve", "--model", model, "--model-id", "demo", "--port", "8080", "--threads", "1"],
                            ReadinessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/readyz", Port = "http" } },
                        },
                    ],
                },
            },
        },
    };

    private async Task<string> TrainTinyModelAsync()
    {
        var data = Path.Combine(directory, "data");
        Directory.CreateDirectory(data);
        await File.WriteAllTextAsync(Path.Combine(data, "text.txt"), string.Concat(Enumerable.Range(0, 120).Select(i => $"line {i}: the fox says {i * 7 % 13}. ")));
        var run = Path.Combine(directory, "run");
        var start = new ProcessStartInfo(LocalNexus.Require()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["train", "--data", data, "--out", run, "--model-size", "tiny", "--steps", "2", "--batch-size", "2",
                     "--seq-len", "32", "--eval-tokens", "64", "--checkpoint-every", "0", "--threads", "1"])
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await output + await error);
        return Path.Combine(run, "model");
    }
}
