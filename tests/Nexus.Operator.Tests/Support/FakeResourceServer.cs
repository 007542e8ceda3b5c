using System.Net;
using System.Net.Http;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Nexus.Operator.Client;
using Nexus.Operator.Runtime;

namespace Nexus.Operator.Tests.Support;

/// <summary>
/// An in-memory API server for one kind that speaks <see cref="IListWatcher{T}"/>: numeric resourceVersions, an event
/// history that can be compacted (older watches then get 410), paged lists, and knobs to close, mute or expire the
/// open watches and to fail calls. Objects are copied in and out, as over the wire.
/// </summary>
public sealed class FakeResourceServer<T> : IListWatcher<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<ResourceKey, T> _objects = new(Comparer<ResourceKey>.Create((a, b) => string.CompareOrdinal(a.ToString(), b.ToString())));
    private readonly List<(long Version, WatchEvent<T> Event)> _history = new();
    private readonly List<Session> _sessions = new();
    private readonly Queue<Exception> _listFailures = new();
    private readonly Queue<Exception> _watchFailures = new();
    private readonly TimeProvider _time;
    private long _version;
    private long _compactedThrough;
    private int _expireContinueTokens;
    private int _uid;

    public FakeResourceServer(string kind = "Widget", TimeProvider? time = null)
    {
        Kind = kind;
        _time = time ?? TimeProvider.System;
    }

    public string Kind { get; }

    /// <summary>Every list call: the continue token, the limit and when it was made.</summary>
    public List<(string? Continue, int Limit, DateTimeOffset At)> ListCalls { get; } = new();

    /// <summary>The resourceVersion of every watch call, in order.</summary>
    public List<string> WatchCalls { get; } = new();

    public int OpenWatches
    {
        get
        {
            lock (_lock)
            {
                return _sessions.Count;
            }
        }
    }

    public long CurrentVersion
    {
        get
        {
            lock (_lock)
            {
                return _version;
            }
        }
    }

    public T Create(T resource)
    {
        lock (_lock)
        {
            var stored = ResourceCopy.Deep(resource);
            stored.Metadata.Uid ??= $"uid-{++_uid}";
            stored.Metadata.Generation ??= 1;
            stored.Metadata.ResourceVersion = (++_version).ToString();
            var key = ResourceKey.Of(stored);
            if (!_objects.TryAdd(key, stored))
            {
                throw new InvalidOperationException($"{key} exists");
            }

            PublishLocked(WatchEvent<T>.Added(stored));
            return ResourceCopy.Deep(stored);
        }
    }

    /// <summary>Replaces the object (any resourceVersion); bumps generation when <paramref name="specChanged"/>.</summary>
    public T Update(T resource, bool specChanged = true)
    {
        lock (_lock)
        {
            var key = ResourceKey.Of(resource);
            var existing = _objects[key];
            var stored = ResourceCopy.Deep(resource);
            stored.Metadata.Uid = existing.Metadata.Uid;
            stored.Metadata.Generation = (existing.Metadata.Generation ?? 1) + (specChanged ? 1 : 0);
            stored.Metadata.ResourceVersion = (++_version).ToString();
            _objects[key] = stored;
            PublishLocked(WatchEvent<T>.Modified(stored));
            return ResourceCopy.Deep(stored);
        }
    }

    public T Update(ResourceKey key, Action<T> change, bool specChanged = true)
    {
        var copy = Get(key) ?? throw new InvalidOperationException($"{key} not found");
        change(copy);
        return Update(copy, specChanged);
    }

    public void Delete(ResourceKey key)
    {
        lock (_lock)
        {
            if (!_objects.Remove(key, out var removed))
            {
                throw new InvalidOperationException($"{key} not found");
            }

            removed.Metadata.ResourceVersion = (++_version).ToString();
            PublishLocked(WatchEvent<T>.Deleted(removed));
        }
    }

    public T? Get(ResourceKey key)
    {
        lock (_lock)
        {
            return _objects.TryGetValue(key, out var found) ? ResourceCopy.Deep(found) : null;
        }
    }

    /// <summary>Moves the resourceVersion on (as writes to other kinds do) and sends a bookmark carrying it.</summary>
    public long Bookmark()
    {
        lock (_lock)
        {
            ++_version;
            var marker = Activator.CreateInstance<T>();
            marker.Metadata = new V1ObjectMeta { ResourceVersion = _version.ToString() };
            foreach (var session in _sessions.Where(session => !session.Muted))
            {
                session.Events.Writer.TryWrite(WatchEvent<T>.Bookmark(marker));
            }

            return _version;
        }
    }

    /// <summary>Forgets the history so far: a watch from an older resourceVersion gets 410.</summary>
    public void Compact()
    {
        lock (_lock)
        {
            _compactedThrough = _version;
            _history.Clear();
        }
    }

    /// <summary>Ends every open watch as the server does at its timeout.</summary>
    public void CloseWatches()
    {
        lock (_lock)
        {
            foreach (var session in _sessions)
            {
                session.Events.Writer.TryComplete();
            }
        }
    }

    /// <summary>Sends 410 Expired on every open watch, then ends it.</summary>
    public void ExpireWatches()
    {
        lock (_lock)
        {
            foreach (var session in _sessions)
            {
                session.Events.Writer.TryWrite(WatchEvent<T>.Expired());
                session.Events.Writer.TryComplete();
            }
        }
    }

    /// <summary>Sends a non-410 Status error on every open watch, then ends it.</summary>
    public void FailWatches(int code = 500)
    {
        lock (_lock)
        {
            foreach (var session in _sessions)
            {
                session.Events.Writer.TryWrite(WatchEvent<T>.Error(new V1Status { Code = code, Reason = "InternalError", Message = "boom" }));
                session.Events.Writer.TryComplete();
            }
        }
    }

    /// <summary>Open watches stop receiving anything (a half-open connection); new watches are unaffected.</summary>
    public void MuteWatches()
    {
        lock (_lock)
        {
            foreach (var session in _sessions)
            {
                session.Muted = true;
            }
        }
    }

    public void FailNextLists(int count, HttpStatusCode code = HttpStatusCode.InternalServerError)
    {
        lock (_lock)
        {
            for (var i = 0; i < count; i++)
            {
                _listFailures.Enqueue(HttpError(code));
            }
        }
    }

    public void FailNextWatch(Exception failure)
    {
        lock (_lock)
        {
            _watchFailures.Enqueue(failure);
        }
    }

    /// <summary>The next list page requested with a continue token answers 410, as when the token outlived the history.</summary>
    public void ExpireNextContinueToken()
    {
        lock (_lock)
        {
            _expireContinueTokens++;
        }
    }

    /// <summary>When set, list calls wait for it (a slow API server; caches stay unsynced until it completes).</summary>
    public TaskCompletionSource? ListGate { get; set; }

    public async Task<ResourcePage<T>> ListAsync(string? continueToken, int limit, CancellationToken cancellationToken)
    {
        if (ListGate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }

        lock (_lock)
        {
            ListCalls.Add((continueToken, limit, _time.GetUtcNow()));
            if (_listFailures.TryDequeue(out var failure))
            {
                throw failure;
            }

            if (continueToken is not null && _expireContinueTokens > 0)
            {
                _expireContinueTokens--;
                throw HttpError(HttpStatusCode.Gone);
            }

            // A continue token here is "offset@version": later pages come from the first page's snapshot.
            var offset = 0;
            var version = _version;
            var items = _objects.Values.ToList();
            if (continueToken is not null)
            {
                var parts = continueToken.Split('@');
                offset = int.Parse(parts[0]);
                version = long.Parse(parts[1]);
            }

            var page = items.Skip(offset).Take(limit).Select(ResourceCopy.Deep).ToList();
            var next = offset + page.Count < items.Count ? $"{offset + page.Count}@{version}" : null;
            return new ResourcePage<T>(page, version.ToString(), next);
        }
    }

    public async IAsyncEnumerable<WatchEvent<T>> WatchAsync(string resourceVersion, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Session session;
        lock (_lock)
        {
            WatchCalls.Add(resourceVersion);
            if (_watchFailures.TryDequeue(out var failure))
            {
                throw failure;
            }

            var from = long.Parse(resourceVersion);
            session = new Session();
            if (from < _compactedThrough)
            {
                session.Events.Writer.TryWrite(WatchEvent<T>.Expired());
                session.Events.Writer.TryComplete();
            }
            else
            {
                foreach (var (version, missed) in _history.Where(entry => entry.Version > from))
                {
                    session.Events.Writer.TryWrite(missed);
                }

                _sessions.Add(session);
            }
        }

        try
        {
            await foreach (var watchEvent in session.Events.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return watchEvent;
            }
        }
        finally
        {
            lock (_lock)
            {
                _sessions.Remove(session);
            }
        }
    }

    private void PublishLocked(WatchEvent<T> change)
    {
        var copy = change with { Object = ResourceCopy.Deep(change.Object!) };
        _history.Add((_version, copy));
        foreach (var session in _sessions.Where(session => !session.Muted))
        {
            session.Events.Writer.TryWrite(copy with { Object = ResourceCopy.Deep(copy.Object!) });
        }
    }

    public static HttpOperationException HttpError(HttpStatusCode code) => new($"HTTP {(int)code}")
    {
        Response = new HttpResponseMessageWrapper(new HttpResponseMessage(code), ""),
    };

    private sealed class Session
    {
        public Channel<WatchEvent<T>> Events { get; } = Channel.CreateUnbounded<WatchEvent<T>>();

        public bool Muted { get; set; }
    }
}

/// <summary>Hands each kind its own <see cref="FakeResourceServer{T}"/>.</summary>
public sealed class FakeListWatcherFactory(TimeProvider? time = null) : IListWatcherFactory
{
    private readonly Dictionary<Type, object> _servers = new();

    public FakeResourceServer<T> Server<T>()
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        lock (_servers)
        {
            if (!_servers.TryGetValue(typeof(T), out var server))
            {
                _servers[typeof(T)] = server = new FakeResourceServer<T>(typeof(T).Name, time);
            }

            return (FakeResourceServer<T>)server;
        }
    }

    public IListWatcher<T> Create<T>()
        where T : class, IKubernetesObject<V1ObjectMeta> => Server<T>();
}
