using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace Nexus.Operator.Hosting;

/// <summary>One Kestrel port: <c>/healthz</c> (liveness: no informer is wedged), <c>/readyz</c> (readiness: caches
/// synced; a standby that is not leading is ready too, so a rollout can proceed) and <c>/metrics</c>.</summary>
internal sealed class HealthServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HealthServer(WebApplication app)
    {
        _app = app;
    }

    /// <summary>The port actually bound (the requested one, or the one the OS chose for port 0).</summary>
    public int Port { get; private set; }

    public static async Task<HealthServer> StartAsync(OperatorHost host, int port, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        // The operator logs what matters itself; Kestrel's request and lifetime logs would only add noise.
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.ListenAnyIP(port));
        var app = builder.Build();

        app.MapGet("/healthz", () =>
        {
            var wedged = host.Informers.Informers.Where(informer => !informer.IsAlive()).Select(informer => informer.Kind).ToList();
            return wedged.Count == 0
                ? Results.Text("ok\n")
                : Results.Text($"informers not making progress: {string.Join(", ", wedged)}\n", statusCode: StatusCodes.Status500InternalServerError);
        });
        app.MapGet("/readyz", () =>
        {
            var unsynced = host.Informers.Informers.Where(informer => !informer.HasSynced).Select(informer => informer.Kind).ToList();
            return unsynced.Count == 0
                ? Results.Text(host.IsLeader ? "ok (leader)\n" : "ok (standby)\n")
                : Results.Text($"caches not synced: {string.Join(", ", unsynced)}\n", statusCode: StatusCodes.Status503ServiceUnavailable);
        });
        app.MapMetrics("/metrics", host.Metrics.Registry);

        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var server = new HealthServer(app) { Port = new Uri(app.Urls.First().Replace("[::]", "localhost", StringComparison.Ordinal)).Port };
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
