using System.Threading.Channels;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Nexus.Api;
using Nexus.Operator.Client;
using Nexus.Operator.Metrics;
using Nexus.Operator.Runtime;

namespace Nexus.Operator.Events;

public enum EventType
{
    Normal,
    Warning,
}

/// <summary>Records Kubernetes Events about an object, the trail <c>kubectl describe</c> shows.</summary>
public interface IEventRecorder
{
    /// <summary>Queues an Event and returns at once: recording never blocks nor fails a reconcile. When the queue is
    /// full or the object has sent too many Events lately, the Event is dropped and counted.</summary>
    /// <param name="reason">CamelCase, like a condition reason.</param>
    void Record(IKubernetesObject<V1ObjectMeta> regarding, EventType type, string reason, string message);
}

public sealed record EventRecorderOptions
{
    /// <summary>source.component and reportingComponent of every Event.</summary>
    public string Component { get; init; } = "nexus-operator";

    /// <summary>reportingInstance: this replica's identity.</summary>
    public string Instance { get; init; } = Environment.MachineName;

    /// <summary>The same Event (object, type, reason, message) again within this window bumps the existing Event's
    /// count and lastTimestamp instead of creating another.</summary>
    public TimeSpan DeduplicationWindow { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Events waiting to be written, per writer; more are dropped.</summary>
    public int QueueCapacity { get; init; } = 1000;

    /// <summary>Events written at once. Each object's Events go through one writer, in order, so its repeats are
    /// aggregated; different objects' Events are written side by side (one writer fell behind four reconcile workers
    /// in a 1,000-object burst and dropped 10%: docs/benchmarks.md).</summary>
    public int Writers { get; init; } = 4;

    /// <summary>Events one object may send at once (client-go's spam filter: 25)...</summary>
    public int BurstPerObject { get; init; } = 25;

    /// <summary>...and how often it earns another (client-go: one per 5 minutes).</summary>
    public TimeSpan RefillIntervalPerObject { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Longer messages are cut; Events are a summary, the status holds the detail.</summary>
    public int MaxMessageLength { get; init; } = 1024;
}

/// <summary>
/// Writes core/v1 Events in the background with client-go's aggregation: a repeat of the same Event within the
/// de-duplication window PATCHes count and lastTimestamp of the Event already written, and each object has a token
/// bucket so a hot loop cannot flood the API server. <see cref="EventRecorderOptions.Writers"/> writers run side by
/// side, each owning the Events of the objects hashed to it.
/// </summary>
public sealed class EventRecorder : IEventRecorder
{
    private const int MaxTrackedObjects = 4096;

    private readonly IEventSink _sink;
    private readonly EventRecorderOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Prometheus.Counter _dropped;
    private readonly Writer[] _writers;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ObjectBucket> _buckets = new();
    private long _sequence;

    public EventRecorder(
        IEventSink sink,
        EventRecorderOptions? options = null,
        OperatorMetrics? metrics = null,
        ILogger? logger = null,
        TimeProvider? time = null)
    {
        _sink = sink;
        _options = options ?? new EventRecorderOptions();
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _dropped = (metrics ?? new OperatorMetrics()).EventsDropped;
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Writers, 1, nameof(EventRecorderOptions.Writers));
        _writers = [.. Enumerable.Range(0, _options.Writers).Select(_ => new Writer(_options.QueueCapacity))];
    }

    public void Record(IKubernetesObject<V1ObjectMeta> regarding, EventType type, string reason, string message)
    {
        try
        {
            Conditions.ValidateReason(reason);
            var now = _time.GetUtcNow();
            var reference = ReferenceTo(regarding);
            var objectKey = ObjectKey(reference);
            if (!TakeToken(objectKey, now))
            {
                _dropped.Inc();
                _logger.LogDebug("Event {Reason} for {Kind} {Name} dropped: the object's event rate limit is spent", reason, reference.Kind, reference.Name);
                return;
            }

            if (message.Length > _options.MaxMessageLength)
            {
                message = message[..(_options.MaxMessageLength - 3)] + "...";
            }

            var writer = _writers[(int)((uint)StringComparer.Ordinal.GetHashCode(objectKey) % (uint)_writers.Length)];
            if (!writer.Pending.Writer.TryWrite(new PendingEvent(reference, type, reason, message, now)))
            {
                _dropped.Inc();
                _logger.LogWarning("Event {Reason} for {Kind} {Name} dropped: the event queue is full", reason, reference.Kind, reference.Name);
            }
        }
        catch (Exception failure)
        {
            // Recording is best effort: a malformed event must not fail the reconcile that reported it.
            _dropped.Inc();
            _logger.LogWarning(failure, "Event {Reason} not recorded", reason);
        }
    }

    /// <summary>Writes queued Events until cancelled, every writer side by side.</summary>
    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(_writers.Select(writer => Task.Run(() => RunWriterAsync(writer, cancellationToken), CancellationToken.None)));

    private async Task RunWriterAsync(Writer writer, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var pending in writer.Pending.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                await WriteAsync(writer, pending, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task WriteAsync(Writer writer, PendingEvent pending, CancellationToken cancellationToken)
    {
        var written = writer.Written;
        var identity = new EventIdentity(ObjectKey(pending.Regarding), pending.Type, pending.Reason, pending.Message);
        ForgetExpired(written, pending.At);
        try
        {
            if (written.TryGetValue(identity, out var previous) && pending.At - previous.LastSeen <= _options.DeduplicationWindow)
            {
                var count = previous.Count + 1;
                try
                {
                    await _sink.PatchCountAsync(previous.Namespace, previous.Name, count, pending.At, cancellationToken).ConfigureAwait(false);
                    written[identity] = previous with { Count = count, LastSeen = pending.At };
                    return;
                }
                catch (Exception gone) when (ApiErrors.IsNotFound(gone))
                {
                    // The API server's event TTL removed it; start a new one.
                    written.Remove(identity);
                }
            }

            var created = await _sink.CreateAsync(NewEvent(pending), cancellationToken).ConfigureAwait(false);
            written[identity] = new WrittenEvent(created.Metadata.NamespaceProperty, created.Metadata.Name, 1, pending.At);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception failure)
        {
            _dropped.Inc();
            _logger.LogWarning(failure, "Event {Reason} for {Kind} {Name} could not be written", pending.Reason, pending.Regarding.Kind, pending.Regarding.Name);
        }
    }

    private Corev1Event NewEvent(PendingEvent pending)
    {
        var at = pending.At.UtcDateTime;
        var eventNamespace = string.IsNullOrEmpty(pending.Regarding.NamespaceProperty) ? "default" : pending.Regarding.NamespaceProperty;
        return new Corev1Event
        {
            Metadata = new V1ObjectMeta
            {
                // client-go's naming: the object's name and a unique hex suffix.
                Name = $"{pending.Regarding.Name}.{pending.At.ToUnixTimeMilliseconds() * 1_000_000 + Interlocked.Increment(ref _sequence):x}",
                NamespaceProperty = eventNamespace,
            },
            InvolvedObject = pending.Regarding,
            Type = pending.Type.ToString(),
            Reason = pending.Reason,
            Message = pending.Message,
            Source = new V1EventSource { Component = _options.Component },
            ReportingComponent = _options.Component,
            ReportingInstance = _options.Instance,
            FirstTimestamp = at,
            LastTimestamp = at,
            Count = 1,
        };
    }

    private static string ObjectKey(V1ObjectReference reference) =>
        reference.Uid ?? $"{reference.Kind}/{reference.NamespaceProperty}/{reference.Name}";

    private bool TakeToken(string objectKey, DateTimeOffset now)
    {
        lock (_lock)
        {
            if (_buckets.Count >= MaxTrackedObjects)
            {
                ForgetRefilledBuckets(now);
            }

            if (!_buckets.TryGetValue(objectKey, out var bucket))
            {
                bucket = new ObjectBucket(_options.BurstPerObject, now);
                _buckets[objectKey] = bucket;
            }

            var refill = (now - bucket.RefilledAt) / _options.RefillIntervalPerObject;
            if (refill >= 1)
            {
                var whole = Math.Floor(refill);
                bucket.Tokens = Math.Min(_options.BurstPerObject, bucket.Tokens + whole);
                bucket.RefilledAt += _options.RefillIntervalPerObject * whole;
            }

            if (bucket.Tokens < 1)
            {
                return false;
            }

            bucket.Tokens -= 1;
            return true;
        }
    }

    /// <summary>A bucket that has refilled completely is the same as a new one; dropping those bounds the memory
    /// held for objects that stopped sending Events (or were deleted).</summary>
    private void ForgetRefilledBuckets(DateTimeOffset now)
    {
        var refillTime = _options.RefillIntervalPerObject * _options.BurstPerObject;
        foreach (var (key, bucket) in _buckets.Where(entry => now - entry.Value.RefilledAt >= refillTime).ToList())
        {
            _buckets.Remove(key);
        }
    }

    private void ForgetExpired(Dictionary<EventIdentity, WrittenEvent> written, DateTimeOffset now)
    {
        if (written.Count < MaxTrackedObjects)
        {
            return;
        }

        foreach (var identity in written.Where(entry => now - entry.Value.LastSeen > _options.DeduplicationWindow).Select(entry => entry.Key).ToList())
        {
            written.Remove(identity);
        }
    }

    private static V1ObjectReference ReferenceTo(IKubernetesObject<V1ObjectMeta> regarding)
    {
        var (apiVersion, kind) = OwnerReferences.ApiVersionAndKind(regarding);
        return new V1ObjectReference
        {
            ApiVersion = apiVersion,
            Kind = kind,
            Name = regarding.Metadata.Name,
            NamespaceProperty = regarding.Metadata.NamespaceProperty,
            Uid = regarding.Metadata.Uid,
            ResourceVersion = regarding.Metadata.ResourceVersion,
        };
    }

    /// <summary>One writer: its queue, and the Events it wrote (touched only by its own loop).</summary>
    private sealed class Writer(int capacity)
    {
        public Channel<PendingEvent> Pending { get; } = Channel.CreateBounded<PendingEvent>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });

        public Dictionary<EventIdentity, WrittenEvent> Written { get; } = new();
    }

    private sealed record PendingEvent(V1ObjectReference Regarding, EventType Type, string Reason, string Message, DateTimeOffset At);

    private readonly record struct EventIdentity(string Regarding, EventType Type, string Reason, string Message);

    private sealed record WrittenEvent(string Namespace, string Name, int Count, DateTimeOffset LastSeen);

    private sealed class ObjectBucket(double tokens, DateTimeOffset refilledAt)
    {
        public double Tokens { get; set; } = tokens;

        public DateTimeOffset RefilledAt { get; set; } = refilledAt;
    }
}
