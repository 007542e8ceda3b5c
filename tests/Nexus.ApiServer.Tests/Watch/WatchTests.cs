using System.Text.Json;
using k8s;
using k8s.Models;
using Nexus.ApiServer.Tests.Support;

namespace Nexus.ApiServer.Tests.Watch;

public sealed class WatchTests : ServerTest
{
    private WatchRecorder<V1ConfigMap> WatchConfigMaps(string? resourceVersion = null, string? labelSelector = null, bool bookmarks = false, int? timeoutSeconds = null, string? fieldSelector = null)
    {
        var recorder = new WatchRecorder<V1ConfigMap>();
        recorder.Watcher = Client.CoreV1.WatchListNamespacedConfigMap(
            Ns,
            allowWatchBookmarks: bookmarks,
            fieldSelector: fieldSelector,
            labelSelector: labelSelector,
            resourceVersion: resourceVersion,
            timeoutSeconds: timeoutSeconds,
            onEvent: recorder.OnEvent,
            onError: recorder.OnError,
            onClosed: recorder.OnClosed);
        return recorder;
    }

    private static V1Patch Merge(string json) => new(json, V1Patch.PatchType.MergePatch);

    [Fact]
    public async Task A_watch_from_a_resourceVersion_replays_every_later_event_then_follows()
    {
        var start = (await Client.CoreV1.ListNamespacedConfigMapAsync(Ns)).Metadata.ResourceVersion;
        await CreateConfigMapAsync("a");
        await Client.CoreV1.PatchNamespacedConfigMapAsync(Merge("""{"data":{"key":"changed"}}"""), "a", Ns);
        using var watch = WatchConfigMaps(start);

        var replayed = await watch.NextAsync(2);
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("a", Ns);
        var deleted = await watch.NextAsync();

        Assert.Equal([WatchEventType.Added, WatchEventType.Modified], replayed.Select(e => e.Type));
        Assert.Equal("changed", replayed[1].Object.Data["key"]);
        Assert.Equal(WatchEventType.Deleted, deleted.Type);
        Assert.Equal(Server.ResourceVersion.ToString(), deleted.Object.Metadata.ResourceVersion);
        Assert.Equal("changed", deleted.Object.Data["key"]);
        Assert.Empty(watch.Errors);
    }

    [Fact]
    public async Task A_watch_without_resourceVersion_starts_with_synthetic_ADDED_events()
    {
        await CreateConfigMapAsync("a");
        await CreateConfigMapAsync("b");
        using var watch = WatchConfigMaps();

        var initial = await watch.NextAsync(2);
        await CreateConfigMapAsync("c");
        var live = await watch.NextAsync();

        Assert.All(initial, e => Assert.Equal(WatchEventType.Added, e.Type));
        Assert.Equal(["a", "b"], initial.Select(e => e.Object.Metadata.Name));
        Assert.Equal((WatchEventType.Added, "c"), (live.Type, live.Object.Metadata.Name));
    }

    [Fact]
    public async Task Objects_entering_and_leaving_a_label_selector_arrive_as_ADDED_and_DELETED()
    {
        var start = Server.ResourceVersion.ToString();
        using var watch = WatchConfigMaps(start, labelSelector: "app=web");

        await CreateConfigMapAsync("a", labels: new Dictionary<string, string> { ["app"] = "batch" });
        await Client.CoreV1.PatchNamespacedConfigMapAsync(Merge("""{"metadata":{"labels":{"app":"web"}}}"""), "a", Ns);
        await Client.CoreV1.PatchNamespacedConfigMapAsync(Merge("""{"data":{"key":"still-web"}}"""), "a", Ns);
        var leaving = await Client.CoreV1.PatchNamespacedConfigMapAsync(Merge("""{"metadata":{"labels":{"app":"batch"}}}"""), "a", Ns);
        await CreateConfigMapAsync("b", labels: new Dictionary<string, string> { ["app"] = "web" });
        var events = await watch.NextAsync(4);

        Assert.Equal([WatchEventType.Added, WatchEventType.Modified, WatchEventType.Deleted, WatchEventType.Added], events.Select(e => e.Type));
        var gone = events[2].Object;
        Assert.Equal("web", gone.Metadata.Labels["app"]);
        Assert.Equal(leaving.Metadata.ResourceVersion, gone.Metadata.ResourceVersion);
        Assert.Equal("b", events[3].Object.Metadata.Name);
    }

    [Fact]
    public async Task A_field_selector_on_the_name_watches_one_object()
    {
        var start = Server.ResourceVersion.ToString();
        using var watch = WatchConfigMaps(start, fieldSelector: "metadata.name=b");

        await CreateConfigMapAsync("a");
        await CreateConfigMapAsync("b");
        var only = await watch.NextAsync();

        Assert.Equal("b", only.Object.Metadata.Name);
    }

    [Fact]
    public async Task A_no_op_update_sends_no_event()
    {
        var created = await CreateConfigMapAsync("a");
        using var watch = WatchConfigMaps(created.Metadata.ResourceVersion);

        await Client.CoreV1.ReplaceNamespacedConfigMapAsync(created, "a", Ns);
        await Client.CoreV1.PatchNamespacedConfigMapAsync(Merge("""{"data":{"key":"value"}}"""), "a", Ns);
        await Client.CoreV1.PatchNamespacedConfigMapAsync(Merge("""{"data":{"key":"real"}}"""), "a", Ns);
        var next = await watch.NextAsync();

        Assert.Equal(WatchEventType.Modified, next.Type);
        Assert.Equal("real", next.Object.Data["key"]);
    }

    [Fact]
    public async Task Bookmarks_arrive_on_demand_with_the_current_resourceVersion_and_only_when_asked_for()
    {
        var start = Server.ResourceVersion.ToString();
        using var withBookmarks = WatchConfigMaps(start, bookmarks: true);
        using var without = WatchConfigMaps(start);
        await Server.Watchers.WaitForCountAsync(2);

        await CreateConfigMapAsync("a");
        Server.Watchers.SendBookmarks();
        await CreateConfigMapAsync("b");
        var events = await withBookmarks.NextAsync(3);
        var plain = await without.NextAsync(2);

        Assert.Equal([WatchEventType.Added, WatchEventType.Bookmark, WatchEventType.Added], events.Select(e => e.Type));
        Assert.Equal(events[0].Object.Metadata.ResourceVersion, events[1].Object.Metadata.ResourceVersion);
        Assert.Equal("ConfigMap", events[1].Object.Kind);
        Assert.Null(events[1].Object.Metadata.Name);
        Assert.Equal([WatchEventType.Added, WatchEventType.Added], plain.Select(e => e.Type));
    }

    [Fact]
    public async Task Bookmarks_arrive_periodically()
    {
        await using var server = await LocalApiServer.StartAsync(new LocalApiServerOptions { BookmarkInterval = TimeSpan.FromMilliseconds(100) });
        using var client = server.CreateClient();
        using var watch = new WatchRecorder<V1ConfigMap>();
        watch.Watcher = client.CoreV1.WatchListNamespacedConfigMap(
            "default", allowWatchBookmarks: true, resourceVersion: server.ResourceVersion.ToString(), onEvent: watch.OnEvent, onError: watch.OnError, onClosed: watch.OnClosed);

        var bookmarks = await watch.NextAsync(2);

        Assert.All(bookmarks, b => Assert.Equal(WatchEventType.Bookmark, b.Type));
        Assert.All(bookmarks, b => Assert.Equal(server.ResourceVersion.ToString(), b.Object.Metadata.ResourceVersion));
    }

    [Fact]
    public async Task A_compacted_resourceVersion_gets_an_ERROR_event_that_reaches_the_error_callback()
    {
        var old = (await CreateConfigMapAsync("a")).Metadata.ResourceVersion;
        await CreateConfigMapAsync("b");
        Server.Faults.CompactNow();
        var compacted = Server.ResourceVersion;

        using var watch = WatchConfigMaps(old);
        await watch.FirstError;
        await watch.Closed;

        var error = Assert.IsType<KubernetesException>(Assert.Single(watch.Errors));
        Assert.Equal(410, error.Status.Code);
        Assert.Equal("Expired", error.Status.Reason);
        Assert.Equal($"too old resource version: {old} ({compacted})", error.Status.Message);
    }

    [Fact]
    public async Task A_watch_from_the_compaction_point_still_works()
    {
        await CreateConfigMapAsync("a");
        Server.Faults.CompactNow();
        var at = Server.ResourceVersion.ToString();
        using var watch = WatchConfigMaps(at);

        await CreateConfigMapAsync("b");
        var next = await watch.NextAsync();

        Assert.Equal("b", next.Object.Metadata.Name);
        Assert.Empty(watch.Errors);
    }

    [Fact]
    public async Task A_dropped_connection_ends_the_watch()
    {
        using var watch = WatchConfigMaps(Server.ResourceVersion.ToString());
        await CreateConfigMapAsync("a");
        await watch.NextAsync();

        Server.Faults.DropWatches();

        await watch.Closed;
        Assert.False(watch.Watcher!.Watching);
        await Server.WaitForAsync(() => Server.Watchers.Count == 0);
    }

    [Fact]
    public async Task TimeoutSeconds_closes_the_stream()
    {
        using var watch = WatchConfigMaps(Server.ResourceVersion.ToString(), timeoutSeconds: 1);
        await CreateConfigMapAsync("a");
        await watch.NextAsync();

        await watch.Closed;

        Assert.Equal(0, Server.Watchers.Count);
    }

    [Fact]
    public async Task A_watch_across_all_namespaces_sees_every_namespace()
    {
        using var watch = new WatchRecorder<V1ConfigMap>();
        watch.Watcher = Client.CoreV1.WatchListConfigMapForAllNamespaces(
            resourceVersion: Server.ResourceVersion.ToString(), onEvent: watch.OnEvent, onError: watch.OnError, onClosed: watch.OnClosed);

        await CreateConfigMapAsync("here");
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("there"), "default");
        var events = await watch.NextAsync(2);

        Assert.Equal([$"{Ns}/here", "default/there"], events.Select(e => $"{e.Object.Metadata.NamespaceProperty}/{e.Object.Metadata.Name}"));
    }

    [Fact]
    public async Task Custom_resources_stream_through_the_custom_objects_watch()
    {
        Server.InstallCrd(ExpertCrd.Yaml);
        var start = Server.ResourceVersion.ToString();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var received = new List<(WatchEventType Type, JsonElement Object)>();
        var reading = Task.Run(async () =>
        {
            await foreach (var (type, obj) in Client.CustomObjects.WatchListNamespacedCustomObjectAsync(
                ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, resourceVersion: start, cancellationToken: cancel.Token))
            {
                received.Add((type, (JsonElement)obj));
                if (received.Count == 3)
                {
                    break;
                }
            }
        });

        await Client.CustomObjects.CreateNamespacedCustomObjectAsync(ExpertCrd.Expert("coder"), ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural);
        await Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(
            Merge("""{"status":{"phase":"Training"}}"""), ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder");
        await Client.CustomObjects.DeleteNamespacedCustomObjectAsync(ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder");
        await reading;

        Assert.Equal([WatchEventType.Added, WatchEventType.Modified, WatchEventType.Deleted], received.Select(e => e.Type));
        Assert.Equal("Training", received[1].Object.GetProperty("status").GetProperty("phase").GetString());
        Assert.Equal("Expert", received[0].Object.GetProperty("kind").GetString());
    }

    [Fact]
    public async Task Many_watches_see_concurrent_writes_in_resourceVersion_order()
    {
        const int Watches = 8;
        const int Writers = 4;
        const int WritesEach = 20;
        var start = Server.ResourceVersion.ToString();
        var watches = Enumerable.Range(0, Watches).Select(_ => WatchConfigMaps(start)).ToList();

        await Task.WhenAll(Enumerable.Range(0, Writers).Select(async writer =>
        {
            using var client = Server.CreateClient();
            await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap($"w{writer}"), Ns);
            for (var i = 1; i < WritesEach; i++)
            {
                await client.CoreV1.PatchNamespacedConfigMapAsync(Merge($$$"""{"data":{"n":"{{{i}}}"}}"""), $"w{writer}", Ns);
            }
        }));

        foreach (var watch in watches)
        {
            var events = await watch.NextAsync(Writers * WritesEach);
            var versions = events.Select(e => long.Parse(e.Object.Metadata.ResourceVersion)).ToList();
            Assert.Equal(versions.Order(), versions);
            Assert.Equal(Writers * WritesEach, versions.Distinct().Count());
            watch.Dispose();
        }
    }
}
