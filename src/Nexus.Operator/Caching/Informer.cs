using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Nexus.Operator.Client;
using Nexus.Operator.Metrics;

namespace Nexus.Operator.Caching;

public sealed record InformerOptions
{
    /// <summary>Items per list page (the list's <c>limit</c>); large namespaces are listed in pages.</summary>
    public int PageSize { get; init; } = 500;

    /// <summary>Every cached object is handed to the handlers again this often (0 disables), so controllers
    /// re-check the world even when nothing changed.</summary>
    public TimeSpan ResyncPeriod { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How often the API server sends bookmarks on a quiet watch (about once a minute).</summary>
    public TimeSpan BookmarkInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>A watch with no event, bookmarks included, for this many bookmark intervals is presumed dead (a
    /// half-open connection) and reconnected.</summary>
    public int SilentBookmarkIntervals { get; init; } = 3;

    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Each backoff delay is stretched by up to this fraction.</summary>
    public double BackoffJitter { get; init; } = 0.5;

    /// <summary>A watch that ends with no events counts as healthy (and is re-opened at once) only if it stayed open
    /// this long; a shorter one waits out the backoff first.</summary>
    public TimeSpan MinHealthyWatchDuration { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan SilentWatchTimeout => BookmarkInterval * SilentBookmarkIntervals;

    public void Validate()
    {
        if (PageSize < 1 || ResyncPeriod < TimeSpan.Zero || BookmarkInterval <= TimeSpan.Zero || SilentBookmarkIntervals < 1)
        {
            throw new ArgumentException("Informer options need PageSize >= 1, ResyncPeriod >= 0, BookmarkInterval > 0 and SilentBookmarkIntervals >= 1.");
        }
    }
}

public enum ResourceEventType
{
    Added,
    Updated,
    Deleted,

    /// <summary>The periodic re-delivery of an unchanged cached object.</summary>
    Resync,
}

/// <summary>A change the informer observed. <see cref="Previous"/> is the cached object an update replaced.</summary>
public sealed record ResourceEvent<T>(ResourceEventType Type, T Object, T? Previous = null)
    where T : class, IKubernetesObject<V1ObjectMeta>;

/// <summary>What the host needs from an informer of any kind.</summary>
public interface IInformer
{
    string Kind { get; }

    bool HasSynced { get; }

    Task WaitForSyncAsync(CancellationToken cancellationToken);

    Task RunAsync(CancellationToken cancellationToken);

    /// <summary>False when the informer has shown no sign of life for longer than its own timeouts allow, which
    /// means its loop is stuck (a deadlocked handler, say) rather than merely waiting for the API server.</summary>
    bool IsAlive();
}

/// <summary>
/// Keeps a cache of one kind in step with the API server, the way client-go's reflector does: list in pages, watch
/// from the list's resourceVersion with bookmarks, remember the resourceVersion of every event (bookmarks included)
/// and re-watch from it when a watch closes; relist when it expired (410) and diff the new list against the cache, so
/// handlers see exactly the adds, updates and deletes they missed and nothing twice.
/// </summary>
public sealed class Informer<T> : IInformer
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly IListWatcher<T> _source;
    private readonly InformerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Prometheus.Counter.Child _relists;
    private readonly OperatorMetrics _metrics;
    private readonly Backoff _backoff;

    // Cache changes and handler calls happen under this lock, so handlers see events in the order the cache took them
    // and a resync never interleaves with a watch event.
    private readonly Lock _dispatchLock = new();
    private readonly List<Action<ResourceEvent<T>>> _handlers = new();
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string _resourceVersion = "";
    private long _lastHeartbeat;
    private int _running;

    public Informer(
        IListWatcher<T> source,
        InformerOptions? options = null,
        OperatorMetrics? metrics = null,
        ILogger? logger = null,
        TimeProvider? time = null,
        Func<double>? random = null)
    {
        _source = source;
        _options = options ?? new InformerOptions();
        _options.Validate();
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _metrics = metrics ?? new OperatorMetrics();
        _relists = _metrics.InformerRelists.WithLabels(source.Kind);
        _backoff = new Backoff(_options.InitialBackoff, _options.MaxBackoff, _options.BackoffJitter, random);
        _lastHeartbeat = _time.GetTimestamp();
    }

    public string Kind => _source.Kind;

    public ResourceCache<T> Cache { get; } = new();

    public bool HasSynced => _synced.Task.IsCompleted;

    /// <summary>The resourceVersion the next watch starts from.</summary>
    public string ResourceVersion
    {
        get
        {
            lock (_dispatchLock)
            {
                return _resourceVersion;
            }
        }
    }

    public Task WaitForSyncAsync(CancellationToken cancellationToken) => _synced.Task.WaitAsync(cancellationToken);

    /// <summary>Registers a handler. It runs on the informer's loop and must be quick (enqueue a key, no I/O). One
    /// registered after the first list is handed the cached objects as adds first.</summary>
    public void AddHandler(Action<ResourceEvent<T>> handler)
    {
        lock (_dispatchLock)
        {
            _handlers.Add(handler);
            foreach (var resource in Cache.List())
            {
                Invoke(handler, new ResourceEvent<T>(ResourceEventType.Added, resource));
            }
        }
    }

    public bool IsAlive()
    {
        var allowedSilence = 2 * (_options.SilentWatchTimeout + _options.MaxBackoff);
        return _time.GetElapsedTime(Interlocked.Read(ref _lastHeartbeat)) <= allowedSilence;
    }

    /// <summary>Lists, watches and resyncs until cancelled. Never throws for API errors: it logs, backs off and
    /// tries again.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _running, 1) == 1)
        {
            throw new InvalidOperationException($"The {Kind} informer is already running.");
        }

        await Task.WhenAll(ListAndWatchLoopAsync(cancellationToken), ResyncLoopAsync(cancellationToken)).ConfigureAwait(false);
    }

    private async Task ListAndWatchLoopAsync(CancellationToken cancellationToken)
    {
        var needsList = true;
        while (!cancellationToken.IsCancellationRequested)
        {
            Heartbeat();
            var healthy = false;
            try
            {
                if (needsList)
                {
                    await ListAndSyncAsync(cancellationToken).ConfigureAwait(false);
                    needsList = false;
                }

                var (end, progressed) = await WatchAsync(cancellationToken).ConfigureAwait(false);
                healthy = progressed;
                _metrics.WatchRestarts.WithLabels(Kind, end).Inc();
                if (end == WatchEnd.Expired)
                {
                    needsList = true;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception failure)
            {
                _metrics.WatchRestarts.WithLabels(Kind, WatchEnd.Error).Inc();
                _logger.LogWarning(failure, "{Kind} informer: {Phase} failed; retrying with backoff", Kind, needsList ? "list" : "watch");
            }

            if (healthy)
            {
                _backoff.Reset();
                continue;
            }

            var delay = _backoff.Next();
            _logger.LogDebug("{Kind} informer: waiting {DelayMs} ms before the next {Phase}", Kind, (int)delay.TotalMilliseconds, needsList ? "list" : "watch");
            try
            {
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task ListAndSyncAsync(CancellationToken cancellationToken)
    {
        var items = new List<T>();
        string? continueToken = null;
        string listVersion;
        var restarted = false;
        while (true)
        {
            ResourcePage<T> page;
            try
            {
                page = await _source.ListAsync(continueToken, _options.PageSize, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception expired) when (continueToken is not null && !restarted && ApiErrors.IsGone(expired))
            {
                // The continue token outlived the server's history; the pages so far may be from an older snapshot.
                _logger.LogInformation("{Kind} informer: list continue token expired; listing again from the start", Kind);
                items.Clear();
                continueToken = null;
                restarted = true;
                continue;
            }

            items.AddRange(page.Items);
            Heartbeat();
            continueToken = page.Continue;
            if (continueToken is null)
            {
                listVersion = page.ResourceVersion;
                break;
            }
        }

        _relists.Inc();
        lock (_dispatchLock)
        {
            ReplaceLocked(items);
            _resourceVersion = listVersion;
        }

        _synced.TrySetResult();
        _logger.LogInformation("{Kind} informer: listed {Count} objects at resourceVersion {ResourceVersion}", Kind, items.Count, listVersion);
    }

    /// <summary>Makes the cache equal to a fresh list, telling handlers what changed since the cache last saw it.</summary>
    private void ReplaceLocked(List<T> listed)
    {
        var seen = new HashSet<ResourceKey>();
        foreach (var resource in listed)
        {
            var key = ResourceKey.Of(resource);
            seen.Add(key);
            var previous = Cache.Upsert(resource);
            if (previous is null)
            {
                DispatchLocked(new ResourceEvent<T>(ResourceEventType.Added, resource));
            }
            else if (previous.Metadata.ResourceVersion != resource.Metadata.ResourceVersion)
            {
                DispatchLocked(new ResourceEvent<T>(ResourceEventType.Updated, resource, previous));
            }
        }

        foreach (var gone in Cache.List().Where(cached => !seen.Contains(ResourceKey.Of(cached))))
        {
            Cache.Remove(ResourceKey.Of(gone));
            DispatchLocked(new ResourceEvent<T>(ResourceEventType.Deleted, gone));
        }
    }

    private async Task<(string End, bool Progressed)> WatchAsync(CancellationToken cancellationToken)
    {
        using var watchCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var silent = 0;
        var silenceLimit = _options.SilentWatchTimeout;
        using var watchdog = _time.CreateTimer(
            _ =>
            {
                Interlocked.Exchange(ref silent, 1);
                try
                {
                    watchCancellation.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The watch ended as the watchdog fired.
                }
            },
            null,
            silenceLimit,
            Timeout.InfiniteTimeSpan);

        var startedAt = _time.GetTimestamp();
        var events = 0;
        var startVersion = ResourceVersion;
        try
        {
            await foreach (var watchEvent in _source.WatchAsync(startVersion, watchCancellation.Token)
                               .WithCancellation(watchCancellation.Token).ConfigureAwait(false))
            {
                watchdog.Change(silenceLimit, Timeout.InfiniteTimeSpan);
                Heartbeat();
                switch (watchEvent.Kind)
                {
                    case WatchEventKind.Expired:
                        _logger.LogInformation("{Kind} informer: resourceVersion {ResourceVersion} expired; relisting", Kind, ResourceVersion);
                        return (WatchEnd.Expired, events > 0);
                    case WatchEventKind.Error:
                        _logger.LogWarning("{Kind} informer: watch error {Code} {Reason}: {Message}", Kind,
                            watchEvent.Status?.Code, watchEvent.Status?.Reason, watchEvent.Status?.Message);
                        return (WatchEnd.Error, events > 0);
                    default:
                        events++;
                        Apply(watchEvent);
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (Volatile.Read(ref silent) == 1 && !cancellationToken.IsCancellationRequested)
        {
            _logger.LogWarning("{Kind} informer: watch silent for {Seconds} s; reconnecting from resourceVersion {ResourceVersion}",
                Kind, (int)silenceLimit.TotalSeconds, ResourceVersion);
            return (WatchEnd.Silent, events > 0);
        }

        var healthy = events > 0 || _time.GetElapsedTime(startedAt) >= _options.MinHealthyWatchDuration;
        _logger.LogDebug("{Kind} informer: watch closed after {Events} events; resuming from {ResourceVersion}", Kind, events, ResourceVersion);
        return (WatchEnd.Closed, healthy);
    }

    private void Apply(WatchEvent<T> watchEvent)
    {
        var resource = watchEvent.Object;
        if (resource?.Metadata is null)
        {
            return;
        }

        lock (_dispatchLock)
        {
            if (watchEvent.Kind != WatchEventKind.Bookmark)
            {
                var key = ResourceKey.Of(resource);
                if (watchEvent.Kind == WatchEventKind.Deleted)
                {
                    if (Cache.Remove(key) is not null)
                    {
                        DispatchLocked(new ResourceEvent<T>(ResourceEventType.Deleted, resource));
                    }
                }
                else
                {
                    var previous = Cache.Upsert(resource);
                    if (previous is null)
                    {
                        DispatchLocked(new ResourceEvent<T>(ResourceEventType.Added, resource));
                    }
                    else if (previous.Metadata.ResourceVersion != resource.Metadata.ResourceVersion)
                    {
                        DispatchLocked(new ResourceEvent<T>(ResourceEventType.Updated, resource, previous));
                    }
                }
            }

            if (!string.IsNullOrEmpty(resource.Metadata.ResourceVersion))
            {
                _resourceVersion = resource.Metadata.ResourceVersion;
            }
        }
    }

    private async Task ResyncLoopAsync(CancellationToken cancellationToken)
    {
        if (_options.ResyncPeriod <= TimeSpan.Zero)
        {
            return;
        }

        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.ResyncPeriod, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (!HasSynced)
            {
                continue;
            }

            lock (_dispatchLock)
            {
                foreach (var resource in Cache.List())
                {
                    DispatchLocked(new ResourceEvent<T>(ResourceEventType.Resync, resource));
                }
            }
        }
    }

    private void DispatchLocked(ResourceEvent<T> resourceEvent)
    {
        foreach (var handler in _handlers)
        {
            Invoke(handler, resourceEvent);
        }
    }

    private void Invoke(Action<ResourceEvent<T>> handler, ResourceEvent<T> resourceEvent)
    {
        try
        {
            handler(resourceEvent);
        }
        catch (Exception failure)
        {
            // One broken handler must not stop the cache, nor the other handlers.
            _logger.LogError(failure, "{Kind} informer: handler failed on {Type} {Key}", Kind, resourceEvent.Type, ResourceKey.Of(resourceEvent.Object));
        }
    }

    private void Heartbeat() => Interlocked.Exchange(ref _lastHeartbeat, _time.GetTimestamp());

    /// <summary>Metric label values for why a watch ended.</summary>
    private static class WatchEnd
    {
        public const string Closed = "closed";
        public const string Expired = "expired";
        public const string Silent = "silent";
        public const string Error = "error";
    }
}
