using System.Net;
using System.Text;
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
    public async Task APortInUseIsAnErrorNamingTheFlag()
    {
        await using var first = await LocalServingProxy.StartAsync(0, () => (null, "none"));

        var refused = await Assert.ThrowsAsync<ArgumentException>(() => LocalServingProxy.StartAsync(first.BaseUri.Port, () => (null, "none")));

        Assert.Contains($"--port {first.BaseUri.Port}", refused.Message);
    }
}
