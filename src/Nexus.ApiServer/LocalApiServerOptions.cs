using Microsoft.Extensions.Logging;
using Nexus.ApiServer.Resources;

namespace Nexus.ApiServer;

/// <summary>Settings of a <see cref="LocalApiServer"/>; the defaults suit unit tests.</summary>
public sealed record LocalApiServerOptions
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

    /// <summary>Admission for CRDs that are created through the API or installed without an explicit hook; by default
    /// their schema, as a real API server admits them (<see cref="SchemaAdmission"/>); null admits anything.</summary>
    public AdmissionFactory? Admission { get; init; } = SchemaAdmission.Factory;

    /// <summary>Whether the garbage collector (and namespace controller) runs on its own; when false, call
    /// <see cref="Controllers.GarbageCollector.SettleAsync"/> to run it.</summary>
    public bool RunGarbageCollector { get; init; } = true;

    /// <summary>A file the objects are saved to (atomically, <see cref="StateSaveDelay"/> after a change, and when the
    /// server is disposed) and loaded from at start, so a server started again on it resumes; null keeps everything in
    /// memory only. CRDs come back served with <see cref="Admission"/> (an explicit <c>InstallCrd</c> hook is not saved).</summary>
    public string? StatePath { get; init; }

    /// <summary>How long after a change the state file is written: changes within it make one save.</summary>
    public TimeSpan StateSaveDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Where the server logs requests (Debug) and controller trouble (Warning); none when null.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }
}
