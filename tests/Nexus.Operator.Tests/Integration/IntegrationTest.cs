using k8s;
using k8s.Models;
using Nexus.Api;
using Nexus.Operator.Client;
using Nexus.Operator.Hosting;
using Nexus.Operator.Runtime;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Integration;

/// <summary>
/// Runs operator hosts with the real KubernetesClient against the in-process test API server, with the Widget CRD
/// installed. The reconciler marks each widget Ready for its generation and, when asked, holds a finalizer.
/// </summary>
public abstract class IntegrationTest : IAsyncLifetime
{
    public const string Namespace = "default";
    public const string Finalizer = "test.nexus.moe/cleanup";

    private const string WidgetCrd = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: widgets.test.nexus.moe
        spec:
          group: test.nexus.moe
          scope: Namespaced
          names:
            kind: Widget
            listKind: WidgetList
            plural: widgets
            singular: widget
          versions:
            - name: v1
              served: true
              storage: true
              subresources:
                status: {}
              schema:
                openAPIV3Schema:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
        """;

    private readonly List<(CancellationTokenSource Stop, Task Run)> _hosts = new();

    protected Nexus.ApiServer.LocalApiServer Server { get; private set; } = null!;

    protected Kubernetes Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await Nexus.ApiServer.LocalApiServer.StartAsync();
        Server.InstallCrd(WidgetCrd);
        Client = Server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        foreach (var (stop, run) in _hosts)
        {
            await stop.CancelAsync();
            await run.WaitAsync(TimeSpan.FromSeconds(10));
            stop.Dispose();
        }

        Client.Dispose();
        await Server.DisposeAsync();
    }

    /// <summary>Starts an operator replica with one Widget controller; its client is its own, as in a real pod.</summary>
    protected Replica StartReplica(LeaderElectionOptions? leaderElection = null, bool holdFinalizer = false, int? metricsPort = null)
    {
        var client = Server.CreateClient();
        var replica = new Replica(client, holdFinalizer);
        var builder = OperatorHost.CreateBuilder(client)
            .WatchNamespace(Namespace)
            .WithInformerOptions(TestInformers.QuickRetries)
            .WithLeaderElection(leaderElection ?? new LeaderElectionOptions { Enabled = false })
            .AddController<Widget>(controller => controller.WithWorkers(2).WithReconciler(context => new ReadyReconciler(replica, context)));
        if (metricsPort is { } port)
        {
            builder.WithMetricsPort(port);
        }

        replica.Host = builder.Build();
        var stop = new CancellationTokenSource();
        replica.Stop = stop;
        replica.Run = Task.Run(async () =>
        {
            try
            {
                await replica.Host.RunAsync(stop.Token);
            }
            finally
            {
                client.Dispose();
            }
        });
        _hosts.Add((stop, replica.Run));
        return replica;
    }

    protected async Task<Widget> CreateWidgetAsync(string name, int size = 1)
    {
        var created = await Client.CustomObjects.CreateNamespacedCustomObjectAsync<Widget>(
            Widget.Create(name, Namespace, size), Widget.Group, Widget.Version, Namespace, "widgets");
        return created;
    }

    protected Task<Widget> ResizeAsync(string name, int size) =>
        Client.CustomObjects.PatchNamespacedCustomObjectAsync<Widget>(
            new V1Patch($$$"""{"spec":{"size":{{{size}}}}}""", V1Patch.PatchType.MergePatch), Widget.Group, Widget.Version, Namespace, "widgets", name);

    protected Task<Widget> GetWidgetAsync(string name) =>
        Client.CustomObjects.GetNamespacedCustomObjectAsync<Widget>(Widget.Group, Widget.Version, Namespace, "widgets", name);

    protected async Task<bool> IsReadyForItsGenerationAsync(string name)
    {
        var widget = await GetWidgetAsync(name);
        return widget.Status?.ObservedGeneration == widget.Metadata.Generation
            && Conditions.Get(widget.Status?.Conditions, Conditions.Ready) is { Status: Conditions.True } ready
            && ready.ObservedGeneration == widget.Metadata.Generation;
    }

    protected static Task UntilAsync(Func<Task<bool>> condition, string because, TimeSpan? timeout = null) =>
        Eventually.WaitUntilAsync(condition, because, timeout ?? TimeSpan.FromSeconds(10));

    public sealed class Replica(Kubernetes client, bool holdFinalizer)
    {
        private readonly List<(string Name, string ResourceVersion)> _reconciled = new();
        private readonly List<string> _cleanedUp = new();

        public OperatorHost Host { get; set; } = null!;

        public CancellationTokenSource Stop { get; set; } = null!;

        public Task Run { get; set; } = Task.CompletedTask;

        public Kubernetes Client => client;

        public bool HoldFinalizer => holdFinalizer;

        /// <summary>Runs inside the reconcile before the status write (a test's chance to interfere).</summary>
        public Func<Widget, Task>? BeforeStatusWrite { get; set; }

        public IReadOnlyList<(string Name, string ResourceVersion)> Reconciled
        {
            get
            {
                lock (_reconciled)
                {
                    return _reconciled.ToList();
                }
            }
        }

        public IReadOnlyList<string> CleanedUp
        {
            get
            {
                lock (_cleanedUp)
                {
                    return _cleanedUp.ToList();
                }
            }
        }

        internal void Record(Widget widget)
        {
            lock (_reconciled)
            {
                _reconciled.Add((widget.Metadata.Name, widget.Metadata.ResourceVersion));
            }
        }

        internal void RecordCleanup(string name)
        {
            lock (_cleanedUp)
            {
                _cleanedUp.Add(name);
            }
        }
    }

    private sealed class ReadyReconciler(Replica replica, ControllerContext<Widget> context) : IReconciler<Widget>
    {
        public async Task<ReconcileResult> ReconcileAsync(Widget resource, CancellationToken cancellationToken)
        {
            replica.Record(resource);
            if (Finalizers.IsDeleting(resource))
            {
                if (Finalizers.Has(resource, Finalizer))
                {
                    replica.RecordCleanup(resource.Metadata.Name);
                    await Finalizers.RemoveAsync(context.Patcher, resource, Finalizer, cancellationToken);
                }

                return ReconcileResult.Done;
            }

            if (replica.HoldFinalizer)
            {
                resource = await Finalizers.AddAsync(context.Patcher, resource, Finalizer, cancellationToken);
            }

            if (replica.BeforeStatusWrite is { } interfere)
            {
                await interfere(resource);
            }

            var written = await context.Status.UpdateAsync(
                resource,
                widget => Conditions.MarkReady(widget.EnsureStatus(), "Reconciled", $"size {widget.Spec.Size}", widget.Metadata.Generation, context.Time.GetUtcNow()),
                cancellationToken);
            if (written.Written)
            {
                context.Events.Record(written.Resource, Nexus.Operator.Events.EventType.Normal, "Reconciled", $"size {resource.Spec.Size}");
            }

            return ReconcileResult.Done;
        }
    }
}
