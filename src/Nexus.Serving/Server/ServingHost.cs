using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Nexus.Serving.Engine;
using Prometheus;

namespace Nexus.Serving.Server;

/// <summary>Where a <see cref="ServingHost"/> is in its life, as <c>/readyz</c> reports it.</summary>
public enum ServingState
{
    /// <summary>Kestrel answers; the model is loading and warming up. <c>/readyz</c> 503.</summary>
    Loading,

    /// <summary>The model is warm and completions are taken. <c>/readyz</c> 200.</summary>
    Ready,

    /// <summary>The model failed to load; the host is stopping and exits non-zero. <c>/readyz</c> 503 with the reason.</summary>
    Failed,

    /// <summary>A stop began: no new completions, in-flight ones finish within the grace period. <c>/readyz</c> 503.</summary>
    Stopping,
}

/// <summary>
/// The HTTP server of <c>nexus serve</c>: Kestrel starts at once (so <c>/healthz</c> answers while the model loads),
/// <c>load</c> runs in the background, and <c>/readyz</c> turns 200 only when it has returned a warm engine.
/// </summary>
/// <remarks>
/// Stopping (<see cref="StopAsync"/>, SIGTERM, or <see cref="IHostApplicationLifetime.StopApplication"/>) turns
/// <c>/readyz</c> and new completions to 503 while Kestrel keeps answering, waits up to the grace period for in-flight
/// requests, cancels those still running, stops Kestrel, and only then disposes the engine.
/// </remarks>
public sealed partial class ServingHost : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly ServerOptions options;
    private readonly Func<CancellationToken, Task<ICompletionEngine>> load;
    private readonly ILogger logger;
    private readonly CancellationTokenSource stopping = new();
    private readonly CancellationTokenSource abortInFlight = new();
    private readonly TaskCompletionSource drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock gate = new();
    private ServingState state = ServingState.Loading;
    private int inFlight;
    private ICompletionEngine? engine;
    private Task? loading;
    private Task? stopTask;

    private ServingHost(WebApplication app, ServerOptions options, Func<CancellationToken, Task<ICompletionEngine>> load, ServingMetrics metrics, ILogger logger)
    {
        this.app = app;
        this.options = options;
        this.load = load;
        this.logger = logger;
        Metrics = metrics;
    }

    /// <summary>The address Kestrel listens on, with the port it bound (useful with port 0).</summary>
    public Uri BaseUri { get; private set; } = null!;

    /// <summary>Where the host is in its life.</summary>
    public ServingState State
    {
        get { lock (gate) return state; }
    }

    /// <summary>Why loading failed, when <see cref="State"/> is <see cref="ServingState.Failed"/>.</summary>
    public string? LoadError { get; private set; }

    /// <summary>Completes with the process exit code once the host has stopped: 0, or 1 when the model failed to load.</summary>
    public Task<int> Exited => exited.Task;

    internal ServingMetrics Metrics { get; }

    /// <summary>The ASP.NET Core lifetime; SIGTERM calls its StopApplication.</summary>
    internal IHostApplicationLifetime Lifetime => app.Lifetime;

    internal ServerOptions Options => options;

    internal ICompletionEngine? Engine
    {
        get { lock (gate) return state == ServingState.Ready || state == ServingState.Stopping ? engine : null; }
    }

    internal DateTimeOffset LoadedAt { get; private set; }

    /// <summary>Starts Kestrel and begins loading the model in the background; returns once Kestrel listens.</summary>
    /// <param name="options">Port, limits, timeouts, metrics registry.</param>
    /// <param name="load">Loads and warms the model; the host is ready once it returns. Its token is cancelled when the
    /// host stops first. A throw marks the host failed and stops it with exit code 1.</param>
    /// <param name="loggerFactory">Logging; none when null.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<ServingHost> StartAsync(
        ServerOptions options,
        Func<CancellationToken, Task<ICompletionEngine>> load,
        ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(load);
        options.Validate();
        loggerFactory ??= NullLoggerFactory.Instance;

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.Services.Configure<ConsoleLifetimeOptions>(lifetime => lifetime.SuppressStatusMessages = true);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(options.Address ?? IPAddress.Any, options.Port);
            kestrel.AddServerHeader = false;
            // The handler enforces ServingLimits.MaxBodyBytes itself, answering 413 in the OpenAI shape.
            kestrel.Limits.MaxRequestBodySize = null;
        });
        var app = builder.Build();
        var metrics = new ServingMetrics(options.Registry ?? Prometheus.Metrics.NewCustomRegistry());
        var host = new ServingHost(app, options, load, metrics, loggerFactory.CreateLogger<ServingHost>());
        metrics.Bind(() => host.Engine, () => host.State == ServingState.Ready);
        var handler = new ServingHandler(host, loggerFactory.CreateLogger<ServingHandler>());
        app.Run(handler.HandleAsync);

        await app.StartAsync(cancellationToken);
        host.BaseUri = ListeningAddress(app);
        // SIGTERM and StopApplication reach the same drain as StopAsync.
        app.Lifetime.ApplicationStopping.Register(() => _ = host.StopAsync());
        LogListening(host.logger, host.BaseUri);
        host.loading = host.LoadAsync();
        return host;
    }

    /// <summary>Starts the host and waits until it stops (SIGTERM, <paramref name="cancellationToken"/>, or a failed
    /// load); returns the process exit code.</summary>
    public static async Task<int> RunAsync(
        ServerOptions options,
        Func<CancellationToken, Task<ICompletionEngine>> load,
        ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        await using var host = await StartAsync(options, load, loggerFactory, cancellationToken);
        await using var registration = cancellationToken.Register(() => _ = host.StopAsync());
        return await host.Exited;
    }

    /// <summary>Stops gracefully: readiness and new completions 503, in-flight requests finish within the grace period
    /// (then are cancelled), Kestrel stops, the engine is disposed. Safe to call more than once.</summary>
    public Task StopAsync()
    {
        lock (gate)
            return stopTask ??= StopCoreAsync();
    }

    /// <summary>Stops the host (see <see cref="StopAsync"/>) and releases it.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await app.DisposeAsync();
        stopping.Dispose();
        abortInFlight.Dispose();
    }

    /// <summary>Admits a completions request: false (and nothing counted) unless the host is ready.</summary>
    internal bool TryEnter(out ServingState current)
    {
        lock (gate)
        {
            current = state;
            if (state != ServingState.Ready)
                return false;
            inFlight++;
            return true;
        }
    }

    internal void Exit()
    {
        lock (gate)
        {
            inFlight--;
            if (state == ServingState.Stopping && inFlight == 0)
                drained.TrySetResult();
        }
    }

    /// <summary>Cancelled when the grace period ran out with requests still in flight.</summary>
    internal CancellationToken AbortInFlight => abortInFlight.Token;

    private async Task LoadAsync()
    {
        await Task.Yield();
        try
        {
            var loaded = await load(stopping.Token)
                ?? throw new InvalidOperationException("The model loader returned no engine.");
            var modelId = loaded.ModelId;
            lock (gate)
            {
                if (state == ServingState.Loading)
                {
                    engine = loaded;
                    LoadedAt = DateTimeOffset.UtcNow;
                    state = ServingState.Ready;
                    loaded = null;
                }
            }
            if (loaded is not null)
                await loaded.DisposeAsync(); // stopped while loading
            else
                LogReady(logger, modelId);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            lock (gate)
            {
                if (state != ServingState.Loading)
                    return;
                LoadError = e.Message;
                state = ServingState.Failed;
            }
            LogLoadFailed(logger, e, e.Message);
            _ = StopAsync();
        }
    }

    private async Task StopCoreAsync()
    {
        // Return the task before running: the host's own stop raises ApplicationStopping, which calls StopAsync again.
        await Task.Yield();
        int waiting;
        lock (gate)
        {
            if (state != ServingState.Failed)
                state = ServingState.Stopping;
            waiting = inFlight;
            if (inFlight == 0)
                drained.TrySetResult();
        }
        LogStopping(logger, waiting, options.EffectiveShutdownGracePeriod.TotalSeconds);
        await stopping.CancelAsync();
        try
        {
            // A loader that ignores its token must not hold the stop: one that returns later disposes its own engine.
            if (loading is not null)
                await Task.WhenAny(loading, Task.Delay(options.EffectiveShutdownGracePeriod));
            if (await Task.WhenAny(drained.Task, Task.Delay(options.EffectiveShutdownGracePeriod)) != drained.Task)
            {
                LogGraceExpired(logger);
                await abortInFlight.CancelAsync();
                await Task.WhenAny(drained.Task, Task.Delay(TimeSpan.FromSeconds(5)));
            }
            await app.StopAsync();
        }
        finally
        {
            ICompletionEngine? toDispose;
            lock (gate)
                (toDispose, engine) = (engine, null);
            try
            {
                if (toDispose is not null)
                    await toDispose.DisposeAsync();
            }
            finally
            {
                exited.TrySetResult(LoadError is null ? 0 : 1);
            }
        }
    }

    private static Uri ListeningAddress(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
            ?? throw new InvalidOperationException("Kestrel reported no address.");
        return new Uri(addresses.First().Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Serving on {Address}; loading the model")]
    private static partial void LogListening(ILogger logger, Uri address);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {ModelId} loaded and warm; ready")]
    private static partial void LogReady(ILogger logger, string modelId);

    [LoggerMessage(Level = LogLevel.Error, Message = "The model failed to load, stopping: {Reason}")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping: {InFlight} requests in flight, grace period {GraceSeconds} s")]
    private static partial void LogStopping(ILogger logger, int inFlight, double graceSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grace period over with requests still in flight; cancelling them")]
    private static partial void LogGraceExpired(ILogger logger);
}
