using k8s;
using k8s.Models;
using Nexus.Operator.Client;

namespace Nexus.Operator.Caching;

/// <summary>
/// The informer's thread-safe view of one kind, indexed by key and by controlling owner. Objects handed out are the
/// cache's own instances: callers must treat them as read-only (copy before changing, as the status writer does).
/// </summary>
public sealed class ResourceCache<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ResourceKey, T> _items = new();
    private readonly Dictionary<string, HashSet<ResourceKey>> _byControllerUid = new();

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _items.Count;
            }
        }
    }

    public T? Get(ResourceKey key)
    {
        lock (_lock)
        {
            return _items.GetValueOrDefault(key);
        }
    }

    public T? Get(string? @namespace, string name) => Get(new ResourceKey(string.IsNullOrEmpty(@namespace) ? null : @namespace, name));

    public IReadOnlyList<T> List()
    {
        lock (_lock)
        {
            return _items.Values.ToList();
        }
    }

    public IReadOnlyList<T> List(string? @namespace)
    {
        lock (_lock)
        {
            return _items.Values.Where(item => item.Metadata.NamespaceProperty == @namespace).ToList();
        }
    }

    /// <summary>The objects whose controller ownerReference points at the owner's uid: a parent's children.</summary>
    public IReadOnlyList<T> ByOwner(string ownerUid)
    {
        lock (_lock)
        {
            return _byControllerUid.TryGetValue(ownerUid, out var keys) ? keys.Select(key => _items[key]).ToList() : [];
        }
    }

    public IReadOnlyList<T> ByLabel(string key, string value)
    {
        lock (_lock)
        {
            return _items.Values
                .Where(item => item.Metadata.Labels is { } labels && labels.TryGetValue(key, out var found) && found == value)
                .ToList();
        }
    }

    /// <summary>Stores the object; returns the one it replaced.</summary>
    internal T? Upsert(T resource)
    {
        var key = ResourceKey.Of(resource);
        lock (_lock)
        {
            var previous = RemoveLocked(key);
            _items[key] = resource;
            if (ControllerUid(resource) is { } uid)
            {
                if (!_byControllerUid.TryGetValue(uid, out var keys))
                {
                    _byControllerUid[uid] = keys = new HashSet<ResourceKey>();
                }

                keys.Add(key);
            }

            return previous;
        }
    }

    /// <summary>Drops the object; returns it, or null when it was not cached.</summary>
    internal T? Remove(ResourceKey key)
    {
        lock (_lock)
        {
            return RemoveLocked(key);
        }
    }

    private T? RemoveLocked(ResourceKey key)
    {
        if (!_items.Remove(key, out var previous))
        {
            return null;
        }

        if (ControllerUid(previous) is { } uid && _byControllerUid.TryGetValue(uid, out var keys))
        {
            keys.Remove(key);
            if (keys.Count == 0)
            {
                _byControllerUid.Remove(uid);
            }
        }

        return previous;
    }

    private static string? ControllerUid(T resource) =>
        resource.Metadata?.OwnerReferences?.FirstOrDefault(owner => owner.Controller == true)?.Uid;
}
