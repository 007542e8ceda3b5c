using k8s;
using k8s.Models;
using Nexus.Operator.Client;

namespace Nexus.Operator.Runtime;

/// <summary>
/// Remembers the resourceVersions that a controller's own writes to its primary kind produced, per key, while that
/// key is being reconciled. After such a write the informer's cache briefly still holds the version the write
/// replaced; the controller uses this to avoid reconciling that stale copy (which would only conflict or redo work)
/// and to wait for the informer's event for the new version instead.
/// </summary>
public sealed class WriteTracker
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ResourceKey, List<string>> _produced = new();
    private readonly Dictionary<ResourceKey, object> _latest = new();

    internal void Begin(ResourceKey key)
    {
        lock (_lock)
        {
            _produced[key] = new List<string>();
            _latest.Remove(key);
        }
    }

    internal void Record(ResourceKey key, IKubernetesObject<V1ObjectMeta> written)
    {
        var producedVersion = written.Metadata?.ResourceVersion;
        if (string.IsNullOrEmpty(producedVersion))
        {
            return;
        }

        lock (_lock)
        {
            if (_produced.TryGetValue(key, out var versions))
            {
                versions.Add(producedVersion);
                _latest[key] = written;
            }
        }
    }

    /// <summary>The object as the latest write since <see cref="Begin"/> returned it (the server's copy after that
    /// write), or null when there was none: what a write later in the same reconcile must start from.</summary>
    internal T? Latest<T>(ResourceKey key) where T : class
    {
        lock (_lock)
        {
            return _latest.GetValueOrDefault(key) as T;
        }
    }

    /// <summary>The versions written since <see cref="Begin"/>, oldest first.</summary>
    internal IReadOnlyList<string> End(ResourceKey key)
    {
        lock (_lock)
        {
            _latest.Remove(key);
            return _produced.Remove(key, out var versions) ? versions : [];
        }
    }
}

/// <summary>Passes patches through and tells the <see cref="WriteTracker"/> which version each produced.</summary>
internal sealed class TrackingPatcher<T>(IResourcePatcher<T> inner, WriteTracker tracker) : IResourcePatcher<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    public async Task<T> PatchAsync(ResourceKey key, V1Patch patch, CancellationToken cancellationToken)
    {
        var written = await inner.PatchAsync(key, patch, cancellationToken).ConfigureAwait(false);
        tracker.Record(key, written);
        return written;
    }

    public async Task<T> PatchStatusAsync(ResourceKey key, V1Patch patch, CancellationToken cancellationToken)
    {
        var written = await inner.PatchStatusAsync(key, patch, cancellationToken).ConfigureAwait(false);
        tracker.Record(key, written);
        return written;
    }
}
