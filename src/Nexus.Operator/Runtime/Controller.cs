using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Nexus.Api;
using Nexus.Operator.Caching;
using Nexus.Operator.Client;
using Nexus.Operator.Events;
using Nexus.Operator.Metrics;
using Nexus.Operator.Queues;

namespace Nexus.Operator.Runtime;

/// <summary>What the host needs from a controller of any kind.</summary>
public interface IController
{
    string Kind { get; }

    /// <summary>Reconciles until the token is cancelled (leadership lost or shutdown): waits for the caches, queues
    /// every cached object, runs the workers; on cancellation stops taking keys and waits for the workers.</summary>
    Task RunAsync(CancellationToken leadershipToken);
}

public sealed record ControllerOptions
{
    /// <summary>Keys reconciled at once (never the same key twice at once).</summary>
    public int Workers { get; init; } = 1;

    public RateLimiterOptions RateLimiter { get; init; } = new();

    /// <summary>After its own write or a 409 on the primary object, how long the controller waits for its cache to
    /// show the newer object before it reconciles the cached one anyway.</summary>
    public TimeSpan CatchUpTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Turns changes of a kind (and of the children it owns) into reconciles: informer events become keys in a work
/// queue, N workers hand each key's latest cached object to the reconciler, and the result decides when the key comes
/// back. Only the leader runs it; the cancellation token each reconcile receives is the leadership token.
/// </summary>
public sealed class Controller<T> : IController
    where T : class, INexusResource
{
    private readonly ResourceCache<T> _cache;
    private readonly IReadOnlyList<IInformer> _informers;
    private readonly IReconciler<T> _reconciler;
    private readonly IStatusWriter<T> _statusWriter;
    private readonly WriteTracker _writes;
    private readonly IEventRecorder? _events;
    private readonly ControllerOptions _options;
    private readonly OperatorMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<ResourceKey, Superseded> _superseded = new();
    private WorkQueue<ResourceKey>? _queue;

    internal Controller(
        string kind,
        ResourceCache<T> cache,
        IReadOnlyList<IInformer> informers,
        IReconciler<T> reconciler,
        IStatusWriter<T> statusWriter,
        WriteTracker writes,
        IEventRecorder? events,
        ControllerOptions options,
        OperatorMetrics metrics,
        ILogger logger,
        TimeProvider time)
    {
        Kind = kind;
        _cache = cache;
        _informers = informers;
        _reconciler = reconciler;
        _statusWriter = statusWriter;
        _writes = writes;
        _events = events;
        _options = options;
        _metrics = metrics;
        _logger = logger;
        _time = time;
    }

    public string Kind { get; }

    /// <summary>The queue while leading, null otherwise (exposed for tests and diagnostics).</summary>
    internal WorkQueue<ResourceKey>? Queue => Volatile.Read(ref _queue);

    /// <summary>Queues a key for reconciling; ignored while this replica is not leading.</summary>
    public void Enqueue(ResourceKey key) => Volatile.Read(ref _queue)?.Add(key);

    public async Task RunAsync(CancellationToken leadershipToken)
    {
        try
        {
            foreach (var informer in _informers)
            {
                await informer.WaitForSyncAsync(leadershipToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            return;
        }

        var queueMetrics = new WorkQueueMetrics(_metrics, Kind);
        var queue = new WorkQueue<ResourceKey>(RateLimiters.Default<ResourceKey>(_options.RateLimiter, _time), _time, queueMetrics);
        if (Interlocked.CompareExchange(ref _queue, queue, null) is not null)
        {
            throw new InvalidOperationException($"The {Kind} controller is already running.");
        }

        _superseded.Clear();
        // Events from here on reach the queue; everything that happened before is in the cache.
        foreach (var resource in _cache.List())
        {
            queue.Add(ResourceKey.Of(resource));
        }

        _logger.LogInformation("{Kind} controller: started with {Workers} workers and {Count} objects", Kind, _options.Workers, queue.Count);
        var workers = Enumerable.Range(0, _options.Workers).Select(_ => WorkAsync(queue, leadershipToken)).ToArray();
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, leadershipToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            Volatile.Write(ref _queue, null);
            queue.ShutDown();
            await Task.WhenAll(workers).ConfigureAwait(false);
            // The keys left in the discarded queue are not waiting for anyone: the next term queues the whole cache.
            queueMetrics.SetDepth(0);
            _logger.LogInformation("{Kind} controller: stopped", Kind);
        }
    }

    private async Task WorkAsync(WorkQueue<ResourceKey> queue, CancellationToken leadershipToken)
    {
        // Off the caller's context, so one slow reconcile never holds up starting the others.
        await Task.Yield();
        while (!leadershipToken.IsCancellationRequested)
        {
            ResourceKey key;
            try
            {
                (key, var shuttingDown) = await queue.GetAsync(leadershipToken).ConfigureAwait(false);
                if (shuttingDown)
                {
                    return;
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await ProcessAsync(queue, key, leadershipToken).ConfigureAwait(false);
            }
            finally
            {
                queue.Done(key);
            }
        }
    }

    internal async Task ProcessAsync(WorkQueue<ResourceKey> queue, ResourceKey key, CancellationToken cancellationToken)
    {
        var resource = _cache.Get(key);
        if (resource is null)
        {
            // Deleted: owned children go with it (owner references), external cleanup ran under its finalizer.
            queue.Forget(key);
            _superseded.TryRemove(key, out _);
            return;
        }

        var version = resource.Metadata.ResourceVersion;
        if (_superseded.TryGetValue(key, out var superseded))
        {
            if (superseded.Versions.Contains(version) && _time.GetElapsedTime(superseded.Since) < _options.CatchUpTimeout)
            {
                // The cache still holds a version that our own write (or a refused one) has replaced on the server.
                // Reconciling it would redo work or conflict; the informer's event for the newer version queues the
                // key again, and the reconcile then sees the current object.
                _logger.LogDebug("{Kind} {Key}: cache at {ResourceVersion} is behind the server; waiting for the newer version", Kind, key, version);
                return;
            }

            _superseded.TryRemove(key, out _);
        }

        var started = _time.GetTimestamp();
        string result;
        _writes.Begin(key);
        try
        {
            var outcome = await _reconciler.ReconcileAsync(resource, cancellationToken).ConfigureAwait(false);
            result = await ApplyAsync(queue, key, resource, outcome, cancellationToken).ConfigureAwait(false);
            RememberSuperseded(key, version, _writes.End(key), refused: false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Leadership lost or shutting down: the next leader reconciles this key from scratch.
            _writes.End(key);
            return;
        }
        catch (ResourceConflictException conflict) when (conflict.Key == key)
        {
            // Our copy of this very object is stale: the server has a newer version, whose event will queue the key
            // again. Reconciling before the cache has it would only conflict again, so nothing is queued now except a
            // fallback in case the newer version never reaches the cache.
            result = "conflict";
            _metrics.StatusConflicts.WithLabels(Kind).Inc();
            RememberSuperseded(key, conflict.StaleResourceVersion ?? version, _writes.End(key), refused: true);
            queue.AddAfter(key, _options.CatchUpTimeout);
            _logger.LogInformation("{Kind} {Key}: conflict writing at resourceVersion {ResourceVersion}; reconciling again once the cache catches up",
                Kind, key, conflict.StaleResourceVersion ?? version);
        }
        catch (Exception failure) when (ApiErrors.IsConflict(failure))
        {
            // A 409 on another object (a child, say): retry with backoff rather than at once.
            result = "conflict";
            _writes.End(key);
            _metrics.StatusConflicts.WithLabels(Kind).Inc();
            _logger.LogInformation("{Kind} {Key}: conflict writing another object ({Message}); retrying with backoff", Kind, key, failure.Message);
            queue.AddRateLimited(key);
        }
        catch (Exception failure)
        {
            result = "error";
            _writes.End(key);
            _metrics.ReconcileErrors.WithLabels(Kind).Inc();
            _logger.LogError(failure, "{Kind} {Key}: reconcile failed (retry {Retry})", Kind, key, queue.NumRequeues(key) + 1);
            queue.AddRateLimited(key);
        }

        _metrics.ReconcileDuration.WithLabels(Kind).Observe(_time.GetElapsedTime(started).TotalSeconds);
        _metrics.ReconcileTotal.WithLabels(Kind, result).Inc();
    }

    /// <summary>
    /// Records which versions of the key the server has moved past: the one reconciled and every one our writes
    /// produced except the last (or all of them, when the last write was refused as stale).
    /// </summary>
    private void RememberSuperseded(ResourceKey key, string reconciledVersion, IReadOnlyList<string> produced, bool refused)
    {
        List<string> versions = [reconciledVersion, .. produced];
        if (!refused)
        {
            if (produced.Count == 0 || produced[^1] == reconciledVersion)
            {
                return;
            }

            versions.RemoveAt(versions.Count - 1);
        }

        _superseded[key] = new Superseded(versions.ToHashSet(), _time.GetTimestamp());
    }

    private async Task<string> ApplyAsync(
        WorkQueue<ResourceKey> queue, ResourceKey key, T resource, ReconcileResult outcome, CancellationToken cancellationToken)
    {
        switch (outcome.Outcome)
        {
            case ReconcileOutcome.Done:
                queue.Forget(key);
                _logger.LogDebug("{Kind} {Key}: reconciled", Kind, key);
                return "done";

            case ReconcileOutcome.RequeueAfter:
                // The delay is exact and independent of anything the reconcile wrote: an update event it caused queues
                // the key now, but never cancels or postpones this timed re-queue.
                queue.Forget(key);
                queue.AddAfter(key, outcome.Delay);
                _logger.LogDebug("{Kind} {Key}: reconciled; again in {Delay}", Kind, key, outcome.Delay);
                return "requeue_after";

            case ReconcileOutcome.Retry:
                queue.AddRateLimited(key);
                _logger.LogInformation("{Kind} {Key}: not done ({Reason}); retry {Retry} with backoff", Kind, key, outcome.Reason, queue.NumRequeues(key));
                return "retry";

            case ReconcileOutcome.Terminal:
                // From the object as this reconcile's own last write left it (a finalizer just added), not the copy
                // it started from, whose resourceVersion that write made stale.
                var stalled = await _statusWriter.UpdateAsync(
                    _writes.Latest<T>(key) ?? resource,
                    copy => Conditions.MarkStalled(copy.EnsureStatus(), outcome.Reason!, outcome.Message ?? "", copy.Metadata.Generation, _time.GetUtcNow()),
                    cancellationToken).ConfigureAwait(false);
                queue.Forget(key);
                if (stalled.Written)
                {
                    // Once per stall: the reconcile its own status write (or a resync) causes finds it stalled already.
                    _events?.Record(stalled.Resource, EventType.Warning, outcome.Reason!, outcome.Message ?? "");
                }

                _logger.LogWarning("{Kind} {Key}: stalled ({Reason}): {Message}", Kind, key, outcome.Reason, outcome.Message);
                return "terminal";

            default:
                throw new InvalidOperationException($"Unknown reconcile outcome {outcome.Outcome}.");
        }
    }

    private sealed record Superseded(HashSet<string> Versions, long Since);
}
