namespace Nexus.Operator.Queues;

/// <summary>How long a key should wait before it is retried (client-go's <c>workqueue.TypedRateLimiter</c>).</summary>
public interface IRateLimiter<in TKey>
{
    /// <summary>The delay before the key's next retry; counts the retry.</summary>
    TimeSpan When(TKey key);

    /// <summary>Stops tracking the key: its next failure starts from the smallest delay again.</summary>
    void Forget(TKey key);

    /// <summary>How many retries the key has had since it was last forgotten.</summary>
    int NumRequeues(TKey key);
}

/// <summary>The retry policy of a controller's queue. The defaults are client-go's <c>DefaultTypedControllerRateLimiter</c>.</summary>
public sealed record RateLimiterOptions
{
    /// <summary>The first retry's delay; each further failure of the same key doubles it.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>The cap on one key's backoff.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(1000);

    /// <summary>Overall retries per second across all keys (the token bucket's refill rate).</summary>
    public double QueriesPerSecond { get; init; } = 10;

    /// <summary>Retries allowed at once before the overall rate applies (the token bucket's size).</summary>
    public int Burst { get; init; } = 100;

    public void Validate()
    {
        if (BaseDelay < TimeSpan.Zero || MaxDelay < BaseDelay)
        {
            throw new ArgumentException($"Backoff needs 0 <= BaseDelay <= MaxDelay (got {BaseDelay}, {MaxDelay}).");
        }

        if (QueriesPerSecond <= 0 || Burst < 1)
        {
            throw new ArgumentException($"The token bucket needs QueriesPerSecond > 0 and Burst >= 1 (got {QueriesPerSecond}, {Burst}).");
        }
    }
}

public static class RateLimiters
{
    /// <summary>The larger of per-key exponential backoff and an overall token bucket: one failing key backs off on its
    /// own, and many failing keys together cannot exceed the overall rate.</summary>
    public static IRateLimiter<TKey> Default<TKey>(RateLimiterOptions? options = null, TimeProvider? time = null)
        where TKey : notnull
    {
        options ??= new RateLimiterOptions();
        options.Validate();
        return new MaxOfRateLimiter<TKey>(
            new ItemExponentialRateLimiter<TKey>(options.BaseDelay, options.MaxDelay),
            new TokenBucketRateLimiter<TKey>(options.QueriesPerSecond, options.Burst, time ?? TimeProvider.System));
    }
}

/// <summary>Per-key exponential backoff: base × 2^failures, capped.</summary>
public sealed class ItemExponentialRateLimiter<TKey> : IRateLimiter<TKey>
    where TKey : notnull
{
    private readonly TimeSpan _baseDelay;
    private readonly TimeSpan _maxDelay;
    private readonly Dictionary<TKey, int> _failures = new();
    private readonly Lock _lock = new();

    public ItemExponentialRateLimiter(TimeSpan baseDelay, TimeSpan maxDelay)
    {
        _baseDelay = baseDelay;
        _maxDelay = maxDelay;
    }

    public TimeSpan When(TKey key)
    {
        int exponent;
        lock (_lock)
        {
            _failures.TryGetValue(key, out exponent);
            _failures[key] = exponent + 1;
        }

        // Computed in double so a long-failing key saturates at the cap instead of overflowing.
        var ticks = _baseDelay.Ticks * Math.Pow(2, exponent);
        return ticks >= _maxDelay.Ticks ? _maxDelay : TimeSpan.FromTicks((long)ticks);
    }

    public void Forget(TKey key)
    {
        lock (_lock)
        {
            _failures.Remove(key);
        }
    }

    public int NumRequeues(TKey key)
    {
        lock (_lock)
        {
            return _failures.GetValueOrDefault(key);
        }
    }
}

/// <summary>
/// An overall token bucket with reservation semantics (golang.org/x/time/rate's <c>Reserve</c>): every call takes a
/// token, going into debt when the bucket is empty, and the debt is the caller's delay. Keys are not tracked.
/// </summary>
public sealed class TokenBucketRateLimiter<TKey> : IRateLimiter<TKey>
{
    private readonly double _tokensPerSecond;
    private readonly double _burst;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private double _tokens;
    private long _lastRefill;

    public TokenBucketRateLimiter(double tokensPerSecond, int burst, TimeProvider time)
    {
        _tokensPerSecond = tokensPerSecond;
        _burst = burst;
        _time = time;
        _tokens = burst;
        _lastRefill = time.GetTimestamp();
    }

    public TimeSpan When(TKey key)
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            var elapsed = _time.GetElapsedTime(_lastRefill, now);
            _lastRefill = now;
            _tokens = Math.Min(_burst, _tokens + elapsed.TotalSeconds * _tokensPerSecond);
            _tokens -= 1;
            return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / _tokensPerSecond);
        }
    }

    public void Forget(TKey key)
    {
    }

    public int NumRequeues(TKey key) => 0;
}

/// <summary>The longest delay any of the limiters asks for.</summary>
public sealed class MaxOfRateLimiter<TKey> : IRateLimiter<TKey>
{
    private readonly IRateLimiter<TKey>[] _limiters;

    public MaxOfRateLimiter(params IRateLimiter<TKey>[] limiters)
    {
        if (limiters.Length == 0)
        {
            throw new ArgumentException("At least one rate limiter is needed.", nameof(limiters));
        }

        _limiters = limiters;
    }

    public TimeSpan When(TKey key)
    {
        var delay = TimeSpan.Zero;
        foreach (var limiter in _limiters)
        {
            var candidate = limiter.When(key);
            if (candidate > delay)
            {
                delay = candidate;
            }
        }

        return delay;
    }

    public void Forget(TKey key)
    {
        foreach (var limiter in _limiters)
        {
            limiter.Forget(key);
        }
    }

    public int NumRequeues(TKey key) => _limiters.Max(limiter => limiter.NumRequeues(key));
}
