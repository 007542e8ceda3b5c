using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Nexus.Local;

/// <summary>
/// <c>nexus run --port</c>: one fixed address for the served model. Each request is forwarded, streamed both ways, to
/// the endpoint the resolver names at that moment (the serving process changes port when a new revision rolls out), so
/// a client keeps one URL across revisions; 503 with the resolver's reason while nothing is served.
/// </summary>
public sealed class LocalServingProxy : IAsyncDisposable
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "TE", "Trailer", "Host",
    };

    private readonly WebApplication app;
    private readonly HttpClient http;

    private LocalServingProxy(WebApplication app, HttpClient http)
    {
        this.app = app;
        this.http = http;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUri = new Uri(address.TrimEnd('/') + "/");
    }

    /// <summary>Where the proxy listens, e.g. <c>http://127.0.0.1:8080/</c>.</summary>
    public Uri BaseUri { get; }

    /// <summary>Listens on 127.0.0.1:<paramref name="port"/> (0: a free port). <paramref name="resolve"/> gives the
    /// endpoint to forward to, or null and the reason nothing is served.</summary>
    public static async Task<LocalServingProxy> StartAsync(int port, Func<(Uri? Target, string Reason)> resolve, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, port);
            kestrel.AddServerHeader = false;
        });
        var app = builder.Build();
        var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { Timeout = Timeout.InfiniteTimeSpan };
        app.Run(context => ForwardAsync(context, http, resolve));
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException exception)
        {
            http.Dispose();
            await app.DisposeAsync();
            throw new ArgumentException($"--port {port}: cannot listen there ({exception.Message}); give a free port.", exception);
        }

        return new LocalServingProxy(app, http);
    }

    public async ValueTask DisposeAsync()
    {
        using (var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            await app.StopAsync(grace.Token);
        }

        await app.DisposeAsync();
        http.Dispose();
    }

    private static async Task ForwardAsync(HttpContext context, HttpClient http, Func<(Uri? Target, string Reason)> resolve)
    {
        var (target, reason) = resolve();
        if (target is null)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = "5";
            await context.Response.WriteAsync($"nexus run: no model is served here yet: {reason}\n", context.RequestAborted);
            return;
        }

        var incoming = context.Request;
        using var request = new HttpRequestMessage(new HttpMethod(incoming.Method), new Uri(target, incoming.Path.Value?.TrimStart('/') + incoming.QueryString));
        if (incoming.ContentLength > 0 || incoming.Headers.TransferEncoding.Count > 0)
        {
            request.Content = new StreamContent(incoming.Body);
        }

        foreach (var (name, values) in incoming.Headers)
        {
            if (HopByHop.Contains(name))
            {
                continue;
            }

            if (!request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
            {
                request.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        }
        catch (HttpRequestException exception)
        {
            context.Response.StatusCode = StatusCodes.Status502BadGateway;
            await context.Response.WriteAsync($"nexus run: the serving process at {target} did not answer: {exception.Message}\n", context.RequestAborted);
            return;
        }

        using (response)
        {
            context.Response.StatusCode = (int)response.StatusCode;
            foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            {
                if (!HopByHop.Contains(name))
                {
                    context.Response.Headers[name] = values.ToArray();
                }
            }

            await using var body = await response.Content.ReadAsStreamAsync(context.RequestAborted);
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                // Flushed as it comes: completions stream (server-sent events).
                await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        }
    }
}
