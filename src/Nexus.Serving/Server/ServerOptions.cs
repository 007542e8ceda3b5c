using System.Net;
using Nexus.Serving.Completions;
using Prometheus;

namespace Nexus.Serving.Server;

/// <summary>How <see cref="ServingHost"/> listens, what it accepts, and how long it waits.</summary>
/// <param name="Port">TCP port to listen on (the operator's Deployment passes <c>--port</c>); 0 picks a free one.</param>
/// <param name="Address">Address to listen on; all interfaces when null (in a pod), loopback in tests.</param>
/// <param name="Limits">What one completions request may ask for; <see cref="ServingLimits.Default"/> when null.</param>
/// <param name="RequestTimeout">Longest one completion may run, from admission to its last token; 5 minutes when null.</param>
/// <param name="ShutdownGracePeriod">How long a stop waits for in-flight requests before cancelling them; 25 seconds
/// when null (inside Kubernetes' default 30-second termination grace period).</param>
/// <param name="Registry">Where the server's metrics live; a registry of its own when null (so that two hosts in one
/// process never share series).</param>
public sealed record ServerOptions(
    int Port = 8080,
    IPAddress? Address = null,
    ServingLimits? Limits = null,
    TimeSpan? RequestTimeout = null,
    TimeSpan? ShutdownGracePeriod = null,
    CollectorRegistry? Registry = null)
{
    /// <summary>The request timeout used when <see cref="RequestTimeout"/> is null.</summary>
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromMinutes(5);

    /// <summary>The grace period used when <see cref="ShutdownGracePeriod"/> is null.</summary>
    public static readonly TimeSpan DefaultShutdownGracePeriod = TimeSpan.FromSeconds(25);

    /// <summary>The limits in force.</summary>
    public ServingLimits EffectiveLimits => Limits ?? ServingLimits.Default;

    /// <summary>The request timeout in force.</summary>
    public TimeSpan EffectiveRequestTimeout => RequestTimeout ?? DefaultRequestTimeout;

    /// <summary>The grace period in force.</summary>
    public TimeSpan EffectiveShutdownGracePeriod => ShutdownGracePeriod ?? DefaultShutdownGracePeriod;

    /// <summary>Throws when an option is out of range, naming it and the fix; run once at startup.</summary>
    public ServerOptions Validate()
    {
        if (Port is < 0 or > 65535)
            throw new ArgumentOutOfRangeException(nameof(Port), Port, $"ServerOptions.Port must be between 0 and 65535; got {Port}. Pass --port with a free TCP port.");
        if (EffectiveRequestTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(RequestTimeout), RequestTimeout, "ServerOptions.RequestTimeout must be positive. Give a timeout such as 300 seconds.");
        if (EffectiveShutdownGracePeriod < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ShutdownGracePeriod), ShutdownGracePeriod, "ServerOptions.ShutdownGracePeriod must not be negative. Give 0 to cancel in-flight requests at once.");
        EffectiveLimits.Validate();
        return this;
    }
}
