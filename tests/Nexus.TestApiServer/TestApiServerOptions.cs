using Microsoft.Extensions.Logging;
using Nexus.TestApiServer.Resources;

namespace Nexus.TestApiServer;

/// <summary>Settings of a <see cref="TestApiServer"/>; the defaults suit unit tests.</summary>
public sealed record TestApiServerOptions
{
    /// <summary>How often watches that asked for bookmarks get one (the real server sends them about once a minute).</summary>
    public TimeSpan BookmarkInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Events kept per resource (the watch cache's window). A watch or continue token from before the oldest
    /// kept event gets 410 Expired.</summary>
    public int EventHistoryLimit { get; init; } = 10_000;

    /// <summary>Server-side timeout of watches that name no timeoutSeconds; null keeps them open until closed.</summary>
    public TimeSpan? DefaultWatchTimeout { get; init; }

    /// <summary>Clock for creation and deletion timestamps and the simulated controllers' times.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Admission for CRDs that are created through the API or installed without an explicit hook.</summary>
    public AdmissionFactory? Admission { get; init; }

    /// <summary>Whether the garbage collector (and namespace controller) runs on its own; when false, call
    /// <see cref="Controllers.GarbageCollector.SettleAsync"/> to run it.</summary>
    public bool RunGarbageCollector { get; init; } = true;

    /// <summary>Where the server logs requests (Debug) and controller trouble (Warning); none when null.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }
}
