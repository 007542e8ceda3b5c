using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Nexus.ApiServer.Tests.Support;

namespace Nexus.ApiServer.Tests.Watch;

/// <summary>The watch stream on the wire: newline-delimited JSON, one flushed line per event.</summary>
public sealed class WatchWireTests : ServerTest
{
    private async Task<(HttpClient Http, StreamReader Lines)> OpenAsync(string query)
    {
        var http = new HttpClient { BaseAddress = Server.BaseUri, Timeout = TimeSpan.FromSeconds(10) };
        var response = await http.GetAsync($"api/v1/namespaces/{Ns}/configmaps?{query}", HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        return (http, new StreamReader(await response.Content.ReadAsStreamAsync()));
    }

    private static async Task<JsonObject> NextLineAsync(StreamReader lines)
    {
        var line = await lines.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(5));
        return (JsonObject)JsonNode.Parse(line ?? throw new EndOfStreamException())!;
    }

    [Fact]
    public async Task Watch_1_streams_each_event_as_soon_as_it_happens()
    {
        var (http, lines) = await OpenAsync($"watch=1&resourceVersion={Server.ResourceVersion}");
        using (http)
        using (lines)
        {
            await CreateConfigMapAsync("a");
            var first = await NextLineAsync(lines);
            await CreateConfigMapAsync("b");
            var second = await NextLineAsync(lines);

            Assert.Equal("ADDED", first.Get("type"));
            Assert.Equal("a", first.Get("object.metadata.name"));
            Assert.Equal("ConfigMap", first.Get("object.kind"));
            Assert.Equal("b", second.Get("object.metadata.name"));
        }
    }

    [Fact]
    public async Task SendInitialEvents_ends_the_initial_state_with_an_annotated_bookmark()
    {
        await CreateConfigMapAsync("a");
        await CreateConfigMapAsync("b");
        var revision = Server.ResourceVersion;

        var (http, lines) = await OpenAsync("watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&resourceVersion=");
        using (http)
        using (lines)
        {
            var events = new[] { await NextLineAsync(lines), await NextLineAsync(lines), await NextLineAsync(lines) };

            Assert.Equal(["ADDED", "ADDED", "BOOKMARK"], events.Select(e => e.Get("type")));
            Assert.Equal("true", events[2]["object"]?["metadata"]?["annotations"]?["k8s.io/initial-events-end"]?.GetValue<string>());
            Assert.Equal(revision.ToString(), events[2].Get("object.metadata.resourceVersion"));
        }
    }

    [Fact]
    public async Task The_list_call_with_watch_true_and_Watch_extension_works()
    {
        Server.InstallCrd(ExpertCrd.Yaml);
        using var watch = new WatchRecorder<object>();
#pragma warning disable CS0618 // The older watch entry point is still what many callers use; pin that it works here.
        watch.Watcher = Client.CustomObjects
            .ListNamespacedCustomObjectWithHttpMessagesAsync(ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, watch: true, resourceVersion: Server.ResourceVersion.ToString())
            .Watch<object, object>(watch.OnEvent, watch.OnError, watch.OnClosed);
#pragma warning restore CS0618

        await Client.CustomObjects.CreateNamespacedCustomObjectAsync(ExpertCrd.Expert("coder"), ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural);
        var added = await watch.NextAsync();

        Assert.Equal(WatchEventType.Added, added.Type);
        Assert.Equal("coder", CustomObjects.AsJson(added.Object).Get("metadata.name"));
    }

    [Fact]
    public async Task WaitForObjectAsync_waits_for_a_condition_and_times_out_otherwise()
    {
        await CreateConfigMapAsync("cfg");
        var waiting = Server.WaitForObjectAsync("v1", "configmaps", Ns, "cfg", o => o.Get("data.key") == "ready");

        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"key":"ready"}}""", V1Patch.PatchType.MergePatch), "cfg", Ns);
        var ready = await waiting;

        Assert.Equal("ready", ready.Get("data.key"));
        await Assert.ThrowsAsync<TimeoutException>(() => Server.WaitForAsync(() => false, TimeSpan.FromMilliseconds(50)));
    }
}
