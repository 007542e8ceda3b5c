namespace Nexus.Operator.Queues;

/// <summary>
/// A rate-limited, delaying work queue with client-go's semantics:
/// <list type="bullet">
/// <item>a key waiting in the queue is held once however often it is added (the dirty set);</item>
/// <item>a key handed to a worker is not handed to another until <see cref="Done"/> (the processing set), and a key
/// added meanwhile is queued again at <see cref="Done"/>, so the change that caused it is never lost;</item>
/// <item><see cref="AddAfter"/> keeps the earliest due time per key and never holds back an immediate add;</item>
/// <item><see cref="AddRateLimited"/> delays by the rate limiter; <see cref="Forget"/> resets the key's backoff.</item>
/// </list>
/// </summary>
public sealed class WorkQueue<TKey> : IDisposable
    where TKey : notnull
{
    private readonly IRateLimiter<TKey> _rateLimiter;
    private readonly TimeProvider _time;
    private readonly IWorkQueueMetrics _metrics;
    private readonly Lock _lock = new();

    private readonly Queue<TKey> _queue = new();
    private readonly HashSet<TKey> _dirty = new();
    private readonly HashSet<TKey> _processing = new();
    private readonly Dictionary<TKey, long> _addedAt = new();
    private readonly Dictionary<TKey, long> _startedAt = new();

    // Delayed adds: the earliest due time per key, and a heap that may hold superseded entries (skipped when popped).
    private readonly Dictionary<TKey, DateTimeOffset> _dueAt = new();
    private readonly PriorityQueue<TKey, DateTimeOffset> _delayed = new();
    private ITimer? _delayTimer;

    // Completed and replaced whenever the queue changes, waking every waiting GetAsync to look again. Waking all of
    // them (a handful of workers) keeps a cancelled waiter from swallowing a wake-up meant for another.
    private TaskCompletionSource _changed = NewSignal();
    private bool _shuttingDown;

    public WorkQueue(IRateLimiter<TKey>? rateLimiter = null, TimeProvider? time = null, IWorkQueueMetrics? metrics = null)
    {
        _time = time ?? TimeProvider.System;
        _rateLimiter = rateLimiter ?? RateLimiters.Default<TKey>(time: _time);
        _metrics = metrics ?? NoWorkQueueMetrics.Instance;
    }

    /// <summary>Keys waiting to be handed out (not counting delayed ones or ones being processed).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Keys handed to workers and not yet marked <see cref="Done"/>.</summary>
    public int ProcessingCount
    {
        get
        {
            lock (_lock)
            {
                return _processing.Count;
            }
        }
    }

    /// <summary>Keys scheduled by <see cref="AddAfter"/> or <see cref="AddRateLimited"/> and not yet due.</summary>
    public int DelayedCount
    {
        get
        {
            lock (_lock)
            {
                return _dueAt.Count;
            }
        }
    }

    public bool IsShuttingDown
    {
        get
        {
            lock (_lock)
            {
                return _shuttingDown;
            }
        }
    }

    /// <summary>Queues the key now, unless it is already waiting. Ignored after <see cref="ShutDown"/>.</summary>
    public void Add(TKey key)
    {
        lock (_lock)
        {
            AddLocked(key);
        }
    }

    /// <summary>Queues the key once the delay has passed. A key already scheduled keeps the earlier of the two due times;
    /// a key already waiting in the queue stays there.</summary>
    public void AddAfter(TKey key, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            Add(key);
            return;
        }

        lock (_lock)
        {
            if (_shuttingDown)
            {
                return;
            }

            var due = _time.GetUtcNow() + delay;
            if (_dueAt.TryGetValue(key, out var scheduled) && scheduled <= due)
            {
                return;
            }

            _dueAt[key] = due;
            _delayed.Enqueue(key, due);
            ArmDelayTimerLocked();
        }
    }

    /// <summary>Queues the key after the rate limiter's delay (per-key backoff and the overall bucket).</summary>
    public void AddRateLimited(TKey key)
    {
        if (IsShuttingDown)
        {
            return;
        }

        _metrics.CountRetry();
        AddAfter(key, _rateLimiter.When(key));
    }

    /// <summary>Resets the key's backoff; call it when the key was processed successfully.</summary>
    public void Forget(TKey key) => _rateLimiter.Forget(key);

    /// <summary>How many rate-limited retries the key has had since it was last forgotten.</summary>
    public int NumRequeues(TKey key) => _rateLimiter.NumRequeues(key);

    /// <summary>
    /// Waits for a key and marks it processing; the caller must call <see cref="Done"/> with it. After
    /// <see cref="ShutDown"/> the keys still queued are handed out, then <c>ShuttingDown</c> is returned.
    /// </summary>
    /// <exception cref="OperationCanceledException">The token was cancelled before a key was taken.</exception>
    public async Task<(TKey Key, bool ShuttingDown)> GetAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (_queue.TryDequeue(out var key))
                {
                    _dirty.Remove(key);
                    _processing.Add(key);
                    var now = _time.GetTimestamp();
                    if (_addedAt.Remove(key, out var addedAt))
                    {
                        _metrics.ObserveQueueLatency(_time.GetElapsedTime(addedAt, now));
                    }

                    _startedAt[key] = now;
                    _metrics.SetDepth(_queue.Count);
                    return (key, false);
                }

                if (_shuttingDown)
                {
                    return (default!, true);
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Ends processing of a key; if it was added meanwhile it is queued again now.</summary>
    public void Done(TKey key)
    {
        lock (_lock)
        {
            if (!_processing.Remove(key))
            {
                return;
            }

            if (_startedAt.Remove(key, out var startedAt))
            {
                _metrics.ObserveWorkDuration(_time.GetElapsedTime(startedAt));
            }

            if (_dirty.Contains(key))
            {
                _queue.Enqueue(key);
                _metrics.SetDepth(_queue.Count);
            }

            SignalLocked();
        }
    }

    /// <summary>Stops accepting keys, drops delayed ones and wakes every waiting <see cref="GetAsync"/>.</summary>
    public void ShutDown()
    {
        lock (_lock)
        {
            if (_shuttingDown)
            {
                return;
            }

            _shuttingDown = true;
            _dueAt.Clear();
            _delayed.Clear();
            _delayTimer?.Dispose();
            _delayTimer = null;
            SignalLocked();
        }
    }

    /// <summary>Shuts down, then waits until every key handed out has been marked <see cref="Done"/>.</summary>
    public async Task ShutDownWithDrainAsync(CancellationToken cancellationToken)
    {
        ShutDown();
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (_processing.Count == 0)
                {
                    return;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose() => ShutDown();

    private void AddLocked(TKey key)
    {
        if (_shuttingDown || !_dirty.Add(key))
        {
            return;
        }

        _addedAt[key] = _time.GetTimestamp();
        if (_processing.Contains(key))
        {
            // Queued again by Done, so no two workers ever hold the same key.
            return;
        }

        _queue.Enqueue(key);
        _metrics.SetDepth(_queue.Count);
        SignalLocked();
    }

    private void SignalLocked()
    {
        var changed = _changed;
        _changed = NewSignal();
        changed.TrySetResult();
    }

    private void ArmDelayTimerLocked()
    {
        if (!_delayed.TryPeek(out _, out var nextDue))
        {
            _delayTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }

        var dueIn = nextDue - _time.GetUtcNow();
        if (dueIn < TimeSpan.Zero)
        {
            dueIn = TimeSpan.Zero;
        }

        if (_delayTimer is null)
        {
            _delayTimer = _time.CreateTimer(_ => MoveDueKeys(), null, dueIn, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _delayTimer.Change(dueIn, Timeout.InfiniteTimeSpan);
        }
    }

    private void MoveDueKeys()
    {
        lock (_lock)
        {
            if (_shuttingDown)
            {
                return;
            }

            var now = _time.GetUtcNow();
            while (_delayed.TryPeek(out var key, out var due) && due <= now)
            {
                _delayed.Dequeue();
                if (_dueAt.TryGetValue(key, out var current) && current == due)
                {
                    _dueAt.Remove(key);
                    AddLocked(key);
                }
            }

            ArmDelayTimerLocked();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
