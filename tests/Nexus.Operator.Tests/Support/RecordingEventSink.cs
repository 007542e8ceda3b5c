using k8s.Models;
using Nexus.Operator.Events;

namespace Nexus.Operator.Tests.Support;

/// <summary>Keeps Events in memory, like the API server's events endpoint.</summary>
public sealed class RecordingEventSink : IEventSink
{
    private readonly Dictionary<(string, string), Corev1Event> _events = new();

    private int _waiting;

    public List<string> Calls { get; } = new();

    /// <summary>Calls that have reached the <see cref="Gate"/>.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>When set, calls wait for it (to fill the recorder's queue).</summary>
    public TaskCompletionSource? Gate { get; set; }

    public Exception? FailWith { get; set; }

    public IReadOnlyList<Corev1Event> Events
    {
        get
        {
            lock (_events)
            {
                return _events.Values.ToList();
            }
        }
    }

    public async Task<Corev1Event> CreateAsync(Corev1Event newEvent, CancellationToken cancellationToken)
    {
        if (Gate is { } gate)
        {
            Interlocked.Increment(ref _waiting);
            await gate.Task.WaitAsync(cancellationToken);
        }

        lock (_events)
        {
            Calls.Add($"create {newEvent.Reason}");
            if (FailWith is { } failure)
            {
                throw failure;
            }

            _events[(newEvent.Metadata.NamespaceProperty, newEvent.Metadata.Name)] = newEvent;
            return newEvent;
        }
    }

    public Task PatchCountAsync(string @namespace, string name, int count, DateTimeOffset lastTimestamp, CancellationToken cancellationToken)
    {
        lock (_events)
        {
            Calls.Add($"patch {name} {count}");
            if (FailWith is { } failure)
            {
                throw failure;
            }

            if (!_events.TryGetValue((@namespace, name), out var existing))
            {
                throw FakeResourceServer<Corev1Event>.HttpError(System.Net.HttpStatusCode.NotFound);
            }

            existing.Count = count;
            existing.LastTimestamp = lastTimestamp.UtcDateTime;
            return Task.CompletedTask;
        }
    }

    public void Clear()
    {
        lock (_events)
        {
            _events.Clear();
        }
    }
}
