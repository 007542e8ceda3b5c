using System.Collections.Concurrent;
using k8s.Models;
using Nexus.Api;
using Nexus.Operator.Caching;
using Nexus.Operator.Client;
using Nexus.Operator.Runtime;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Runtime;

public sealed class ControllerTests : IAsyncDisposable
{
    private static readonly ResourceKey A = new("default", "a");
    private ControllerHarness _harness = new();

    public ValueTask DisposeAsync() => _harness.DisposeAsync();

    private static Task<ReconcileResult> Done() => Task.FromResult(ReconcileResult.Done);

    private static Task<StatusWriteResult<Widget>> MarkReady(Widget widget, ControllerContext<Widget> context, CancellationToken token) =>
        context.Status.UpdateAsync(
            widget, copy => Conditions.MarkReady(copy.EnsureStatus(), "Serving", "ok", copy.Metadata.Generation, context.Time.GetUtcNow()), token);

    [Fact]
    public async Task Done_ReconcilesEachObjectOnce()
    {
        _harness.Widgets.Create(Widget.Create("a"));
        _harness.Widgets.Create(Widget.Create("b"));

        await _harness.StartAsync((_, _, _) => Done());

        await Eventually.WaitUntilAsync(() => _harness.Calls.Count == 2, "both widgets were reconciled");
        await Eventually.QuietPeriod();
        Assert.Equal(["a", "b"], _harness.Calls.Select(call => call.Name).Order());
        Assert.Equal(2, _harness.Results("done"));
    }

    [Fact]
    public async Task ChangesAfterStart_AreReconciledWithTheLatestCachedObject()
    {
        _harness.Widgets.Create(Widget.Create("a"));
        await _harness.StartAsync((_, _, _) => Done());
        await Eventually.WaitUntilAsync(() => _harness.Calls.Count == 1, "the first reconcile");

        var updated = _harness.Widgets.Update(A, widget => widget.Spec.Size = 3);

        await Eventually.WaitUntilAsync(() => _harness.Calls.Count == 2, "the update was reconciled");
        Assert.Equal(updated.Metadata.ResourceVersion, _harness.Calls[^1].ResourceVersion);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task RequeueAfter_ReconcilesAgainAfterExactlyTheDelay_WhetherOrNotTheStatusWriteChangedAnything(bool writesStatus)
    {
        _harness.Widgets.Create(Widget.Create("a"));
        await _harness.StartAsync(async (widget, context, token) =>
        {
            if (writesStatus)
            {
                await MarkReady(widget, context, token);
            }

            return ReconcileResult.RequeueAfter(TimeSpan.FromSeconds(30));
        });
        // Writing status changes the object once, which queues one immediate reconcile (that finds nothing to write).
        var immediate = writesStatus ? 2 : 1;
        await Eventually.WaitUntilAsync(() => _harness.Calls.Count == immediate, "the immediate reconciles");
        await Eventually.WaitUntilAsync(() => _harness.Controller!.Queue!.DelayedCount == 1, "the requeue is scheduled");
        var start = _harness.Calls[0].At;

        _harness.Time.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromMilliseconds(1));
        await Eventually.QuietPeriod();
        Assert.Equal(immediate, _harness.Calls.Count);

        _harness.Time.Advance(TimeSpan.FromMilliseconds(1));
        await Eventually.WaitUntilAsync(() => _harness.Calls.Count == immediate + 1, "the timed requeue");
        Assert.Equal(start + TimeSpan.FromSeconds(30), _harness.Calls[^1].At);
        Assert.Equal(writesStatus ? 1 : 0, _harness.Patcher.Patches.Count);
        // The outcome is counted once the reconcile returns, a moment after the call was recorded.
        await Eventually.WaitUntilAsync(() => _harness.Results("requeue_after") >= immediate + 1, "the timed reconcile's outcome is counted");
        Assert.Equal(immediate + 1, _harness.Results("requeue_after"));
    }

    [Fact]
    public async Task Retry_RequeuesWithGrowingBackoff_ThenForgetsOnSuccess()
    {
        _harness.Widgets.Create(Widget.Create("a"));
        var attempts = 0;
        await _harness.StartAsync((_, _, _) =>
            Task.FromResult(Interlocked.Increment(ref attempts) <= 3 ? ReconcileResult.Retry("WaitingForJob") : ReconcileResult.Done));

        await _harness.AdvanceUntilAsync(() => _harness.Calls.Count == 4, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(1), "three retries and a success");

        var gaps = _harness.Calls.Zip(_harness.Calls.Skip(1), (earlier, later) => (later.At - earlier.At).TotalMilliseconds).ToList();
        Assert.Equal([5.0, 10.0, 20.0], gaps);
        Assert.Equal(3, _harness.Results("retry"));
        Assert.Equal(1, _harness.Results("done"));
        Assert.Equal(0, _harness.Controller!.Queue!.NumRequeues(A));
    }

    [Fact]
    public async Task Terminal_WritesStalledWithReasonAndMessage_RecordsAWarning_AndDoesNotRetry()
    {
        _harness.Widgets.Create(Widget.Create("a", size: -1));
        await _harness.StartAsync((_, _, _) => Task.FromResult(ReconcileResult.Terminal("InvalidSize", "spec.size must be positive")));

        await Eventually.WaitUntilAsync(() => Conditions.IsTrue(_harness.Widgets.Get(A)!.Status?.Conditions, Conditions.Stalled), "Stalled was written");
        var status = _harness.Widgets.Get(A)!.Status!;
        var stalled = Conditions.Get(status.Conditions, Conditions.Stalled)!;
        Assert.Equal("InvalidSize", stalled.Reason);
        Assert.Equal("spec.size must be positive", stalled.Message);
        Assert.Equal(Conditions.False, Conditions.Get(status.Conditions, Conditions.Ready)!.Status);
        Assert.Equal(1, status.ObservedGeneration);

        // The status write is one more change to look at; after that, nothing is retried however long we wait.
        // Wait for the second result, not the second call: its Warning must be recorded before the clock moves, or it
        // would fall outside the de-duplication window and make a second Event.
        await Eventually.WaitUntilAsync(() => _harness.Results("terminal") == 2, "the status change was reconciled");
        _harness.Time.Advance(TimeSpan.FromMinutes(20));
        await Eventually.QuietPeriod();
        Assert.Equal(2, _harness.Calls.Count);
        Assert.Single(_harness.Patcher.Patches);
        await Eventually.WaitUntilAsync(() => _harness.Sink.Events.Count == 1, "the warning event was written");
        var warning = _harness.Sink.Events[0];
        Assert.Equal(("Warning", "InvalidSize"), (warning.Type, warning.Reason));
        Assert.Equal(2, _harness.Results("terminal"));
    }

    [Fact]
    public async Task Exception_IsLoggedCountedAsErrorAndRetriedWithBackoff()
    {
        _harness.Widgets.Create(Widget.Create("a"));
        var attempts = 0;
        await _harness.StartAsync((_, _, _) =>
            Interlocked.Increment(ref attempts) == 1 ? throw new InvalidOperationException("boom") : Done());

        await _harness.AdvanceUntilAsync(() => _harness.Calls.Count == 2, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(1), "the retry");

        Assert.Equal(TimeSpan.FromMilliseconds(5), _harness.Calls[1].At - _harness.Calls[0].At);
        Assert.Equal(1, _harness.Metrics.ReconcileErrors.WithLabels("Widget").Value);
        Assert.Equal(1, _harness.Results("error"));
        Assert.Equal(1, _harness.Results("done"));
    }

    [Fact]
    public async Task Conflict_IsRequeuedOnlyOnceTheCacheHasANewerObject_AndIsNotAnError()
    {
        _harness.Widgets.Create(Widget.Create("a"));
        _harness.Patcher.ConflictNext();
        await _harness.StartAsync(async (widget, context, token) =>
        {
            await MarkReady(widget, context, token);
            return ReconcileResult.Done;
        });
        await Eventually.WaitUntilAsync(() => _harness.Results("conflict") == 1, "the conflict");

        // The cache still holds the refused version: no reconcile and no write until the informer has a newer one.
        _harness.Time.Advance(TimeSpan.FromMilliseconds(5));
        _harness.Time.Advance(TimeSpan.FromMilliseconds(10));
        _harness.Time.Advance(TimeSpan.FromMilliseconds(20));
        await Eventually.QuietPeriod();
        Assert.Single(_harness.Calls);
        Assert.Single(_harness.Patcher.Patches);

        var newer = _harness.Widgets.Update(A, widget => widget.Spec.Size = 2);

        await Eventually.WaitUntilAsync(() => Conditions.IsTrue(_harness.Widgets.Get(A)!.Status?.Conditions, Conditions.Ready), "the retried write landed");
        Assert.Equal(newer.Metadata.ResourceVersion, _harness.Calls[1].ResourceVersion);
        Assert.Equal(1, _harness.Metrics.StatusConflicts.WithLabels("Widget").Value);
        Assert.Equal(0, _harness.Metrics.ReconcileErrors.WithLabels("Widget").Value);
        Assert.Equal(0, _harness.Results("error"));
    }

    [Fact]
    public async Task AfterItsOwnWrite_TheControllerWaitsForTheNewVersion_InsteadOfReconcilingTheStaleCopy()
    {
        _harness.Widgets.Create(Widget.Create("a"));
        var attempts = 0;
        await _harness.StartAsync(async (widget, context, token) =>
        {
            var first = Interlocked.Increment(ref attempts) == 1;
            if (first)
            {
                // The informer will not see this write until its watch is re-opened.
                _harness.Widgets.MuteWatches();
            }

            await MarkReady(widget, context, token);
            return first ? ReconcileResult.Retry("WaitingForJob") : ReconcileResult.Done;
        });
        await Eventually.WaitUntilAsync(() => _harness.Patcher.Patches.Count == 1, "the status write");
        await Eventually.WaitUntilAsync(() => _harness.Controller!.Queue!.DelayedCount == 1, "the retry is scheduled");

        _harness.Time.Advance(TimeSpan.FromMilliseconds(5));
        await Eventually.QuietPeriod();
        Assert.Single(_harness.Calls);

        _harness.Widgets.CloseWatches();
        await Eventually.WaitUntilAsync(() => _harness.Widgets.OpenWatches == 0, "the informer saw its watch close");
        await _harness.AdvanceUntilAsync(() => _harness.Calls.Count == 2, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), "the new version was reconciled");
        Assert.Equal(_harness.Widgets.Get(A)!.Metadata.ResourceVersion, _harness.Calls[1].ResourceVersion);
        Assert.Single(_harness.Patcher.Patches);
    }

    [Fact]
    public async Task Conflict_WithNoNewerObject_IsReconciledAgainAfterTheCatchUpTimeout()
    {
        _harness.Widgets.Create(Widget.Create("a"));
        _harness.Patcher.ConflictNext();
        await _harness.StartAsync(async (widget, context, token) =>
        {
            await MarkReady(widget, context, token);
            return ReconcileResult.Done;
        });
        await Eventually.WaitUntilAsync(() => _harness.Results("conflict") == 1, "the conflict");

        await _harness.AdvanceUntilAsync(() => _harness.Calls.Count >= 2, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(30), "a second reconcile");

        // No newer version ever reached the cache: the fallback reconciles once the catch-up timeout has passed.
        Assert.Equal(TimeSpan.FromSeconds(10), _harness.Calls[1].At - _harness.Calls[0].At);
    }

    [Fact]
    public async Task OwnedChildren_WakeTheirControllingOwner_OnlyThroughAControllerReferenceToTheKind()
    {
        var owner = _harness.Widgets.Create(Widget.Create("a"));
        var jobs = _harness.Servers.Server<V1Job>();
        jobs.Create(Job("controlled", OwnerReferences.ControllerReference(owner)));
        var plainOwner = OwnerReferences.ControllerReference(owner);
        plainOwner.Controller = false;
        jobs.Create(Job("not-controller", plainOwner));
        jobs.Create(Job("other-kind", new V1OwnerReference { ApiVersion = "apps/v1", Kind = "Deployment", Name = "a", Uid = "d1", Controller = true }));
        await _harness.StartAsync((_, _, _) => Done(), controller => controller.Owns<V1Job>());
        await Eventually.WaitUntilAsync(() => _harness.Calls.Count == 1, "the first reconcile");

        jobs.Update(new ResourceKey("default", "not-controller"), job => job.Spec.Parallelism = 2);
        jobs.Update(new ResourceKey("default", "other-kind"), job => job.Spec.Parallelism = 2);
        await Eventually.QuietPeriod();
        Assert.Single(_harness.Calls);

        jobs.Update(new ResourceKey("default", "controlled"), job => job.Spec.Parallelism = 2);
        await Eventually.WaitUntilAsync(() => _harness.Calls.Count == 2, "the owner was reconciled");
        Assert.Equal(["controlled"], _harness.Informers.Cache<V1Job>().ByOwner(owner.Metadata.Uid).Select(job => job.Metadata.Name));
        jobs.Delete(new ResourceKey("default", "controlled"));
        await Eventually.WaitUntilAsync(() => _harness.Calls.Count == 3, "the owner was reconciled after the child's deletion");
        Assert.All(_harness.Calls, call => Assert.Equal("a", call.Name));
        Assert.Empty(_harness.Informers.Cache<V1Job>().ByOwner(owner.Metadata.Uid));
    }

    [Fact]
    public async Task Watches_MapsAnotherKindsChangesToKeys()
    {
        _harness.Widgets.Create(Widget.Create("a"));
        _harness.Widgets.Create(Widget.Create("b"));
        var maps = _harness.Servers.Server<V1ConfigMap>();
        await _harness.StartAsync(
            (_, _, _) => Done(),
            controller => controller.Watches<V1ConfigMap>(map => map.Data?.Keys.Select(name => new ResourceKey("default", name)) ?? []));
        await Eventually.WaitUntilAsync(() => _harness.Calls.Count == 2, "the first reconciles");

        maps.Create(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "m", NamespaceProperty = "default" }, Data = new Dictionary<string, string> { ["b"] = "" } });

        await Eventually.WaitUntilAsync(() => _harness.Calls.Count == 3, "the mapped widget was reconciled");
        Assert.Equal("b", _harness.Calls[^1].Name);
    }

    [Fact]
    public async Task ManyWorkers_ReconcileKeysInParallel_ButOneKeyOnlyOnceAtATime()
    {
        foreach (var name in new[] { "a", "b", "c" })
        {
            _harness.Widgets.Create(Widget.Create(name));
        }

        var gate = new TaskCompletionSource();
        var inFlight = new ConcurrentDictionary<string, int>();
        var maxPerKey = 0;
        await _harness.StartAsync(
            async (widget, _, _) =>
            {
                var now = inFlight.AddOrUpdate(widget.Metadata.Name, 1, (_, count) => count + 1);
                InterlockedMax(ref maxPerKey, now);
                if (widget.Metadata.Name == "a" && widget.Metadata.ResourceVersion == "1")
                {
                    await gate.Task;
                }

                inFlight.AddOrUpdate(widget.Metadata.Name, 0, (_, count) => count - 1);
                return ReconcileResult.Done;
            },
            controller => controller.WithWorkers(4));

        // a is held; b and c still get reconciled by the other workers.
        await Eventually.WaitUntilAsync(() => _harness.CallsFor("b") == 1 && _harness.CallsFor("c") == 1, "b and c were reconciled");
        for (var size = 2; size <= 4; size++)
        {
            _harness.Widgets.Update(A, widget => widget.Spec.Size = size);
        }

        await Eventually.QuietPeriod();
        Assert.Equal(1, _harness.CallsFor("a"));

        gate.SetResult();
        await Eventually.WaitUntilAsync(() => _harness.CallsFor("a") == 2, "a was reconciled again");
        await Eventually.QuietPeriod();
        Assert.Equal(2, _harness.CallsFor("a"));
        Assert.Equal("6", _harness.Calls.Last(call => call.Name == "a").ResourceVersion);
        Assert.Equal(1, maxPerKey);
    }

    [Fact]
    public async Task LosingLeadership_CancelsTheReconcileInFlight_AndStopsReconciling()
    {
        _harness.Widgets.Create(Widget.Create("a"));
        var cancelled = new TaskCompletionSource();
        await _harness.StartAsync(async (_, _, token) =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, token);
            }
            catch (OperationCanceledException)
            {
                cancelled.SetResult();
                throw;
            }

            return ReconcileResult.Done;
        });
        await Eventually.WaitUntilAsync(() => _harness.Calls.Count == 1, "the reconcile started");

        await _harness.StopLeadingAsync();

        await cancelled.Task.WaitAsync(Eventually.DefaultTimeout);
        Assert.Null(_harness.Controller!.Queue);
        _harness.Widgets.Update(A, widget => widget.Spec.Size = 2);
        await Eventually.QuietPeriod();
        Assert.Single(_harness.Calls);
        Assert.Equal(0, _harness.Results("error"));
    }

    [Fact]
    public async Task DeletedObject_IsNotReconciled()
    {
        _harness.Widgets.Create(Widget.Create("a"));
        await _harness.StartAsync((_, _, _) => Done());
        await Eventually.WaitUntilAsync(() => _harness.Calls.Count == 1, "the first reconcile");

        _harness.Widgets.Delete(A);
        await Eventually.WaitUntilAsync(() => _harness.Informers.Cache<Widget>().Count == 0, "the delete arrived");
        await Eventually.QuietPeriod();

        Assert.Single(_harness.Calls);
    }

    [Fact]
    public async Task Resync_ReconcilesUnchangedObjectsAgain()
    {
        await _harness.DisposeAsync();
        _harness = new ControllerHarness(new InformerOptions { ResyncPeriod = TimeSpan.FromMinutes(5) });
        _harness.Widgets.Create(Widget.Create("a"));
        await _harness.StartAsync((_, _, _) => Done());
        await Eventually.WaitUntilAsync(() => _harness.Calls.Count == 1, "the first reconcile");
        await Eventually.WaitUntilAsync(() => _harness.Time.ArmedTimers >= 2, "the resync is scheduled");

        _harness.Time.Advance(TimeSpan.FromMinutes(5));

        await Eventually.WaitUntilAsync(() => _harness.Calls.Count == 2, "the resync reconcile");
        Assert.Equal(_harness.Calls[0].ResourceVersion, _harness.Calls[1].ResourceVersion);
    }

    private static V1Job Job(string name, V1OwnerReference owner) => new()
    {
        ApiVersion = "batch/v1",
        Kind = "Job",
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default", OwnerReferences = [owner] },
        Spec = new V1JobSpec { Template = new V1PodTemplateSpec() },
    };

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
