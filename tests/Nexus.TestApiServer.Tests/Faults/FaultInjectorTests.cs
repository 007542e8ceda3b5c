using System.Diagnostics;
using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Nexus.TestApiServer.Tests.Support;

namespace Nexus.TestApiServer.Tests.Faults;

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
}
