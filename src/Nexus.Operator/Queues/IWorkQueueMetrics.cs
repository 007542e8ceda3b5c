namespace Nexus.Operator.Queues;

/// <summary>What a work queue reports; <see cref="Metrics.WorkQueueMetrics"/> turns it into Prometheus series.</summary>
public interface IWorkQueueMetrics
{
    void SetDepth(int depth);

    /// <summary>Time between a key's add and the get that handed it to a worker.</summary>
    void ObserveQueueLatency(TimeSpan latency);

    /// <summary>Time between get and done.</summary>
    void ObserveWorkDuration(TimeSpan duration);

    void CountRetry();
}

public sealed class NoWorkQueueMetrics : IWorkQueueMetrics
{
    public static readonly NoWorkQueueMetrics Instance = new();

    public void SetDepth(int depth)
    {
    }

    public void ObserveQueueLatency(TimeSpan latency)
    {
    }

    public void ObserveWorkDuration(TimeSpan duration)
    {
    }

    public void CountRetry()
    {
    }
}
