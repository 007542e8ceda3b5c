namespace Nexus.Operator.Caching;

/// <summary>Exponential backoff with jitter for list and watch failures, so a failing API server sees a retry every
/// few seconds at most rather than a tight loop, and replicas restarted together do not retry in lockstep.</summary>
public sealed class Backoff
{
    private readonly TimeSpan _initial;
    private readonly TimeSpan _max;
    private readonly double _jitter;
    private readonly Func<double> _random;
    private TimeSpan _current;

    /// <param name="jitter">Each delay is stretched by up to this fraction (0 for exact delays).</param>
    /// <param name="random">A source of numbers in [0, 1); tests pass a fixed one.</param>
    public Backoff(TimeSpan initial, TimeSpan max, double jitter, Func<double>? random = null)
    {
        if (initial <= TimeSpan.Zero || max < initial || jitter < 0)
        {
            throw new ArgumentException($"Backoff needs 0 < initial <= max and jitter >= 0 (got {initial}, {max}, {jitter}).");
        }

        _initial = initial;
        _max = max;
        _jitter = jitter;
        _random = random ?? Random.Shared.NextDouble;
        _current = initial;
    }

    /// <summary>The next delay; each call doubles the base up to the maximum.</summary>
    public TimeSpan Next()
    {
        var delay = _current;
        _current = TimeSpan.FromTicks(Math.Min(_max.Ticks, _current.Ticks * 2));
        return delay + TimeSpan.FromTicks((long)(delay.Ticks * _jitter * _random()));
    }

    /// <summary>Back to the initial delay, after the operation succeeded.</summary>
    public void Reset() => _current = _initial;
}
