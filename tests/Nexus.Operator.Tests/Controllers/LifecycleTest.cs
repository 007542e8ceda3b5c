using k8s;
using k8s.Models;
using Nexus.Operator.Hosting;
using Nexus.Operator.Specs;
using Nexus.Operator.Tests.Support;
using Nexus.Storage;

namespace Nexus.Operator.Tests.Controllers;

/// <summary>
/// What the reconciler tests share: the test API server with the real CRDs, a file:// artifact root in a temp folder,
/// operators started as <c>nexus-operator run</c> starts them (each with its own client), and the steps' part played by
/// the test — publishing what a step would publish at its Job's <c>nexus.moe/output</c>.
/// </summary>
public abstract class LifecycleTest : IAsyncLifetime
{
    protected const string Ns = "default";

    private readonly List<RunningOperator> _operators = [];

    protected string Root { get; } = Path.Combine(Path.GetTempPath(), $"nexus-lifecycle-{Guid.NewGuid():N}");

    protected Nexus.TestApiServer.TestApiServer Server { get; private set; } = null!;

    protected Kubernetes Client { get; private set; } = null!;

    protected OperatorSettings Settings => new() { ArtifactRoot = $"file://{Root}/artifacts" };

    protected IReadOnlyList<RunningOperator> Operators => _operators;

    public async Task InitializeAsync()
    {
        Server = await Nexus.TestApiServer.TestApiServer.StartAsync();
        Server.InstallCrds(Path.Combine(RepositoryRoot.Path, "crds"));
        Client = Server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        foreach (var running in _operators)
        {
            await running.StopAsync();
        }

        Client.Dispose();
        await Server.DisposeAsync();
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }

    /// <summary>Starts an operator with the controllers <paramref name="register"/> adds, leader election off.</summary>
    protected void StartOperator(Func<OperatorHostBuilder, OperatorHostBuilder> register)
    {
        var client = Server.CreateClient();
        var host = register(OperatorHost.CreateBuilder(client)
                .WatchNamespace(Ns)
                .WithInformerOptions(TestInformers.QuickRetries)
                .WithLeaderElection(new LeaderElectionOptions { Enabled = false }))
            .Build();
        var stop = new CancellationTokenSource();
        _operators.Add(new RunningOperator(host, stop, Task.Run(() => host.RunAsync(stop.Token)), client));
    }

    protected async Task<V1Job?> FindJobAsync(string name) =>
        (await Client.BatchV1.ListNamespacedJobAsync(Ns)).Items.FirstOrDefault(job => job.Metadata.Name == name);

    protected Task WaitForJobAsync(string name) => Until(async () => await FindJobAsync(name) is not null, $"Job {name} exists");

    /// <summary>Publishes <paramref name="files"/> as the artifact at <paramref name="uri"/>, as a step would; returns the
    /// SHA-256 the manifest records for <paramref name="result"/>.</summary>
    protected async Task<string> PublishAsync(string uri, string result, params (string Path, string Content)[] files)
    {
        var staging = Path.Combine(Root, "staging", Guid.NewGuid().ToString("N"));
        foreach (var (path, content) in files)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(staging, path))!);
            await File.WriteAllTextAsync(Path.Combine(staging, path), content);
        }

        var published = await new FileArtifactStore(ArtifactLocation.Parse(uri)).PublishAsync(staging);
        return published.Manifest.Files.Single(file => file.Path == result).Sha256;
    }

    protected static Task Until(Func<Task<bool>> condition, string because) =>
        Eventually.WaitUntilAsync(condition, because, TimeSpan.FromSeconds(10));

    /// <summary>An operator the test started; stopping it twice is harmless.</summary>
    protected sealed record RunningOperator(OperatorHost Host, CancellationTokenSource Stop, Task Run, Kubernetes Client)
    {
        public async Task StopAsync()
        {
            if (Stop.IsCancellationRequested)
            {
                return;
            }

            await Stop.CancelAsync();
            await Run.WaitAsync(TimeSpan.FromSeconds(10));
            Client.Dispose();
        }
    }
}
