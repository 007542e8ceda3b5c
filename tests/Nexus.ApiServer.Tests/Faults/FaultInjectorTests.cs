using System.Diagnostics;
using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Nexus.ApiServer.Tests.Support;

namespace Nexus.ApiServer.Tests.Faults;

public sealed class FaultInjectorTests : ServerTest
{
    [Fact]
    public async Task FailNext_answers_matching_requests_with_the_code_then_stops()
    {
        await CreateConfigMapAsync("cfg");
        Server.Faults.FailNext("GET", $"/api/v1/namespaces/{Ns}/configmaps", 500, count: 2);

        var first = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.ReadNamespacedConfigMapAsync("cfg", Ns));
        var second = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.ListNamespacedConfigMapAsync(Ns));
        var third = await Client.CoreV1.ReadNamespacedConfigMapAsync("cfg", Ns);

        Assert.Equal(HttpStatusCode.InternalServerError, first.Response.StatusCode);
        Assert.Equal("InternalError", KubernetesJson.Deserialize<V1Status>(first.Response.Content).Reason);
        Assert.Equal(HttpStatusCode.InternalServerError, second.Response.StatusCode);
        Assert.Equal("cfg", third.Metadata.Name);
        Assert.Equal(2, Server.Requests.Count(r => r.Injected));
    }

    [Fact]
    public async Task A_429_carries_Retry_After()
    {
        Server.Faults.FailNext(null, "/apis/batch", 429, retryAfter: TimeSpan.FromSeconds(2));

        var error = await Assert.ThrowsAsync<HttpOperationException>(() => Client.BatchV1.ListNamespacedJobAsync(Ns));

        Assert.Equal(HttpStatusCode.TooManyRequests, error.Response.StatusCode);
        Assert.Equal("2", error.Response.Headers["Retry-After"].Single());
        Assert.Equal("TooManyRequests", KubernetesJson.Deserialize<V1Status>(error.Response.Content).Reason);
    }

    [Fact]
    public async Task Other_methods_and_paths_are_not_affected()
    {
        Server.Faults.FailNext("POST", "/apis/apps", 503);

        var created = await CreateConfigMapAsync("cfg");
        var listed = await Client.AppsV1.ListNamespacedDeploymentAsync(Ns);

        Assert.Equal("cfg", created.Metadata.Name);
        Assert.Empty(listed.Items);
    }

    [Fact]
    public async Task Delay_holds_matching_requests()
    {
        Server.Faults.Delay(TimeSpan.FromMilliseconds(300), "GET", $"/api/v1/namespaces/{Ns}/configmaps", count: 1);
        var clock = Stopwatch.StartNew();

        await Client.CoreV1.ListNamespacedConfigMapAsync(Ns);
        var delayed = clock.Elapsed;
        clock.Restart();
        await Client.CoreV1.ListNamespacedConfigMapAsync(Ns);

        Assert.True(delayed >= TimeSpan.FromMilliseconds(290), $"took {delayed}");
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(290), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task A_failed_watch_request_reaches_the_error_callback_and_closes()
    {
        Server.Faults.FailNext("GET", $"/api/v1/namespaces/{Ns}/configmaps", 500);
        using var watch = new WatchRecorder<V1ConfigMap>();

        watch.Watcher = Client.CoreV1.WatchListNamespacedConfigMap(Ns, onEvent: watch.OnEvent, onError: watch.OnError, onClosed: watch.OnClosed);
        await watch.Closed;

        var error = Assert.IsType<HttpOperationException>(Assert.Single(watch.Errors));
        Assert.Equal(HttpStatusCode.InternalServerError, error.Response.StatusCode);
    }

    [Fact]
    public async Task CloseWatches_ends_streams_cleanly()
    {
        using var watch = new WatchRecorder<V1ConfigMap>();
        watch.Watcher = Client.CoreV1.WatchListNamespacedConfigMap(
            Ns, resourceVersion: Server.ResourceVersion.ToString(), onEvent: watch.OnEvent, onError: watch.OnError, onClosed: watch.OnClosed);
        await CreateConfigMapAsync("cfg");
        await watch.NextAsync();

        Server.Faults.CloseWatches();
        await watch.Closed;

        Assert.Empty(watch.Errors);
    }

    [Fact]
    public async Task CompactTo_expires_exactly_the_older_resource_versions()
    {
        var a = long.Parse((await CreateConfigMapAsync("a")).Metadata.ResourceVersion);
        var b = long.Parse((await CreateConfigMapAsync("b")).Metadata.ResourceVersion);
        await CreateConfigMapAsync("c");
        Server.Faults.CompactTo(b);

        var (code, _) = await RefusedAsync(() => Client.CoreV1.ListNamespacedConfigMapAsync(Ns, resourceVersion: a.ToString(), resourceVersionMatch: "Exact"));
        var atB = await Client.CoreV1.ListNamespacedConfigMapAsync(Ns, resourceVersion: b.ToString(), resourceVersionMatch: "Exact");

        Assert.Equal(HttpStatusCode.Gone, code);
        Assert.Equal(["a", "b"], atB.Items.Select(i => i.Metadata.Name));
    }

    [Fact]
    public async Task FreezeAfterWrites_lets_the_Nth_write_land_then_refuses_every_request_of_that_client()
    {
        using var crashing = Server.CreateClient("operator/incarnation-1");
        var freeze = Server.Faults.FreezeAfterWrites("operator/incarnation-1", writes: 2);
        var mark = Server.Requests.Mark();

        await crashing.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), Ns);
        await crashing.CoreV1.ReadNamespacedConfigMapAsync("a", Ns);
        Assert.False(freeze.IsFrozen);
        await crashing.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("b"), Ns);
        Assert.True(freeze.IsFrozen);
        var (createCode, status) = await RefusedAsync(() => crashing.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("c"), Ns));
        var (readCode, _) = await RefusedAsync(() => crashing.CoreV1.ReadNamespacedConfigMapAsync("a", Ns));
        var (listCode, _) = await RefusedAsync(() => crashing.CoreV1.ListNamespacedConfigMapAsync(Ns));
        var other = await Client.CoreV1.ListNamespacedConfigMapAsync(Ns);

        Assert.Equal([HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable], [createCode, readCode, listCode]);
        Assert.Equal("ServiceUnavailable", status.Reason);
        Assert.Contains("operator/incarnation-1", status.Message);
        Assert.Equal(["a", "b"], other.Items.Select(i => i.Metadata.Name));
        Assert.True(freeze.WhenFrozen.IsCompletedSuccessfully);
        Assert.Equal((2, 3), (freeze.Writes, freeze.Refused));
        var records = Server.Requests.Since(mark).Where(r => r.UserAgent == "operator/incarnation-1").ToList();
        Assert.Equal(
            [("create", 201, false), ("get", 200, false), ("create", 201, false), ("create", 503, true), ("get", 503, true), ("list", 503, true)],
            records.Select(r => (r.Verb, r.StatusCode, r.Injected)));
    }

    [Fact]
    public async Task A_refused_write_does_not_count_towards_the_freeze()
    {
        await CreateConfigMapAsync("a");
        using var crashing = Server.CreateClient("operator/incarnation-1");
        var freeze = Server.Faults.FreezeAfterWrites("operator/incarnation-1", writes: 1);

        var (code, _) = await RefusedAsync(() => crashing.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), Ns));
        await crashing.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("b"), Ns, dryRun: "All");
        Assert.False(freeze.IsFrozen);
        await crashing.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"k":"v"}}""", V1Patch.PatchType.MergePatch), "a", Ns);

        Assert.Equal(HttpStatusCode.Conflict, code);
        Assert.True(freeze.IsFrozen);
        Assert.Equal(1, freeze.Writes);
        Assert.Null(Server.Get("v1", "configmaps", Ns, "b"));
    }

    [Fact]
    public async Task Concurrent_writes_of_a_frozen_client_land_no_more_than_allowed()
    {
        using var crashing = Server.CreateClient("operator/incarnation-1");
        var freeze = Server.Faults.FreezeAfterWrites("operator/incarnation-1", writes: 3);

        var attempts = await Task.WhenAll(Enumerable.Range(0, 24).Select(async i =>
        {
            try
            {
                await crashing.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap($"c{i}"), Ns);
                return true;
            }
            catch (HttpOperationException refused) when (refused.Response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                return false;
            }
        }));

        Assert.Equal(3, attempts.Count(landed => landed));
        Assert.Equal(3, Server.List("v1", "configmaps", Ns).Count);
        Assert.Equal((3, 21), (freeze.Writes, freeze.Refused));
    }

    [Fact]
    public async Task A_frozen_client_is_served_again_once_thawed_and_other_clients_never_notice()
    {
        using var crashing = Server.CreateClient("operator/incarnation-1");
        Server.Faults.FreezeAfterWrites("operator/incarnation-1", writes: 1);
        await crashing.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), Ns);
        await RefusedAsync(() => crashing.CoreV1.ReadNamespacedConfigMapAsync("a", Ns));
        await CreateConfigMapAsync("b");

        Server.Faults.Thaw("operator/incarnation-1");
        var read = await crashing.CoreV1.ReadNamespacedConfigMapAsync("a", Ns);

        Assert.Equal("a", read.Metadata.Name);
        Assert.NotNull(Server.Get("v1", "configmaps", Ns, "b"));
    }
}
