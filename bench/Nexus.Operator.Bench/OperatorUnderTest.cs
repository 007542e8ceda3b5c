using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Caching;
using Nexus.Operator.Hosting;
using Nexus.Operator.Specs;

namespace Nexus.Operator.Bench;

/// <summary>
/// An operator host as <c>nexus-operator run</c> builds one (one namespace, informers, the event recorder, and the real
/// Expert controller registered by <see cref="OperatorControllers.AddNexusControllers"/>: it owns Jobs, watches Pods and
/// reads step results from a <c>file://</c> artifact root), with the benchmark's worker count and leader election off: a
/// Lease renews every 2 s, which is a write by design and would blur the idle phase's "zero writes" (one replica needs no
/// election to be measured). Its client sends its own User-Agent, so the API server's log tells its requests apart.
/// </summary>
internal sealed class OperatorUnderTest : IAsyncDisposable
{
    public const string Kind = Expert.KubeKind;

    private static readonly string[] ReconcileResults = ["done", "requeue_after", "retry", "terminal", "error", "conflict"];

    private readonly Kubernetes _client;
    private readonly CancellationTokenSource _stop = new();
    private long _resyncEvents;
    private Task _run = Task.CompletedTask;

    private OperatorUnderTest(Uri server, string @namespace, int workers, TimeSpan resync, string artifactRoot, ILoggerFactory loggers)
    {
        _client = new Kubernetes(new KubernetesClientConfiguration { Host = server.ToString(), UserAgent = ControlProtocol.Agents.Operator });
        Host = OperatorHost.CreateBuilder(_client)
            .WatchNamespace(@namespace)
            .WithLeaderElection(new LeaderElectionOptions { Enabled = false })
            .WithInformerOptions(new InformerOptions { ResyncPeriod = resync })
            .WithLoggerFactory(loggers)
            .AddNexusControllers(new OperatorSettings { ArtifactRoot = artifactRoot }, workers: workers)
            .Build();
        Host.Informers.Get<Expert>().AddHandler(change =>
        {
            if (change.Type == ResourceEventType.Resync)
            {
                Interlocked.Increment(ref _resyncEvents);
            }
        });
    }

    public OperatorHost Host { get; }

    /// <summary>Experts in the operator's cache.</summary>
    public int CachedExperts => Host.Informers.Cache<Expert>().Count;

    /// <summary>Experts the Expert informer has re-delivered on resync, all rounds together.</summary>
    public long ResyncEvents => Interlocked.Read(ref _resyncEvents);

    /// <summary>Events the recorder did not write (queue full, rate-limited or rejected).</summary>
    public double EventsDropped => Host.Metrics.EventsDropped.Value;

    /// <param name="artifactRoot">The settings' artifact root, a <c>file://</c> folder the caller owns.</param>
    public static async Task<OperatorUnderTest> StartAsync(
        Uri server, string @namespace, int workers, TimeSpan resync, string artifactRoot, ILoggerFactory loggers, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var started = new OperatorUnderTest(server, @namespace, workers, resync, artifactRoot, loggers);
        started._run = Task.Run(() => started.Host.RunAsync(started._stop.Token), CancellationToken.None);
        await Waiting.UntilAsync(
            () => started._run.IsCompleted || (started.Host.IsLeader && started.Host.Informers.HasSynced),
            timeout, "the operator's caches to sync", cancellationToken);
        if (started._run.IsCompleted)
        {
            await started._run;
            throw new InvalidOperationException("The operator host stopped as soon as it started.");
        }

        return started;
    }

    public ReconcileCounts Reconciles() => new(
        ReconcileResults.ToDictionary(result => result, result => Host.Metrics.ReconcileTotal.WithLabels(Kind, result).Value),
        Host.Metrics.ReconcileDuration.WithLabels(Kind).Sum,
        Host.Metrics.WorkQueueQueueDuration.WithLabels(Kind).Sum,
        Host.Metrics.WorkQueueQueueDuration.WithLabels(Kind).Count);

    /// <summary>Completes once the work queue is empty and no reconcile has finished for <paramref name="quiet"/>.</summary>
    public async Task WaitUntilQuietAsync(TimeSpan quiet, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var last = Reconciles().Total;
        var lastChange = DateTime.UtcNow;
        await Waiting.UntilAsync(
            () =>
            {
                var now = Reconciles().Total;
                if (now != last || Host.Metrics.WorkQueueDepth.WithLabels(Kind).Value > 0)
                {
                    last = now;
                    lastChange = DateTime.UtcNow;
                    return false;
                }

                return DateTime.UtcNow - lastChange >= quiet;
            },
            timeout, $"the operator to go {quiet.TotalSeconds:0.#} s without a reconcile", cancellationToken);
    }

    /// <summary>Completes once this host has made <paramref name="reconciles"/> reconciles in all and its work queue is
    /// empty.</summary>
    public Task WaitUntilReconciledAsync(double reconciles, TimeSpan timeout, CancellationToken cancellationToken) =>
        Waiting.UntilAsync(
            () => Reconciles().Total >= reconciles && Host.Metrics.WorkQueueDepth.WithLabels(Kind).Value == 0,
            timeout, $"{reconciles:0} reconciles", cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _run.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            _client.Dispose();
            _stop.Dispose();
        }
    }
}

/// <summary>The Expert controller's reconcile counters at one moment.</summary>
/// <param name="ByResult">nexus_operator_reconcile_total by result.</param>
/// <param name="ReconcileSeconds">Sum of nexus_operator_reconcile_duration_seconds.</param>
/// <param name="QueueWaitSeconds">Sum of nexus_operator_workqueue_queue_duration_seconds.</param>
/// <param name="QueueWaits">Count of nexus_operator_workqueue_queue_duration_seconds.</param>
internal sealed record ReconcileCounts(IReadOnlyDictionary<string, double> ByResult, double ReconcileSeconds, double QueueWaitSeconds, double QueueWaits)
{
    public double Total => ByResult.Values.Sum();

    public ReconcileCounts Minus(ReconcileCounts earlier) => new(
        ByResult.ToDictionary(pair => pair.Key, pair => pair.Value - earlier.ByResult.GetValueOrDefault(pair.Key)),
        ReconcileSeconds - earlier.ReconcileSeconds,
        QueueWaitSeconds - earlier.QueueWaitSeconds,
        QueueWaits - earlier.QueueWaits);
}

/// <summary>Polls a condition every 20 ms until it holds, with a limit that ends in a clear error.</summary>
internal static class Waiting
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken);
        }
    }
}
