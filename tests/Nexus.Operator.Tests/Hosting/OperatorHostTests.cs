using System.Net;
using System.Net.Http;
using Nexus.Operator.Hosting;
using Nexus.Operator.Runtime;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Hosting;

public sealed class OperatorHostTests : IAsyncDisposable
{
    private static readonly LeaderElectionOptions FastLease = new()
    {
        LeaseNamespace = "nexus-system",
        LeaseDuration = TimeSpan.FromSeconds(2),
        RenewDeadline = TimeSpan.FromSeconds(1),
        RetryPeriod = TimeSpan.FromMilliseconds(100),
    };

    private readonly FakeListWatcherFactory _servers = new();
    private readonly InMemoryLease _lease = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly List<(CancellationTokenSource Stop, Task Run)> _replicas = new();

    public async ValueTask DisposeAsync()
    {
        foreach (var (stop, run) in _replicas)
        {
            await stop.CancelAsync();
            await run.WaitAsync(Eventually.DefaultTimeout);
            stop.Dispose();
        }

        _http.Dispose();
    }

    private sealed class Replica(OperatorHost host, CancellationTokenSource stop, Task run)
    {
        public OperatorHost Host => host;

        public List<string> Reconciled { get; } = new();

        public Func<CancellationToken, Task>? During { get; set; }

        public Task StopAsync() => stop.CancelAsync();

        public Task Run => run;
    }

    private Replica Start(string identity, LeaderElectionOptions leaderElection)
    {
        Replica? replica = null;
        var host = OperatorHost.CreateBuilder(client: null)
            .WithListWatchers(_servers)
            .WithPatchers(new FakePatcherFactory(_servers))
            .WithEventSink(new RecordingEventSink())
            .WithLeaseLock(() => _lease.LockFor(identity))
            .WithLeaderElection(leaderElection with { Identity = identity })
            .WithMetricsPort(0)
            .AddController<Widget>(controller => controller.WithReconciler(_ => new CallbackReconciler(async (widget, token) =>
            {
                lock (replica!.Reconciled)
                {
                    replica.Reconciled.Add(widget.Metadata.Name);
                }

                if (replica.During is { } during)
                {
                    await during(token);
                }

                return ReconcileResult.Done;
            })))
            .Build();
        var stop = new CancellationTokenSource();
        var run = Task.Run(() => host.RunAsync(stop.Token));
        _replicas.Add((stop, run));
        replica = new Replica(host, stop, run);
        return replica;
    }

    private async Task<(HttpStatusCode, string)> GetAsync(OperatorHost host, string path)
    {
        var port = await host.MetricsPort.WaitAsync(Eventually.DefaultTimeout);
        using var response = await _http.GetAsync($"http://127.0.0.1:{port}{path}");
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task HealthEndpoints_ReportLivenessReadinessAndMetrics()
    {
        var widgets = _servers.Server<Widget>();
        widgets.Create(Widget.Create("a"));
        widgets.ListGate = new TaskCompletionSource();
        var replica = Start("solo", new LeaderElectionOptions { Enabled = false });

        Assert.Equal((HttpStatusCode.OK, "ok\n"), await GetAsync(replica.Host, "/healthz"));
        var (notReady, reason) = await GetAsync(replica.Host, "/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady);
        Assert.Contains("Widget", reason, StringComparison.Ordinal);

        widgets.ListGate.SetResult();
        await Eventually.WaitUntilAsync(() => replica.Host.Informers.HasSynced, "the cache synced");
        Assert.Equal((HttpStatusCode.OK, "ok (leader)\n"), await GetAsync(replica.Host, "/readyz"));
        await Eventually.WaitUntilAsync(() => replica.Reconciled.Count == 1, "the widget was reconciled");

        var (status, metrics) = await GetAsync(replica.Host, "/metrics");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("nexus_operator_leader 1", metrics, StringComparison.Ordinal);
        Assert.Contains("nexus_operator_reconcile_total{kind=\"Widget\",result=\"done\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("nexus_operator_informer_relists_total{kind=\"Widget\"} 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Standby_IsReadyButDoesNotReconcile_UntilTheLeaderStepsDownAndReleasesTheLease()
    {
        _servers.Server<Widget>().Create(Widget.Create("a"));
        var first = Start("replica-1", FastLease);
        await Eventually.WaitUntilAsync(() => first.Host.IsLeader, "the first replica leads");
        await Eventually.WaitUntilAsync(() => first.Reconciled.Count == 1, "the leader reconciled");
        var second = Start("replica-2", FastLease);
        await Eventually.WaitUntilAsync(() => second.Host.Informers.HasSynced, "the standby's cache is warm");

        Assert.Equal((HttpStatusCode.OK, "ok (standby)\n"), await GetAsync(second.Host, "/readyz"));
        Assert.Contains("nexus_operator_leader 0", (await GetAsync(second.Host, "/metrics")).Item2, StringComparison.Ordinal);
        _servers.Server<Widget>().Update(new("default", "a"), widget => widget.Spec.Size = 2);
        await Eventually.WaitUntilAsync(() => first.Reconciled.Count == 2, "the leader reconciled the change");
        Assert.Empty(second.Reconciled);
        Assert.False(second.Host.IsLeader);

        var stepDown = DateTime.UtcNow;
        await first.StopAsync();
        await first.Run.WaitAsync(Eventually.DefaultTimeout);

        await Eventually.WaitUntilAsync(() => second.Reconciled.Count == 1, "the standby took over and reconciled");
        // Released, not expired: the takeover needs a retry period or so, not the 2 s lease.
        Assert.True(DateTime.UtcNow - stepDown < FastLease.LeaseDuration, $"takeover took {DateTime.UtcNow - stepDown}");
        Assert.Equal("replica-2", _lease.Holder);
        Assert.Equal(0, first.Host.Metrics.Leader.Value);
        Assert.Equal(1, second.Host.Metrics.Leader.Value);
    }

    [Fact]
    public async Task LosingTheLease_CancelsReconcilesAtOnce_AndLeadingAgainStartsAFreshTerm()
    {
        var widgets = _servers.Server<Widget>();
        widgets.Create(Widget.Create("a"));
        var replica = Start("replica-1", FastLease);
        var cancelled = new TaskCompletionSource();
        replica.During = async token =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, token);
            }
            catch (OperationCanceledException)
            {
                cancelled.TrySetResult();
                throw;
            }
        };
        await Eventually.WaitUntilAsync(() => replica.Reconciled.Count == 1, "a reconcile is in flight");

        _lease.Steal("intruder");

        await cancelled.Task.WaitAsync(Eventually.DefaultTimeout);
        await Eventually.WaitUntilAsync(() => !replica.Host.IsLeader, "the replica stepped down");
        Assert.Equal(0, replica.Host.Metrics.Leader.Value);
        widgets.Update(new("default", "a"), widget => widget.Spec.Size = 2);
        await Eventually.QuietPeriod();
        Assert.Single(replica.Reconciled);

        replica.During = null;
        _lease.Release();
        await Eventually.WaitUntilAsync(() => replica.Reconciled.Count == 2, "the new term reconciled again");
        Assert.True(replica.Host.IsLeader);
        Assert.Equal(0, replica.Host.Metrics.ReconcileErrors.WithLabels("Widget").Value);
    }

    private sealed class CallbackReconciler(Func<Widget, CancellationToken, Task<ReconcileResult>> reconcile) : IReconciler<Widget>
    {
        public Task<ReconcileResult> ReconcileAsync(Widget resource, CancellationToken cancellationToken) => reconcile(resource, cancellationToken);
    }
}
