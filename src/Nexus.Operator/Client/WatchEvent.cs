using k8s;
using k8s.Models;

namespace Nexus.Operator.Client;

public enum WatchEventKind
{
    Added,
    Modified,
    Deleted,

    /// <summary>Carries only a newer resourceVersion, so a quiet watch can resume from a recent point.</summary>
    Bookmark,

    /// <summary>The server no longer has the history the watch asked for (410 Gone); the watch has ended and only a
    /// fresh list can resynchronise.</summary>
    Expired,

    /// <summary>The server sent a <c>Status</c> error other than 410; the watch has ended.</summary>
    Error,
}

/// <summary>One event of a watch stream.</summary>
public sealed record WatchEvent<T>(WatchEventKind Kind, T? Object = null, V1Status? Status = null)
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    public string? ResourceVersion => Object?.Metadata?.ResourceVersion;

    public static WatchEvent<T> Added(T resource) => new(WatchEventKind.Added, resource);

    public static WatchEvent<T> Modified(T resource) => new(WatchEventKind.Modified, resource);

    public static WatchEvent<T> Deleted(T resource) => new(WatchEventKind.Deleted, resource);

    public static WatchEvent<T> Bookmark(T marker) => new(WatchEventKind.Bookmark, marker);

    public static WatchEvent<T> Expired(V1Status? status = null) =>
        new(WatchEventKind.Expired, Status: status ?? new V1Status { Code = 410, Reason = "Expired", Status = "Failure" });

    public static WatchEvent<T> Error(V1Status status) => new(WatchEventKind.Error, Status: status);

    public override string ToString() =>
        Object is null ? $"{Kind} {Status?.Code} {Status?.Message}" : $"{Kind} {ResourceKey.Of(Object)}@{ResourceVersion}";
}
