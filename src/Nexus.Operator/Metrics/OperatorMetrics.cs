using Prometheus;

namespace Nexus.Operator.Metrics;

/// <summary>
/// The controller runtime's Prometheus series, registered in a registry of its own: two operator replicas in one
/// process (as the tests run them) keep separate counts, and <c>/metrics</c> serves exactly this registry (with the
/// series of <see cref="LifecycleMetrics"/>, which registers its own here).
/// </summary>
public sealed class OperatorMetrics
{
    private static readonly double[] LatencyBuckets = Histogram.ExponentialBuckets(0.001, 2, 20);

    public OperatorMetrics(CollectorRegistry? registry = null)
    {
        Registry = registry ?? Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);

        ReconcileTotal = factory.CreateCounter(
            "nexus_operator_reconcile_total", "Reconciles by kind and result (done, requeue_after, retry, terminal, error, conflict).",
            ["kind", "result"]);
        ReconcileErrors = factory.CreateCounter(
            "nexus_operator_reconcile_errors_total", "Reconciles that threw (conflicts are counted apart).", ["kind"]);
        ReconcileDuration = factory.CreateHistogram(
            "nexus_operator_reconcile_duration_seconds", "Time spent in one reconcile.", ["kind"],
            new HistogramConfiguration { Buckets = LatencyBuckets });
        WorkQueueDepth = factory.CreateGauge(
            "nexus_operator_workqueue_depth", "Keys waiting in the work queue (not counting delayed ones).", ["kind"]);
        WorkQueueQueueDuration = factory.CreateHistogram(
            "nexus_operator_workqueue_queue_duration_seconds", "Time a key waited in the queue between add and get.", ["kind"],
            new HistogramConfiguration { Buckets = LatencyBuckets });
        WorkQueueWorkDuration = factory.CreateHistogram(
            "nexus_operator_workqueue_work_duration_seconds", "Time between get and done for one key.", ["kind"],
            new HistogramConfiguration { Buckets = LatencyBuckets });
        WorkQueueRetries = factory.CreateCounter(
            "nexus_operator_workqueue_retries_total", "Rate-limited re-adds (backoff retries).", ["kind"]);
        WatchRestarts = factory.CreateCounter(
            "nexus_operator_watch_restarts_total", "Watch restarts by reason (closed, expired, silent, error).", ["kind", "reason"]);
        InformerRelists = factory.CreateCounter(
            "nexus_operator_informer_relists_total", "Full lists, the first one included.", ["kind"]);
        StatusConflicts = factory.CreateCounter(
            "nexus_operator_status_conflicts_total", "Writes answered 409 Conflict, re-queued once the cache catches up.", ["kind"]);
        EventsDropped = factory.CreateCounter(
            "nexus_operator_events_dropped_total", "Kubernetes Events not written: queue full, rate-limited or rejected.");
        Leader = factory.CreateGauge(
            "nexus_operator_leader", "1 while this replica holds the leader Lease (or runs without leader election).");
    }

    public CollectorRegistry Registry { get; }

    public Counter ReconcileTotal { get; }
    public Counter ReconcileErrors { get; }
    public Histogram ReconcileDuration { get; }
    public Gauge WorkQueueDepth { get; }
    public Histogram WorkQueueQueueDuration { get; }
    public Histogram WorkQueueWorkDuration { get; }
    public Counter WorkQueueRetries { get; }
    public Counter WatchRestarts { get; }
    public Counter InformerRelists { get; }
    public Counter StatusConflicts { get; }
    public Counter EventsDropped { get; }
    public Gauge Leader { get; }
}
