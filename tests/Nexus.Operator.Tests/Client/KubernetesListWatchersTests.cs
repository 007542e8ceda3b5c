using System.Net;
using System.Net.Http;
using System.Web;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Nexus.Operator.Client;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Client;

public sealed class KubernetesListWatchersTests : IDisposable
{
    private const string WidgetJson = """{"apiVersion":"test.nexus.moe/v1","kind":"Widget","metadata":{"name":"a","namespace":"default","resourceVersion":"11"},"spec":{"size":3}}""";
    private readonly LineStream _stream = new();
    private ScriptedHttpHandler? _handler;
    private Kubernetes? _client;

    public void Dispose()
    {
        _stream.Complete();
        _client?.Dispose();
    }

    private Kubernetes Client(Func<HttpRequestMessage, HttpResponseMessage> respond)
    {
        _handler = new ScriptedHttpHandler(respond);
        _client = new Kubernetes(new KubernetesClientConfiguration { Host = "http://api.test" }, _handler);
        return _client;
    }

    private static async Task<List<WatchEvent<T>>> ReadAllAsync<T>(IAsyncEnumerable<WatchEvent<T>> watch)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var events = new List<WatchEvent<T>>();
        await foreach (var watchEvent in watch.WithCancellation(new CancellationTokenSource(Eventually.DefaultTimeout).Token))
        {
            events.Add(watchEvent);
        }

        return events;
    }

    private static string StatusLine(int code, string reason, string message) =>
        $$$"""{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","code":{{{code}}},"reason":"{{{reason}}}","message":"{{{message}}}"}}""";

    [Fact]
    public async Task CustomResourceList_ReadsTypedItemsTheListVersionAndTheContinueToken()
    {
        var client = Client(_ => ScriptedHttpHandler.Json(
            $$"""{"apiVersion":"test.nexus.moe/v1","kind":"WidgetList","metadata":{"resourceVersion":"10","continue":"next-page"},"items":[{{WidgetJson}}]}"""));
        var widgets = KubernetesListWatchers.For<Widget>(client, "default");

        var page = await widgets.ListAsync("this-page", 2, CancellationToken.None);

        Assert.Equal("Widget", widgets.Kind);
        Assert.Equal(("10", "next-page"), (page.ResourceVersion, page.Continue));
        Assert.Equal(3, Assert.Single(page.Items).Spec.Size);
        var request = Assert.Single(_handler!.Requests);
        Assert.Equal("/apis/test.nexus.moe/v1/namespaces/default/widgets", request.AbsolutePath);
        var query = HttpUtility.ParseQueryString(request.Query);
        Assert.Equal(("2", "this-page"), (query["limit"], query["continue"]));
    }

    [Fact]
    public async Task CustomResourceWatch_AsksForBookmarksFromTheVersion_AndYieldsTypedEvents()
    {
        var client = Client(_ => ScriptedHttpHandler.Stream(_stream));
        var widgets = KubernetesListWatchers.For<Widget>(client, null);
        _stream.WriteLine($$$"""{"type":"ADDED","object":{{{WidgetJson}}}}""");
        _stream.WriteLine($$$"""{"type":"MODIFIED","object":{{{WidgetJson.Replace("\"size\":3", "\"size\":4", StringComparison.Ordinal)}}}}""");
        _stream.WriteLine("""{"type":"BOOKMARK","object":{"apiVersion":"test.nexus.moe/v1","kind":"Widget","metadata":{"resourceVersion":"15"}}}""");
        _stream.WriteLine($$$"""{"type":"DELETED","object":{{{WidgetJson}}}}""");
        _stream.Complete();

        var events = await ReadAllAsync(widgets.WatchAsync("10", CancellationToken.None));

        Assert.Equal([WatchEventKind.Added, WatchEventKind.Modified, WatchEventKind.Bookmark, WatchEventKind.Deleted], events.Select(e => e.Kind));
        Assert.Equal(4, events[1].Object!.Spec.Size);
        Assert.Equal("15", events[2].ResourceVersion);
        var request = Assert.Single(_handler!.Requests);
        Assert.Equal("/apis/test.nexus.moe/v1/widgets", request.AbsolutePath);
        var query = HttpUtility.ParseQueryString(request.Query);
        Assert.Equal(("true", "true", "10"), (query["watch"], query["allowWatchBookmarks"], query["resourceVersion"]));
        Assert.InRange(int.Parse(query["timeoutSeconds"]!), 300, 600);
    }

    [Fact]
    public async Task ExpiredStatusInTheStream_EndsTheWatch_EvenThoughTheServerKeepsItOpen()
    {
        var client = Client(_ => ScriptedHttpHandler.Stream(_stream));
        _stream.WriteLine($$$"""{"type":"ADDED","object":{{{WidgetJson}}}}""");
        _stream.WriteLine(StatusLine(410, "Expired", "too old resource version: 10 (20)"));

        var events = await ReadAllAsync(KubernetesListWatchers.For<Widget>(client, "default").WatchAsync("10", CancellationToken.None));

        Assert.Equal([WatchEventKind.Added, WatchEventKind.Expired], events.Select(e => e.Kind));
        Assert.Equal(410, events[1].Status!.Code);
        await Eventually.WaitUntilAsync(() => _stream.Disposed, "the response stream was released");
    }

    [Fact]
    public async Task OtherStatusInTheStream_EndsTheWatchWithAnError()
    {
        var client = Client(_ => ScriptedHttpHandler.Stream(_stream));
        _stream.WriteLine(StatusLine(500, "InternalError", "etcd leader changed"));

        var events = await ReadAllAsync(KubernetesListWatchers.For<V1Job>(client, "ml").WatchAsync("3", CancellationToken.None));

        var error = Assert.Single(events);
        Assert.Equal(WatchEventKind.Error, error.Kind);
        Assert.Equal(("InternalError", "etcd leader changed"), (error.Status!.Reason, error.Status.Message));
    }

    [Fact]
    public async Task GoneAnswerToTheWatchRequest_IsExpired()
    {
        var client = Client(_ => ScriptedHttpHandler.Json("""{"kind":"Status","apiVersion":"v1","status":"Failure","code":410,"reason":"Expired"}""", HttpStatusCode.Gone));

        var events = await ReadAllAsync(KubernetesListWatchers.For<V1Pod>(client, "ml").WatchAsync("3", CancellationToken.None));

        Assert.Equal(WatchEventKind.Expired, Assert.Single(events).Kind);
    }

    [Fact]
    public async Task ServerErrorAnswerToTheWatchRequest_Throws()
    {
        var client = Client(_ => ScriptedHttpHandler.Json("""{"kind":"Status","code":503}""", HttpStatusCode.ServiceUnavailable));

        var failure = await Assert.ThrowsAsync<HttpOperationException>(() => ReadAllAsync(KubernetesListWatchers.For<V1Service>(client, null).WatchAsync("3", CancellationToken.None)));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, failure.Response.StatusCode);
    }

    [Fact]
    public async Task BuiltInKinds_UseTheirApiPaths_InOneNamespaceOrAll()
    {
        var client = Client(request => ScriptedHttpHandler.Json("""{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":"5"},"items":[]}"""));
        var factory = new KubernetesListWatcherFactory(client, "ml");
        var everywhere = new KubernetesListWatcherFactory(client, null);

        await factory.Create<V1Job>().ListAsync(null, 500, CancellationToken.None);
        await factory.Create<V1Deployment>().ListAsync(null, 500, CancellationToken.None);
        await factory.Create<V1Service>().ListAsync(null, 500, CancellationToken.None);
        await factory.Create<V1Pod>().ListAsync(null, 500, CancellationToken.None);
        var page = await everywhere.Create<V1Job>().ListAsync(null, 500, CancellationToken.None);
        await factory.Create<Widget>().ListAsync(null, 500, CancellationToken.None);

        Assert.Equal(
            ["/apis/batch/v1/namespaces/ml/jobs", "/apis/apps/v1/namespaces/ml/deployments", "/api/v1/namespaces/ml/services",
             "/api/v1/namespaces/ml/pods", "/apis/batch/v1/jobs", "/apis/test.nexus.moe/v1/namespaces/ml/widgets"],
            _handler!.Requests.Select(request => request.AbsolutePath));
        Assert.Equal(("5", null), (page.ResourceVersion, page.Continue));
        Assert.Equal("Job", factory.Create<V1Job>().Kind);
    }
}
