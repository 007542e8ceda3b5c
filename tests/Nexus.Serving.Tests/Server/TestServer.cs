using System.Net;
using System.Text;
using System.Text.Json;
using Nexus.Serving.Completions;
using Nexus.Serving.Engine;
using Nexus.Serving.Server;

namespace Nexus.Serving.Tests.Server;

/// <summary>A <see cref="ServingHost"/> on 127.0.0.1, a free port, and a client for it.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(ServingHost host) => (Host, Client) = (host, new HttpClient { BaseAddress = host.BaseUri });

    public ServingHost Host { get; }

    public HttpClient Client { get; }

    /// <summary>Starts a host whose model load returns <paramref name="engine"/>, after <paramref name="loadGate"/> when given.</summary>
    public static async Task<TestServer> StartAsync(ICompletionEngine engine, ServerOptions? options = null, Task? loadGate = null)
    {
        options = (options ?? new ServerOptions()) with { Address = IPAddress.Loopback, Port = 0 };
        var host = await ServingHost.StartAsync(options, async token =>
        {
            if (loadGate is not null)
                await loadGate.WaitAsync(token);
            return engine;
        });
        var server = new TestServer(host);
        if (loadGate is null)
            await Eventually.WaitUntilAsync(() => host.State == ServingState.Ready, "the host is ready");
        return server;
    }

    public Task<HttpResponseMessage> CompleteAsync(string body, CancellationToken cancellationToken = default) =>
        Client.PostAsync("v1/completions", new StringContent(body, Encoding.UTF8, "application/json"), cancellationToken);

    public async Task<HttpStatusCode> StatusAsync(string path)
    {
        using var response = await Client.GetAsync(path);
        return response.StatusCode;
    }

    /// <summary>Asserts an OpenAI error body and returns its inner object.</summary>
    public static async Task<JsonElement> AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string? code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
        Assert.True(error.TryGetProperty("param", out _), "error.param is written, null or not");
        if (code is not null)
            Assert.Equal(code, error.GetProperty("code").GetString());
        return error.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Host.DisposeAsync();
    }
}

internal static class Eventually
{
    public static async Task WaitUntilAsync(Func<bool> condition, string because)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"Timed out waiting until {because}.");
            await Task.Delay(5);
        }
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string because)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"Timed out waiting until {because}.");
            await Task.Delay(10);
        }
    }

    /// <summary>Awaits a task the code under test should complete, failing instead of hanging.</summary>
    public static async Task<T> Within<T>(Task<T> task, string because)
    {
        try
        {
            return await task.WaitAsync(TimeSpan.FromSeconds(20));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"Timed out waiting until {because}.");
            throw;
        }
    }

    public static async Task Within(Task task, string because)
    {
        try
        {
            await task.WaitAsync(TimeSpan.FromSeconds(20));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"Timed out waiting until {because}.");
        }
    }
}
