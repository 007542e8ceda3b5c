using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Nexus.Local;

/// <summary>
/// <c>nexus run --port</c>: one fixed address for the served model. Each request is forwarded by YARP's
/// <see cref="IHttpForwarder"/> (bodies streamed both ways, server-sent events flushed as they come) to the endpoint the
/// resolver names at that moment (the serving process changes port when a new revision rolls out), so a client keeps
/// one URL across revisions; 503 with the resolver's reason while nothing is served, 502 naming the process when it
/// does not answer.
/// </summary>
public sealed class LocalServingProxy : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly HttpMessageInvoker invoker;

    private LocalServingProxy(WebApplication app, HttpMessageInvoker invoker)
    {
        this.app = app;
        this.invoker = invoker;
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
        builder.Services.AddHttpForwarder();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, port);
            kestrel.AddServerHeader = false;
        });
        var app = builder.Build();
        var forwarder = app.Services.GetRequiredService<IHttpForwarder>();
        var invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false, AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None, UseCookies = false,
            ConnectTimeout = TimeSpan.FromSeconds(15),
        });
        app.Run(context => ForwardAsync(context, forwarder, invoker, resolve));
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException exception)
        {
            invoker.Dispose();
            await app.DisposeAsync();
            throw new ArgumentException($"--port {port}: cannot listen there ({exception.Message}); give a free port.", exception);
        }

        return new LocalServingProxy(app, invoker);
    }

    public async ValueTask DisposeAsync()
    {
        using (var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            await app.StopAsync(grace.Token);
        }

        await app.DisposeAsync();
        invoker.Dispose();
    }

    private static async Task ForwardAsync(HttpContext context, IHttpForwarder forwarder, HttpMessageInvoker invoker, Func<(Uri? Target, string Reason)> resolve)
    {
        var (target, reason) = resolve();
        if (target is null)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = "5";
            await context.Response.WriteAsync($"nexus run: no model is served here yet: {reason}\n", context.RequestAborted);
            return;
        }

        var error = await forwarder.SendAsync(context, target.AbsoluteUri, invoker);
        if (error != ForwarderError.None && !context.Response.HasStarted)
        {
            // The forwarder has set the status (502, or 504 on a timeout); say which process did not answer.
            var cause = context.GetForwarderErrorFeature()?.Exception?.Message ?? error.ToString();
            await context.Response.WriteAsync($"nexus run: the serving process at {target} did not answer: {cause}\n", context.RequestAborted);
        }
    }
}
