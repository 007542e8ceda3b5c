using System.Collections.Concurrent;

namespace Nexus.ApiServer.Instrumentation;

/// <summary>One API request as the server classified it (the apiserver's RequestInfo) and answered it.</summary>
/// <param name="Sequence">Position in the log, from 1; use <see cref="RequestLog.Mark"/> to count from a point.</param>
/// <param name="Verb">get, list, watch, create, update, patch, delete, deletecollection; <c>discovery</c> for
/// /api, /apis, /version; <c>unknown</c> for a path that names no resource.</param>
/// <param name="Name">The object's name: the path's, or for a create the created object's (as the audit log's
/// objectRef names it), so creates can be told apart by name.</param>
/// <param name="Injected">Whether a fault answered it instead of the registry.</param>
public sealed record RequestRecord(
    long Sequence,
    DateTimeOffset Time,
    string Method,
    string Path,
    string Query,
    string Verb,
    string? Group,
    string? Version,
    string? Resource,
    string? Subresource,
    string? Namespace,
    string? Name,
    int StatusCode,
    bool Injected)
{
    private static readonly HashSet<string> WriteVerbs = ["create", "update", "patch", "delete", "deletecollection"];

    /// <summary>The client's User-Agent header, as the real server's audit log records it; benchmarks tell the
    /// operator's requests from their own load and observation by it.</summary>
    public string? UserAgent { get; init; }

    /// <summary>Whether the request asked to change state (it counts even when refused).</summary>
    public bool IsWrite => WriteVerbs.Contains(Verb);

    public override string ToString() =>
        $"#{Sequence} {Method} {Path}{(Query.Length > 0 ? "?" + Query : string.Empty)} → {StatusCode} ({Verb} {Resource}{(Subresource is null ? string.Empty : "/" + Subresource)})";
}

/// <summary>A thread-safe log of every request the server answered, recorded before the response body is written, so
/// a client that has its answer finds its request here. Tests count API calls with it ("zero writes after a no-op
/// reconcile", "one list and one watch per informer").</summary>
public sealed class RequestLog
{
    private readonly ConcurrentQueue<RequestRecord> records = new();
    private long sequence;

    /// <summary>Every request so far, in order.</summary>
    public IReadOnlyList<RequestRecord> All => [.. records];

    /// <summary>The sequence number of the latest request; pass it to <see cref="Since"/>.</summary>
    public long Mark() => Interlocked.Read(ref sequence);

    /// <summary>Requests recorded after <paramref name="mark"/>.</summary>
    public IReadOnlyList<RequestRecord> Since(long mark) => records.Where(r => r.Sequence > mark).ToList();

    public int Count(Func<RequestRecord, bool>? predicate = null) => predicate is null ? records.Count : records.Count(predicate);

    /// <summary>Requests with the given verb, optionally for one resource (plural) and object name.</summary>
    public int Count(string verb, string? resource = null, string? name = null) =>
        records.Count(r => r.Verb == verb && (resource is null || r.Resource == resource) && (name is null || r.Name == name));

    /// <summary>Create, update, patch and delete requests, optionally since a <see cref="Mark"/>.</summary>
    public IReadOnlyList<RequestRecord> Writes(long sinceMark = 0) => records.Where(r => r.IsWrite && r.Sequence > sinceMark).ToList();

    public void Clear() => records.Clear();

    internal RequestRecord Add(Func<long, RequestRecord> make)
    {
        var record = make(Interlocked.Increment(ref sequence));
        records.Enqueue(record);
        return record;
    }
}
