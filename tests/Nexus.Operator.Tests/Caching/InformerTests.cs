using System.Net;
using k8s.Models;
using Nexus.Operator.Caching;
using Nexus.Operator.Client;
using Nexus.Operator.Metrics;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Caching;

public sealed class InformerTests : IAsyncDisposable
{
    private static readonly InformerOptions FastRetries = new()
    {
        InitialBackoff = TimeSpan.FromMilliseconds(5),
        MaxBackoff = TimeSpan.FromMilliseconds(20),
        BackoffJitter = 0,
        ResyncPeriod = TimeSpan.Zero,
    };

    private readonly CancellationTokenSource _stop = new();
    private readonly OperatorMetrics _metrics = new();
    private readonly List<string> _seen = new();
    private Task? _running;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_running is not null)
        {
            await _running.WaitAsync(TimeSpan.FromSeconds(5));
        }

        _stop.Dispose();
    }

    private Informer<Widget> Start(FakeResourceServer<Widget> server, InformerOptions? options = null, TimeProvider? time = null)
    {
        var informer = new Informer<Widget>(server, options ?? FastRetries, _metrics, time: time);
        informer.AddHandler(Record);
        _running = Task.Run(() => informer.RunAsync(_stop.Token));
        return informer;
    }

    private void Record(ResourceEvent<Widget> change)
    {
        lock (_seen)
        {
            _seen.Add($"{change.Type} {change.Object.Metadata.Name}@{change.Object.Metadata.ResourceVersion}");
        }
    }

    private List<string> Seen()
    {
        lock (_seen)
        {
            return _seen.ToList();
        }
    }

    private List<string> SeenAfter(int count) => Seen().Skip(count).ToList();

    private double Restarts(string reason) => _metrics.WatchRestarts.WithLabels("Widget", reason).Value;

    private static async Task SyncedAsync(Informer<Widget> informer) =>
        await informer.WaitForSyncAsync(CancellationToken.None).WaitAsync(Eventually.DefaultTimeout);

    private static ResourceKey Key(string name) => new("default", name);

    [Fact]
    public async Task InitialList_IsPaged_AndTheWatchStartsFromTheListResourceVersion()
    {
        var server = new FakeResourceServer<Widget>();
        for (var i = 0; i < 7; i++)
        {
            server.Create(Widget.Create($"w{i}"));
        }

        var informer = Start(server, FastRetries with { PageSize = 3 });
        await SyncedAsync(informer);
        await Eventually.WaitUntilAsync(() => server.WatchCalls.Count == 1, "the watch started");

        Assert.Equal([(null, 3), ("3@7", 3), ("6@7", 3)], server.ListCalls.Select(call => (call.Continue, call.Limit)));
        Assert.Equal("7", server.WatchCalls[0]);
        Assert.Equal(7, informer.Cache.Count);
        Assert.Equal(7, Seen().Count(seen => seen.StartsWith("Added", StringComparison.Ordinal)));
        Assert.Equal(1, _metrics.InformerRelists.WithLabels("Widget").Value);
    }

    [Fact]
    public async Task ExpiredContinueToken_RestartsTheListFromTheBeginning_WithoutDuplicates()
    {
        var server = new FakeResourceServer<Widget>();
        for (var i = 0; i < 5; i++)
        {
            server.Create(Widget.Create($"w{i}"));
        }

        server.ExpireNextContinueToken();
        var informer = Start(server, FastRetries with { PageSize = 3 });
        await SyncedAsync(informer);

        Assert.Equal([null, "3@5", null, "3@5"], server.ListCalls.Select(call => call.Continue));
        Assert.Equal(5, Seen().Count);
        Assert.Equal(5, informer.Cache.Count);
    }

    [Fact]
    public async Task WatchEvents_UpdateTheCacheAndReachHandlersInOrder()
    {
        var server = new FakeResourceServer<Widget>();
        var informer = Start(server);
        await SyncedAsync(informer);
        await Eventually.WaitUntilAsync(() => server.OpenWatches == 1, "the watch is open");

        server.Create(Widget.Create("a"));
        server.Update(Key("a"), widget => widget.Spec.Size = 2);
        server.Create(Widget.Create("b"));
        server.Delete(Key("a"));

        await Eventually.WaitUntilAsync(() => Seen().Count == 4, "four events were handled");
        Assert.Equal(["Added a@1", "Updated a@2", "Added b@3", "Deleted a@4"], Seen());
        Assert.Null(informer.Cache.Get(Key("a")));
        Assert.Equal(1, informer.Cache.Get(Key("b"))!.Spec.Size);
        Assert.Equal("4", informer.ResourceVersion);
    }

    [Fact]
    public async Task Bookmarks_AdvanceTheResourceVersionTheNextWatchStartsFrom()
    {
        var server = new FakeResourceServer<Widget>();
        server.Create(Widget.Create("a"));
        var informer = Start(server);
        await SyncedAsync(informer);
        await Eventually.WaitUntilAsync(() => server.OpenWatches == 1, "the watch is open");

        var bookmark = server.Bookmark();
        await Eventually.WaitUntilAsync(() => informer.ResourceVersion == bookmark.ToString(), "the bookmark was taken");
        server.CloseWatches();

        await Eventually.WaitUntilAsync(() => server.WatchCalls.Count == 2, "the watch reconnected");
        Assert.Equal(["1", bookmark.ToString()], server.WatchCalls);
        Assert.Equal(["Added a@1"], Seen());
    }

    [Fact]
    public async Task ClosedWatch_ReconnectsFromTheLastResourceVersion_WithNoMissedOrDuplicatedEvents()
    {
        var server = new FakeResourceServer<Widget>();
        server.Create(Widget.Create("a"));
        var informer = Start(server);
        await SyncedAsync(informer);
        await Eventually.WaitUntilAsync(() => server.OpenWatches == 1, "the watch is open");
        server.Update(Key("a"), widget => widget.Spec.Size = 2);
        await Eventually.WaitUntilAsync(() => Seen().Count == 2, "the update arrived");

        server.CloseWatches();
        server.Update(Key("a"), widget => widget.Spec.Size = 3);
        server.Create(Widget.Create("b"));

        await Eventually.WaitUntilAsync(() => Seen().Count == 4, "the changes made while reconnecting arrived");
        await Eventually.QuietPeriod();
        Assert.Equal(["Added a@1", "Updated a@2", "Updated a@3", "Added b@4"], Seen());
        Assert.Equal(["1", "2"], server.WatchCalls);
        Assert.Single(server.ListCalls);
        Assert.Equal(1, Restarts("closed"));
    }

    [Fact]
    public async Task ExpiredWatch_RelistsAndEmitsExactlyTheMissedAddsUpdatesAndDeletes()
    {
        var server = new FakeResourceServer<Widget>();
        server.Create(Widget.Create("a"));
        server.Create(Widget.Create("b"));
        server.Create(Widget.Create("c"));
        var informer = Start(server);
        await SyncedAsync(informer);
        await Eventually.WaitUntilAsync(() => server.OpenWatches == 1, "the watch is open");
        var before = Seen().Count;

        // Changes the informer never sees on its watch, then the history is compacted away.
        server.MuteWatches();
        server.Update(Key("a"), widget => widget.Spec.Size = 5);
        server.Delete(Key("b"));
        server.Create(Widget.Create("d"));
        server.Compact();
        server.ExpireWatches();

        await Eventually.WaitUntilAsync(() => server.ListCalls.Count == 2 && SeenAfter(before).Count == 3, "the relist's diff was delivered");
        await Eventually.QuietPeriod();
        Assert.Equal(["Added d@6", "Deleted b@2", "Updated a@4"], SeenAfter(before).OrderBy(seen => seen));
        Assert.Equal(["a", "c", "d"], informer.Cache.List().Select(widget => widget.Metadata.Name).Order());
        Assert.Equal(5, informer.Cache.Get(Key("a"))!.Spec.Size);
        Assert.Equal(1, Restarts("expired"));
        Assert.Equal(2, _metrics.InformerRelists.WithLabels("Widget").Value);

        // The next watch starts from the relist and keeps going.
        await Eventually.WaitUntilAsync(() => server.OpenWatches == 1, "a new watch is open");
        Assert.Equal("6", server.WatchCalls[^1]);
        server.Create(Widget.Create("e"));
        await Eventually.WaitUntilAsync(() => SeenAfter(before).Count == 4, "a later change arrived");
        Assert.Equal("Added e@7", Seen()[^1]);
    }

    [Fact]
    public async Task WatchFromACompactedVersion_GetsExpired_AndRelists()
    {
        var server = new FakeResourceServer<Widget>();
        server.Create(Widget.Create("a"));
        var informer = Start(server);
        await SyncedAsync(informer);
        await Eventually.WaitUntilAsync(() => server.OpenWatches == 1, "the watch is open");

        server.MuteWatches();
        server.Update(Key("a"), widget => widget.Spec.Size = 9);
        server.Compact();
        server.CloseWatches();

        await Eventually.WaitUntilAsync(() => Seen().Count == 2, "the relist found the update");
        Assert.Equal(["Added a@1", "Updated a@2"], Seen());
        Assert.Equal(2, server.ListCalls.Count);
        Assert.Equal(1, Restarts("expired"));
    }

    [Fact]
    public async Task StatusErrorOnTheWatch_RewatchesFromTheSameVersion_WithoutRelisting()
    {
        var server = new FakeResourceServer<Widget>();
        server.Create(Widget.Create("a"));
        var informer = Start(server);
        await SyncedAsync(informer);
        await Eventually.WaitUntilAsync(() => server.OpenWatches == 1, "the watch is open");

        server.FailWatches(500);

        await Eventually.WaitUntilAsync(() => server.WatchCalls.Count == 2, "the watch was re-opened");
        Assert.Equal(["1", "1"], server.WatchCalls);
        Assert.Single(server.ListCalls);
        Assert.Equal(1, Restarts("error"));
    }

    [Fact]
    public async Task TransportFailureOfTheWatch_BacksOffAndRewatches()
    {
        var server = new FakeResourceServer<Widget>();
        server.FailNextWatch(new IOException("connection reset"));
        var informer = Start(server);
        await SyncedAsync(informer);

        await Eventually.WaitUntilAsync(() => server.OpenWatches == 1, "a watch is open after the failure");
        Assert.Equal(["0", "0"], server.WatchCalls);
        Assert.Equal(1, Restarts("error"));
    }

    [Fact]
    public async Task ListFailures_RetryWithExponentialBackoff_NotATightLoop()
    {
        var time = new ManualTimeProvider();
        var server = new FakeResourceServer<Widget>(time: time);
        server.FailNextLists(3, HttpStatusCode.ServiceUnavailable);
        var informer = Start(server, FastRetries with { InitialBackoff = TimeSpan.FromSeconds(1), MaxBackoff = TimeSpan.FromSeconds(30) }, time);

        var start = time.GetUtcNow();
        for (var step = 0; step < 200 && !informer.HasSynced; step++)
        {
            await Eventually.WaitUntilAsync(() => time.ArmedTimers >= 1 || informer.HasSynced, "the informer is waiting");
            time.Advance(TimeSpan.FromMilliseconds(100));
        }

        await SyncedAsync(informer);
        var offsets = server.ListCalls.Select(call => (call.At - start).TotalSeconds).ToList();
        Assert.Equal(4, offsets.Count);
        double[] expected = [0, 1, 3, 7];
        for (var i = 0; i < 4; i++)
        {
            Assert.InRange(offsets[i], expected[i], expected[i] + 0.1);
        }
    }

    [Fact]
    public async Task Watchdog_ReconnectsAWatchSilentForLongerThanItsBookmarkIntervals()
    {
        var time = new ManualTimeProvider();
        var server = new FakeResourceServer<Widget>(time: time);
        server.Create(Widget.Create("a"));
        var informer = Start(server, FastRetries with { BookmarkInterval = TimeSpan.FromMinutes(1), SilentBookmarkIntervals = 3 }, time);
        await SyncedAsync(informer);
        await Eventually.WaitUntilAsync(() => server.OpenWatches == 1, "the watch is open");

        server.MuteWatches();
        server.Update(Key("a"), widget => widget.Spec.Size = 2);
        time.Advance(TimeSpan.FromMinutes(3) - TimeSpan.FromSeconds(1));
        await Eventually.QuietPeriod();
        Assert.Single(server.WatchCalls);

        time.Advance(TimeSpan.FromSeconds(1));
        for (var step = 0; step < 100 && Seen().Count < 2; step++)
        {
            await Eventually.QuietPeriod();
            time.Advance(TimeSpan.FromMilliseconds(5));
        }

        Assert.Equal(["Added a@1", "Updated a@2"], Seen());
        Assert.Equal(["1", "1"], server.WatchCalls);
        Assert.Equal(1, Restarts("silent"));
    }

    [Fact]
    public async Task Resync_RedeliversEveryCachedObjectEachPeriod()
    {
        var time = new ManualTimeProvider();
        var server = new FakeResourceServer<Widget>(time: time);
        server.Create(Widget.Create("a"));
        server.Create(Widget.Create("b"));
        var informer = Start(server, FastRetries with { ResyncPeriod = TimeSpan.FromMinutes(1) }, time);
        await SyncedAsync(informer);
        await Eventually.WaitUntilAsync(() => time.ArmedTimers >= 2, "the resync timer and watchdog are armed");

        time.Advance(TimeSpan.FromMinutes(1));
        await Eventually.WaitUntilAsync(() => Seen().Count(seen => seen.StartsWith("Resync", StringComparison.Ordinal)) == 2, "one resync");
        await Eventually.WaitUntilAsync(() => time.ArmedTimers >= 2, "the next resync is scheduled");
        time.Advance(TimeSpan.FromMinutes(1));
        await Eventually.WaitUntilAsync(() => Seen().Count(seen => seen.StartsWith("Resync", StringComparison.Ordinal)) == 4, "a second resync");

        Assert.Equal(["Resync a@1", "Resync b@2"], Seen().Skip(2).Take(2).Order());
    }

    [Fact]
    public async Task OwnerIndex_FindsChildrenByTheirControllerReference()
    {
        var server = new FakeResourceServer<Widget>();
        var informer = Start(server);
        await SyncedAsync(informer);
        await Eventually.WaitUntilAsync(() => server.OpenWatches == 1, "the watch is open");

        server.Create(Child("c1", controllerUid: "owner-1"));
        server.Create(Child("c2", controllerUid: "owner-1"));
        server.Create(Child("c3", controllerUid: "owner-2"));
        var notController = Child("c4", controllerUid: "owner-1");
        notController.Metadata.OwnerReferences[0].Controller = false;
        server.Create(notController);
        await Eventually.WaitUntilAsync(() => informer.Cache.Count == 4, "the children are cached");

        Assert.Equal(["c1", "c2"], informer.Cache.ByOwner("owner-1").Select(child => child.Metadata.Name).Order());

        server.Update(Key("c1"), child => child.Metadata.OwnerReferences = null);
        server.Delete(Key("c3"));
        await Eventually.WaitUntilAsync(() => informer.Cache.Count == 3, "the delete arrived");
        Assert.Equal(["c2"], informer.Cache.ByOwner("owner-1").Select(child => child.Metadata.Name));
        Assert.Empty(informer.Cache.ByOwner("owner-2"));
    }

    [Fact]
    public async Task ByLabel_SelectsOnOneLabel()
    {
        var server = new FakeResourceServer<Widget>();
        var labelled = Widget.Create("a");
        labelled.Metadata.Labels = new Dictionary<string, string> { ["domain"] = "code" };
        server.Create(labelled);
        server.Create(Widget.Create("b"));
        var informer = Start(server);
        await SyncedAsync(informer);

        Assert.Equal("a", Assert.Single(informer.Cache.ByLabel("domain", "code")).Metadata.Name);
        Assert.Empty(informer.Cache.ByLabel("domain", "legal"));
    }

    [Fact]
    public async Task FailingHandler_DoesNotStopTheInformerOrOtherHandlers()
    {
        var server = new FakeResourceServer<Widget>();
        var informer = new Informer<Widget>(server, FastRetries, _metrics);
        informer.AddHandler(_ => throw new InvalidOperationException("handler bug"));
        informer.AddHandler(Record);
        _running = Task.Run(() => informer.RunAsync(_stop.Token));
        await SyncedAsync(informer);
        await Eventually.WaitUntilAsync(() => server.OpenWatches == 1, "the watch is open");

        server.Create(Widget.Create("a"));
        server.Create(Widget.Create("b"));

        await Eventually.WaitUntilAsync(() => Seen().Count == 2, "both events reached the second handler");
        Assert.Equal(2, informer.Cache.Count);
    }

    [Fact]
    public async Task HandlerAddedAfterSync_IsHandedTheCachedObjectsFirst()
    {
        var server = new FakeResourceServer<Widget>();
        server.Create(Widget.Create("a"));
        var informer = new Informer<Widget>(server, FastRetries, _metrics);
        _running = Task.Run(() => informer.RunAsync(_stop.Token));
        await SyncedAsync(informer);

        informer.AddHandler(Record);

        Assert.Equal(["Added a@1"], Seen());
    }

    [Fact]
    public async Task IsAlive_TurnsFalseWhenTheLoopIsStuck()
    {
        var time = new ManualTimeProvider();
        var server = new FakeResourceServer<Widget>(time: time);
        var informer = new Informer<Widget>(server, FastRetries, _metrics, time: time);
        using var release = new SemaphoreSlim(0);
        informer.AddHandler(change =>
        {
            if (change.Object.Metadata.Name == "stuck")
            {
                release.Wait();
            }
        });
        _running = Task.Run(() => informer.RunAsync(_stop.Token));
        await SyncedAsync(informer);
        await Eventually.WaitUntilAsync(() => server.OpenWatches == 1, "the watch is open");
        Assert.True(informer.IsAlive());

        server.Create(Widget.Create("stuck"));
        await Eventually.WaitUntilAsync(() => informer.Cache.Count == 1, "the handler is running");
        time.Advance(TimeSpan.FromMinutes(30));

        Assert.False(informer.IsAlive());
        release.Release();
    }

    private static Widget Child(string name, string controllerUid)
    {
        var child = Widget.Create(name);
        child.Metadata.OwnerReferences = new List<V1OwnerReference>
        {
            new() { ApiVersion = "test.nexus.moe/v1", Kind = "Widget", Name = "owner", Uid = controllerUid, Controller = true },
        };
        return child;
    }
}
