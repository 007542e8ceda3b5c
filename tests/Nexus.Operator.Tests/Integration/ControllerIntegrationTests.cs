using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Nexus.Operator.Client;
using Nexus.Operator.Events;
using Nexus.Operator.Hosting;
using Nexus.Operator.Metrics;
using Nexus.Operator.Runtime;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Integration;

public sealed class ControllerIntegrationTests : IntegrationTest
{
    private const string WidgetsPath = "/apis/test.nexus.moe/v1/namespaces/default/widgets";

    [Fact]
    public async Task EveryStateIsReconciledOnce_AndASettledWorldMakesNoWrites()
    {
        var replica = StartReplica();
        await CreateWidgetAsync("a");
        await CreateWidgetAsync("b");
        await CreateWidgetAsync("c");
        await ResizeAsync("a", 2);
        await ResizeAsync("a", 3);

        foreach (var name in new[] { "a", "b", "c" })
        {
            await UntilAsync(() => IsReadyForItsGenerationAsync(name), $"{name} is Ready for its generation");
        }

        // Settled: the last status write's own event is reconciled, finds nothing to change, and writes nothing.
        await UntilAsync(
            async () => (await Task.WhenAll(new[] { "a", "b", "c" }.Select(GetWidgetAsync)))
                .All(widget => replica.Reconciled.Contains((widget.Metadata.Name, widget.Metadata.ResourceVersion))),
            "every widget's latest state was reconciled");
        var settled = Server.Requests.Mark();
        await Task.Delay(300);

        Assert.Empty(Server.Requests.Writes(settled));
        Assert.True(replica.Reconciled.Count == replica.Reconciled.Distinct().Count(), $"a version was reconciled twice: {string.Join(" ", replica.Reconciled)}");
        Assert.Equal(0, Server.Requests.Count("update", "widgets"));
        Assert.Equal(3, (await GetWidgetAsync("a")).Status!.ObservedGeneration);
        Assert.InRange(Server.Requests.Count(record => record.Verb == "patch" && record.Subresource == "status" && record.Name == "a"), 1, 3);
        Assert.Equal(0, replica.Host.Metrics.ReconcileErrors.WithLabels("Widget").Value);
        Assert.Equal(1, replica.Host.Metrics.InformerRelists.WithLabels("Widget").Value);
    }

    [Fact]
    public async Task SurvivesADroppedWatch_AndRelistsAfter410WithTheMissedChanges()
    {
        var replica = StartReplica();
        var deleted = new List<string>();
        var informer = replica.Host.Informers.Get<Widget>();
        informer.AddHandler(change =>
        {
            if (change.Type == Nexus.Operator.Caching.ResourceEventType.Deleted)
            {
                lock (deleted)
                {
                    deleted.Add(change.Object.Metadata.Name);
                }
            }
        });
        await CreateWidgetAsync("a");
        await CreateWidgetAsync("b");
        await UntilAsync(async () => await IsReadyForItsGenerationAsync("a") && await IsReadyForItsGenerationAsync("b"), "a and b are Ready");

        // A reset connection: the informer re-watches from where it was.
        await Server.Watchers.WaitForCountAsync(1);
        Server.Faults.DropWatches();
        await CreateWidgetAsync("c");
        await UntilAsync(() => IsReadyForItsGenerationAsync("c"), "c, created after the drop, is Ready");
        Assert.Equal(1, replica.Host.Metrics.InformerRelists.WithLabels("Widget").Value);

        // The watch cannot come back while the world changes and the history is compacted: its resourceVersion expires.
        var blocked = Server.Requests.Mark();
        Server.Faults.FailNext("GET", WidgetsPath, 503, count: 100_000);
        Server.Faults.CloseWatches();
        await UntilAsync(() => Task.FromResult(Server.Requests.Since(blocked).Any(record => record.Injected && record.Verb == "watch")), "a re-watch was refused");
        await ResizeAsync("a", 5);
        await Client.CustomObjects.DeleteNamespacedCustomObjectAsync(Widget.Group, Widget.Version, Namespace, "widgets", "b");
        await CreateWidgetAsync("d");
        Server.Faults.CompactNow();
        Server.Faults.Clear();

        await UntilAsync(async () => await IsReadyForItsGenerationAsync("a") && await IsReadyForItsGenerationAsync("d"), "the missed update and add were reconciled");
        await UntilAsync(() => Task.FromResult(informer.Cache.Get(Namespace, "b") is null), "the missed delete reached the cache");
        Assert.Equal(["b"], deleted);
        Assert.Equal(2, (await GetWidgetAsync("a")).Status!.ObservedGeneration);
        Assert.Equal(2, replica.Host.Metrics.InformerRelists.WithLabels("Widget").Value);
        Assert.True(replica.Host.Metrics.WatchRestarts.WithLabels("Widget", "expired").Value >= 1);
        Assert.True(replica.Host.Metrics.WatchRestarts.WithLabels("Widget", "error").Value >= 1);
        Assert.Equal(replica.Reconciled.Count, replica.Reconciled.Distinct().Count());
    }

    [Fact]
    public async Task ConflictOnTheStatusWrite_IsRequeuedAndResolved_NotCountedAsAnError()
    {
        var replica = StartReplica();
        var interfered = 0;
        replica.BeforeStatusWrite = async widget =>
        {
            if (Interlocked.Exchange(ref interfered, 1) == 0)
            {
                // Someone else writes between our read and our status write.
                await Client.CustomObjects.PatchNamespacedCustomObjectAsync(
                    new V1Patch("""{"metadata":{"labels":{"touched":"yes"}}}""", V1Patch.PatchType.MergePatch),
                    Widget.Group, Widget.Version, Namespace, "widgets", widget.Metadata.Name);
            }
        };

        await CreateWidgetAsync("a");

        await UntilAsync(() => IsReadyForItsGenerationAsync("a"), "a is Ready after the conflict");
        Assert.Equal(1, Server.Requests.Count(record => record.Subresource == "status" && record.StatusCode == (int)HttpStatusCode.Conflict));
        Assert.Equal(1, replica.Host.Metrics.StatusConflicts.WithLabels("Widget").Value);
        Assert.Equal(1, replica.Host.Metrics.ReconcileTotal.WithLabels("Widget", "conflict").Value);
        Assert.Equal(0, replica.Host.Metrics.ReconcileErrors.WithLabels("Widget").Value);
    }

    [Fact]
    public async Task Finalizer_IsAddedFirst_AndRemovedAfterCleanup_ByPatchesOnly()
    {
        var replica = StartReplica(holdFinalizer: true);
        await CreateWidgetAsync("a");
        await UntilAsync(async () => await IsReadyForItsGenerationAsync("a") && Finalizers.Has(await GetWidgetAsync("a"), Finalizer), "a holds the finalizer and is Ready");

        await Client.CustomObjects.DeleteNamespacedCustomObjectAsync(Widget.Group, Widget.Version, Namespace, "widgets", "a");

        await UntilAsync(async () =>
        {
            try
            {
                await GetWidgetAsync("a");
                return false;
            }
            catch (HttpOperationException gone) when (gone.Response.StatusCode == HttpStatusCode.NotFound)
            {
                return true;
            }
        }, "a is gone once the finalizer was removed");
        Assert.Equal(["a"], replica.CleanedUp);
        Assert.Equal(0, Server.Requests.Count("update", "widgets"));
        var finalizerPatches = Server.Requests.All.Where(record => record.Verb == "patch" && record.Resource == "widgets" && record.Subresource is null).ToList();
        Assert.Equal(2, finalizerPatches.Count);
    }

    [Fact]
    public async Task SecondReplica_DoesNotReconcileUntilItHoldsTheLease()
    {
        var lease = new LeaderElectionOptions
        {
            LeaseNamespace = Namespace,
            LeaseName = "nexus-operator",
            // Long enough that a takeover inside it proves the Lease was released, even on a loaded machine (where a
            // takeover has been seen to take over 10 s with every test class running at once).
            LeaseDuration = TimeSpan.FromSeconds(60),
            RenewDeadline = TimeSpan.FromSeconds(10),
            RetryPeriod = TimeSpan.FromMilliseconds(100),
        };
        var first = StartReplica(lease with { Identity = "replica-1" });
        await UntilAsync(() => Task.FromResult(first.Host.IsLeader), "the first replica leads");
        await CreateWidgetAsync("a");
        await UntilAsync(() => IsReadyForItsGenerationAsync("a"), "the leader reconciled a");
        var second = StartReplica(lease with { Identity = "replica-2" });
        await UntilAsync(() => Task.FromResult(second.Host.Informers.HasSynced), "the standby's cache is warm");

        await ResizeAsync("a", 2);
        await UntilAsync(() => IsReadyForItsGenerationAsync("a"), "the leader reconciled the resize");
        await Task.Delay(200);
        Assert.Empty(second.Reconciled);
        Assert.False(second.Host.IsLeader);
        Assert.Equal("replica-1", (await Client.CoordinationV1.ReadNamespacedLeaseAsync("nexus-operator", Namespace)).Spec.HolderIdentity);

        var stepDown = DateTime.UtcNow;
        await first.Stop.CancelAsync();
        await first.Run.WaitAsync(TimeSpan.FromSeconds(10));

        await UntilAsync(() => Task.FromResult(second.Reconciled.Any(call => call.Name == "a")), "the second replica took over",
            TimeSpan.FromSeconds(45));
        Assert.True(DateTime.UtcNow - stepDown < lease.LeaseDuration, $"takeover took {DateTime.UtcNow - stepDown}: the lease was not released");
        Assert.Equal("replica-2", (await Client.CoordinationV1.ReadNamespacedLeaseAsync("nexus-operator", Namespace)).Spec.HolderIdentity);
        await ResizeAsync("a", 3);
        await UntilAsync(() => IsReadyForItsGenerationAsync("a"), "the new leader reconciles changes");
    }

    [Fact]
    public async Task RecordedEvents_AreWrittenToTheServer_AndRepeatsAggregated()
    {
        var widget = await CreateWidgetAsync("a");
        var recorder = new EventRecorder(new KubernetesEventSink(Client), new EventRecorderOptions { Instance = "replica-1" }, new OperatorMetrics());
        using var stop = new CancellationTokenSource();
        var running = recorder.RunAsync(stop.Token);

        for (var i = 0; i < 3; i++)
        {
            recorder.Record(widget, EventType.Warning, "ImagePullBackOff", "image nexus:missing not found");
        }

        await UntilAsync(
            async () => (await Client.CoreV1.ListNamespacedEventAsync(Namespace)).Items.SingleOrDefault()?.Count == 3,
            "one event counted three times");
        var written = (await Client.CoreV1.ListNamespacedEventAsync(Namespace)).Items.Single();
        Assert.Equal(("Widget", "a", widget.Metadata.Uid), (written.InvolvedObject.Kind, written.InvolvedObject.Name, written.InvolvedObject.Uid));
        Assert.Equal(("Warning", "ImagePullBackOff", "nexus-operator"), (written.Type, written.Reason, written.Source.Component));
        Assert.True(written.LastTimestamp >= written.FirstTimestamp);
        await stop.CancelAsync();
        await running;
    }

    [Fact]
    public async Task HealthAndMetrics_AreServedOnTheMetricsPort()
    {
        var replica = StartReplica(metricsPort: 0);
        await CreateWidgetAsync("a");
        await UntilAsync(() => IsReadyForItsGenerationAsync("a"), "a is Ready");
        using var http = new HttpClient();
        var port = await replica.Host.MetricsPort.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal("ok\n", await http.GetStringAsync($"http://127.0.0.1:{port}/healthz"));
        Assert.Equal("ok (leader)\n", await http.GetStringAsync($"http://127.0.0.1:{port}/readyz"));
        var metrics = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
        Assert.Contains("nexus_operator_reconcile_duration_seconds_count{kind=\"Widget\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("nexus_operator_workqueue_queue_duration_seconds_count{kind=\"Widget\"}", metrics, StringComparison.Ordinal);
    }
}
