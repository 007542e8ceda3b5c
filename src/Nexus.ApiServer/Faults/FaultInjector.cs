using Nexus.ApiServer.Storage;

namespace Nexus.ApiServer.Faults;

/// <summary>Failures a test asks the server to produce: error responses, latency, watches cut or expired.</summary>
public sealed class FaultInjector
{
    private readonly Lock gate = new();
    private readonly List<FailureRule> failures = [];
    private readonly List<DelayRule> delays = [];
    private readonly Dictionary<string, FrozenClient> freezes = new(StringComparer.Ordinal);
    private readonly ObjectStore store;

    internal FaultInjector(ObjectStore store) => this.store = store;

    /// <summary>Answers the next <paramref name="count"/> requests whose method matches (null or "*" for any) and
    /// whose path starts with <paramref name="pathPrefix"/> with <paramref name="statusCode"/> and a Status body
    /// (429 carries Retry-After when <paramref name="retryAfter"/> is given).</summary>
    public void FailNext(string? method, string pathPrefix, int statusCode, int count = 1, TimeSpan? retryAfter = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        lock (gate)
        {
            failures.Add(new FailureRule(Normalize(method), pathPrefix, statusCode, count, retryAfter));
        }
    }

    /// <summary>Holds matching requests for <paramref name="delay"/> before answering them, for the next
    /// <paramref name="count"/> requests (all of them when null).</summary>
    public void Delay(TimeSpan delay, string? method = null, string pathPrefix = "/", int? count = null)
    {
        lock (gate)
        {
            delays.Add(new DelayRule(Normalize(method), pathPrefix, delay, count ?? int.MaxValue));
        }
    }

    /// <summary>
    /// Crashes the client whose User-Agent is <paramref name="userAgent"/> right after its
    /// <paramref name="writes"/>-th successful write: that write lands and is answered, and every request the client
    /// makes after it, read or write, is answered 503 (injected) so nothing more it does lands. The state is then
    /// exactly "the process crashed after write N". Its writes are taken one at a time, so two in flight cannot both
    /// slip in as the N-th. Watches it opened before stay open: they only read. Replaces an earlier freeze of the same
    /// client; <see cref="Thaw"/> or <see cref="Clear"/> ends it.
    /// </summary>
    /// <remarks>Give each client its own User-Agent (<c>LocalApiServer.CreateClient(userAgent)</c>): the server tells
    /// clients apart by it, as the audit log does.</remarks>
    public FrozenClient FreezeAfterWrites(string userAgent, int writes)
    {
        ArgumentException.ThrowIfNullOrEmpty(userAgent);
        ArgumentOutOfRangeException.ThrowIfLessThan(writes, 1);
        var freeze = new FrozenClient(userAgent, writes);
        lock (gate)
        {
            freezes[userAgent] = freeze;
        }

        return freeze;
    }

    /// <summary>Ends the freeze of the client with this User-Agent: its requests are served again.</summary>
    public void Thaw(string userAgent)
    {
        lock (gate)
        {
            freezes.Remove(userAgent);
        }
    }

    /// <summary>Removes every pending failure, delay and freeze.</summary>
    public void Clear()
    {
        lock (gate)
        {
            failures.Clear();
            delays.Clear();
            freezes.Clear();
        }
    }

    /// <summary>Cuts every open watch connection mid-stream (a reset, not a clean end): clients see a transport
    /// error and their watch closes.</summary>
    public void DropWatches() => store.ForEachWatch(w => w.Abort());

    /// <summary>Ends every open watch cleanly, as the API server does when a watch's timeout expires.</summary>
    public void CloseWatches() => store.ForEachWatch(w => w.Close());

    /// <summary>Compacts history up to the current revision (etcd compaction): a watch, continue token or exact list
    /// from any older resourceVersion now gets 410 Expired. Open watches keep streaming.</summary>
    public void CompactNow() => store.Compact(store.Revision);

    /// <summary>Compacts history up to <paramref name="revision"/>: resourceVersions older than it are expired.</summary>
    public void CompactTo(long revision) => store.Compact(revision);

    internal (int StatusCode, TimeSpan? RetryAfter)? TakeFailure(string method, string path)
    {
        lock (gate)
        {
            var rule = failures.FirstOrDefault(r => r.Matches(method, path));
            if (rule is null)
            {
                return null;
            }

            rule.Remaining--;
            if (rule.Remaining == 0)
            {
                failures.Remove(rule);
            }

            return (rule.StatusCode, rule.RetryAfter);
        }
    }

    internal FrozenClient? FreezeOf(string? userAgent)
    {
        if (userAgent is null)
        {
            return null;
        }

        lock (gate)
        {
            return freezes.GetValueOrDefault(userAgent);
        }
    }

    internal TimeSpan TakeDelay(string method, string path)
    {
        lock (gate)
        {
            var rule = delays.FirstOrDefault(r => r.Matches(method, path));
            if (rule is null)
            {
                return TimeSpan.Zero;
            }

            rule.Remaining--;
            if (rule.Remaining == 0)
            {
                delays.Remove(rule);
            }

            return rule.Delay;
        }
    }

    private static string? Normalize(string? method) => method is null or "*" ? null : method.ToUpperInvariant();

    private abstract class Rule(string? method, string pathPrefix, int remaining)
    {
        public int Remaining { get; set; } = remaining;

        public bool Matches(string requestMethod, string path) =>
            (method is null || method == requestMethod) && path.StartsWith(pathPrefix, StringComparison.Ordinal);
    }

    private sealed class FailureRule(string? method, string pathPrefix, int statusCode, int count, TimeSpan? retryAfter)
        : Rule(method, pathPrefix, count)
    {
        public int StatusCode { get; } = statusCode;

        public TimeSpan? RetryAfter { get; } = retryAfter;
    }

    private sealed class DelayRule(string? method, string pathPrefix, TimeSpan delay, int count) : Rule(method, pathPrefix, count)
    {
        public TimeSpan Delay { get; } = delay;
    }
}

/// <summary>A client that <see cref="FaultInjector.FreezeAfterWrites"/> crashes after a number of successful writes.</summary>
public sealed class FrozenClient
{
    private readonly TaskCompletionSource frozen = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int writes;
    private int refused;

    internal FrozenClient(string userAgent, int allowedWrites)
    {
        UserAgent = userAgent;
        AllowedWrites = allowedWrites;
    }

    public string UserAgent { get; }

    /// <summary>The successful writes it may make; the last of them freezes it.</summary>
    public int AllowedWrites { get; }

    /// <summary>Its successful writes so far (at most <see cref="AllowedWrites"/>).</summary>
    public int Writes => Volatile.Read(ref writes);

    /// <summary>Its requests answered 503 since it froze.</summary>
    public int Refused => Volatile.Read(ref refused);

    public bool IsFrozen => frozen.Task.IsCompleted;

    /// <summary>Completes when its last allowed write has landed.</summary>
    public Task WhenFrozen => frozen.Task;

    /// <summary>Serializes the client's writes, so each is counted before the next is let in.</summary>
    internal SemaphoreSlim WriteGate { get; } = new(1, 1);

    internal void CountWrite()
    {
        if (Interlocked.Increment(ref writes) >= AllowedWrites)
        {
            frozen.TrySetResult();
        }
    }

    internal void CountRefused() => Interlocked.Increment(ref refused);
}
