using k8s;
using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Hosting;
using Nexus.Operator.Specs;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Controllers;

/// <summary>
/// What the reconciler tests share: the test API server with the real CRDs, a file:// artifact root in a temp folder,
/// operators started as <c>nexus-operator run</c> starts them (each with its own client), and the steps' worker
/// (<see cref="Steps"/>), which publishes what a step would at its Job's <c>nexus.moe/output</c> — Job by Job when a
/// test calls it, or every Job once started.
/// </summary>
public abstract class LifecycleTest : IAsyncLifetime
{
    protected const string Ns = "default";

    /// <summary>The NexusModel the tests build; its Experts carry the label <c>nexus.moe/mix=demo</c> it selects.</summary>
    protected const string Model = "demo";

    private readonly List<RunningOperator> _operators = [];

    protected string Root { get; } = Path.Combine(Path.GetTempPath(), $"nexus-lifecycle-{Guid.NewGuid():N}");

    protected Nexus.ApiServer.LocalApiServer Server { get; private set; } = null!;

    protected Kubernetes Client { get; private set; } = null!;

    /// <summary>The fake worker of the step Jobs; not started (tests drive it Job by Job) until a test starts it.</summary>
    protected FakeStepRunner Steps { get; private set; } = null!;

    /// <summary>The Deployment controller completing each rollout at once; not started until a test starts it.</summary>
    protected DeploymentRollouts Rollouts { get; private set; } = null!;

    protected OperatorSettings Settings => new() { ArtifactRoot = $"file://{Root}/artifacts" };

    protected string Seed => $"file://{Root}/seed/model";

    protected IReadOnlyList<RunningOperator> Operators => _operators;

    public async Task InitializeAsync()
    {
        Server = await Nexus.ApiServer.LocalApiServer.StartAsync();
        Server.InstallCrds(Path.Combine(RepositoryRoot.Path, "crds"));
        Client = Server.CreateClient();
        Steps = new FakeStepRunner(Server, Root, Ns);
        Rollouts = new DeploymentRollouts(Server, Ns);
    }

    public async Task DisposeAsync()
    {
        foreach (var running in _operators)
        {
            await running.StopAsync();
        }

        await Steps.DisposeAsync();
        await Rollouts.DisposeAsync();
        Client.Dispose();
        await Server.DisposeAsync();
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }

    /// <summary>Starts an operator with the controllers <paramref name="register"/> adds, leader election off; its client
    /// sends <paramref name="userAgent"/> (the library's own when null), which tells its requests apart in the log.</summary>
    protected RunningOperator StartOperator(Func<OperatorHostBuilder, OperatorHostBuilder> register, string? userAgent = null)
    {
        var client = Server.CreateClient(userAgent);
        var host = register(OperatorHost.CreateBuilder(client)
                .WatchNamespace(Ns)
                .WithInformerOptions(TestInformers.QuickRetries)
                .WithLeaderElection(new LeaderElectionOptions { Enabled = false }))
            .Build();
        var stop = new CancellationTokenSource();
        var running = new RunningOperator(host, stop, Task.Run(() => host.RunAsync(stop.Token)), client);
        _operators.Add(running);
        return running;
    }

    /// <summary>An Expert for <paramref name="domain"/>, trained 100 steps from <see cref="Seed"/>, that the
    /// <see cref="Model"/> selects.</summary>
    protected Task<Expert> CreateExpertAsync(string domain) => Client.CustomObjects.CreateNamespacedCustomObjectAsync<Expert>(
        new Expert
        {
            Metadata = new V1ObjectMeta { Name = domain, NamespaceProperty = Ns, Labels = new Dictionary<string, string> { ["nexus.moe/mix"] = Model } },
            Spec = new ExpertSpec
            {
                Domain = domain,
                Seed = new ArtifactSource { Uri = Seed },
                Data = new ArtifactSource { Uri = $"file://{Root}/data/{domain}" },
                Training = new ExpertTraining { Steps = 100 },
            },
        },
        Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName);

    /// <summary>The <see cref="Model"/>: every Expert labelled <c>nexus.moe/mix=demo</c>, finetuned 50 steps, extended
    /// under <paramref name="policy"/>; <paramref name="configure"/> changes the spec before it is created.</summary>
    protected Task<NexusModel> CreateModelAsync(ExtensionPolicy policy = ExtensionPolicy.Automatic, Action<NexusModelSpec>? configure = null)
    {
        var spec = new NexusModelSpec
        {
            Seed = new ArtifactSource { Uri = Seed },
            Experts = new ExpertSelection { Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["nexus.moe/mix"] = Model } } },
            Finetune = new FinetuneSpec { Steps = 50 },
            Extension = new ExtensionPolicySpec { Policy = policy },
        };
        configure?.Invoke(spec);
        return Client.CustomObjects.CreateNamespacedCustomObjectAsync<NexusModel>(
            new NexusModel { Metadata = new V1ObjectMeta { Name = Model, NamespaceProperty = Ns }, Spec = spec },
            NexusModel.KubeGroup, NexusModel.KubeApiVersion, Ns, NexusModel.KubePluralName);
    }

    protected async Task<V1Job?> FindJobAsync(string name) =>
        (await Client.BatchV1.ListNamespacedJobAsync(Ns)).Items.FirstOrDefault(job => job.Metadata.Name == name);

    protected Task WaitForJobAsync(string name) => Until(async () => await FindJobAsync(name) is not null, $"Job {name} exists");

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
