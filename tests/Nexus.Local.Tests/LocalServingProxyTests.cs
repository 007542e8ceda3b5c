using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Nexus.ApiServer;

namespace Nexus.Local.Tests;

/// <summary>The proxy behind <c>nexus run --port</c>, forwarding to an in-process API server as the upstream.</summary>
public sealed class LocalServingProxyTests : IAsyncLifetime
{
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private LocalApiServer upstream = null!;
    private Uri? target;

    public async Task InitializeAsync() => upstream = await LocalApiServer.StartAsync();

    public async Task DisposeAsync()
    {
        http.Dispose();
        await upstream.DisposeAsync();
    }

    [Fact]
    public async Task ForwardsMethodPathQueryAndBody_ToTheTargetOfTheMoment_And503sWithTheReasonWhenThereIsNone()
    {
        await using var proxy = await LocalServingProxy.StartAsync(0, () => target is null ? (null, "the model is still training.") : (target, ""));

        var none = await http.GetAsync(new Uri(proxy.BaseUri, "v1/models"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, none.StatusCode);
        Assert.Contains("the model is still training.", await none.Content.ReadAsStringAsync());

        target = upstream.BaseUri;
        var created = await http.PostAsync(new Uri(proxy.BaseUri, "api/v1/namespaces/default/configmaps?fieldManager=proxy-test"),
            new StringContent("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"through-proxy"},"data":{"k":"v"}}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("v", upstream.Get("v1", "configmaps", "default", "through-proxy")?["data"]?["k"]?.GetValue<string>());
        var read = await http.GetAsync(new Uri(proxy.BaseUri, "api/v1/namespaces/default/configmaps/through-proxy"));
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal("application/json", read.Content.Headers.ContentType?.MediaType);
        Assert.Contains("through-proxy", await read.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AStreamedResponseArrivesChunkByChunk_NotWhenTheUpstreamFinishes()
    {
        var secondChunk = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var events = await StartUpstreamAsync(async context =>
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync("data: first\n\n");
            await context.Response.Body.FlushAsync();
            await secondChunk.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await context.Response.WriteAsync("data: [DONE]\n\n");
        });
        var upstreamUri = new Uri(events.Urls.First());
        await using var proxy = await LocalServingProxy.StartAsync(0, () => (upstreamUri, ""));

        using var response = await http.GetAsync(new Uri(proxy.BaseUri, "v1/completions"), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal("data: first", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10))); // before the upstream ends
        secondChunk.SetResult();
        Assert.Equal("", await reader.ReadLineAsync());
        Assert.Equal("data: [DONE]", await reader.ReadLineAsync());
    }

    [Fact]
    public async Task ATargetThatDoesNotAnswerIs502NamingIt()
    {
        var closed = new Uri($"http://127.0.0.1:{ClosedPort()}/");
        await using var proxy = await LocalServingProxy.StartAsync(0, () => (closed, ""));

        var response = await http.GetAsync(new Uri(proxy.BaseUri, "v1/models"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains($"the serving process at {closed} did not answer", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task APortInUseIsAnErrorNamingTheFlag()
    {
        await using var first = await LocalServingProxy.StartAsync(0, () => (null, "none"));

        var refused = await Assert.ThrowsAsync<ArgumentException>(() => LocalServingProxy.StartAsync(first.BaseUri.Port, () => (null, "none")));

        Assert.Contains($"--port {first.BaseUri.Port}", refused.Message);
    }

    private static async Task<WebApplication> StartUpstreamAsync(RequestDelegate handle)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Run(handle);
        await app.StartAsync();
        return app;
    }

    /// <summary>A loopback port nothing listens on (taken, then released).</summary>
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
