using Nexus.Operator.Metrics;
using Prometheus;

namespace Nexus.Operator.Tests.Metrics;

public class OperatorMetricsTests
{
    [Fact]
    public async Task EachOperatorHasItsOwnRegistry_WithEverySeriesNamed()
    {
        var first = new OperatorMetrics();
        var second = new OperatorMetrics();

        first.ReconcileTotal.WithLabels("Expert", "done").Inc();
        first.Leader.Set(1);
        first.WatchRestarts.WithLabels("Expert", "expired").Inc();
        first.WorkQueueDepth.WithLabels("Expert").Set(3);
        first.EventsDropped.Inc(2);

        Assert.Equal(0, second.ReconcileTotal.WithLabels("Expert", "done").Value);
        Assert.Equal(0, second.Leader.Value);
        using var exported = new MemoryStream();
        await first.Registry.CollectAndExportAsTextAsync(exported);
        var text = System.Text.Encoding.UTF8.GetString(exported.ToArray());
        string[] expected =
        [
            "nexus_operator_reconcile_total{kind=\"Expert\",result=\"done\"} 1",
            "nexus_operator_leader 1",
            "nexus_operator_watch_restarts_total{kind=\"Expert\",reason=\"expired\"} 1",
            "nexus_operator_workqueue_depth{kind=\"Expert\"} 3",
            "nexus_operator_events_dropped_total 2",
        ];
        Assert.All(expected, line => Assert.Contains(line, text, StringComparison.Ordinal));
        Assert.DoesNotContain("process_cpu_seconds_total", text, StringComparison.Ordinal);
    }
}
