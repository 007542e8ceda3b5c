using Nexus.Operator.Queues;

namespace Nexus.Operator.Metrics;

/// <summary>A work queue's metrics, labelled with the kind its controller reconciles.</summary>
public sealed class WorkQueueMetrics : IWorkQueueMetrics
{
    private readonly Prometheus.Gauge.Child _depth;
    private readonly Prometheus.Histogram.Child _queueDuration;
    private readonly Prometheus.Histogram.Child _workDuration;
    private readonly Prometheus.Counter.Child _retries;

    public WorkQueueMetrics(OperatorMetrics metrics, string kind)
    {
        _depth = metrics.WorkQueueDepth.WithLabels(kind);
        _queueDuration = metrics.WorkQueueQueueDuration.WithLabels(kind);
        _workDuration = metrics.WorkQueueWorkDuration.WithLabels(kind);
        _retries = metrics.WorkQueueRetries.WithLabels(kind);
    }

    public void SetDepth(int depth) => _depth.Set(depth);

    public void ObserveQueueLatency(TimeSpan latency) => _queueDuration.Observe(latency.TotalSeconds);

    public void ObserveWorkDuration(TimeSpan duration) => _workDuration.Observe(duration.TotalSeconds);

    public void CountRetry() => _retries.Inc();
}
