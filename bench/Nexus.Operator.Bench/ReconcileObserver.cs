using System.Diagnostics;
using System.Text.Json;
using k8s;
using k8s.Models;
using Nexus.Api.V1Alpha1;

namespace Nexus.Operator.Bench;

/// <summary>
/// Watches Experts and Jobs in a namespace and completes <see cref="AllReconciled"/> (with a <see cref="Stopwatch"/>
/// timestamp) once every named Expert's status shows <c>observedGeneration == metadata.generation</c> and a Job whose
/// controller is that Expert exists: the first reconcile of each Expert is done. Watching rather than polling keeps the
/// observation cheap and its timing exact to the event.
/// </summary>
internal sealed class ReconcileObserver : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly HashSet<string> _statusPending;
    private readonly HashSet<string> _jobPending;
    private readonly TaskCompletionSource<long> _allReconciled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private Task _watches = Task.CompletedTask;

    private ReconcileObserver(IEnumerable<string> names)
    {
        _statusPending = names.ToHashSet(StringComparer.Ordinal);
        _jobPending = _statusPending.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>The <see cref="Stopwatch"/> timestamp of the event that completed the last Expert; faults if a watch
    /// fails before then.</summary>
    public Task<long> AllReconciled => _allReconciled.Task;

    public static async Task<ReconcileObserver> StartAsync(IKubernetes client, string @namespace, IReadOnlyCollection<string> names, CancellationToken cancellationToken)
    {
        var observer = new ReconcileObserver(names);
        var experts = (JsonElement)await client.CustomObjects.ListNamespacedCustomObjectAsync(
            Expert.KubeGroup, Expert.KubeApiVersion, @namespace, Expert.KubePluralName, cancellationToken: cancellationToken);
        foreach (var expert in experts.GetProperty("items").EnumerateArray())
        {
            observer.OnExpert(expert);
        }

        var jobs = await client.BatchV1.ListNamespacedJobAsync(@namespace, cancellationToken: cancellationToken);
        foreach (var job in jobs.Items)
        {
            observer.OnJob(job);
        }

        var token = observer._stop.Token;
        observer._watches = Task.WhenAll(
            observer.WatchAsync("Expert", client.CustomObjects.WatchListNamespacedCustomObjectAsync(
                Expert.KubeGroup, Expert.KubeApiVersion, @namespace, Expert.KubePluralName, allowWatchBookmarks: true,
                resourceVersion: experts.GetProperty("metadata").GetProperty("resourceVersion").GetString(),
                onError: observer.OnWatchError, cancellationToken: token), raw => observer.OnExpert((JsonElement)raw)),
            observer.WatchAsync("Job", client.BatchV1.WatchListNamespacedJobAsync(
                @namespace, allowWatchBookmarks: true, resourceVersion: jobs.Metadata.ResourceVersion,
                onError: observer.OnWatchError, cancellationToken: token), observer.OnJob));
        return observer;
    }

    /// <summary>How many Experts are still waiting and for what, with a few names, for a timeout's message.</summary>
    public string DescribeWaiting()
    {
        lock (_lock)
        {
            return $"{_statusPending.Count} without their generation observed in status (e.g. {string.Join(", ", _statusPending.Order().Take(5))}), " +
                   $"{_jobPending.Count} without a Job (e.g. {string.Join(", ", _jobPending.Order().Take(5))})";
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _watches;
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private async Task WatchAsync<T>(string kind, IAsyncEnumerable<(WatchEventType Type, T Object)> events, Action<T> onChange)
    {
        try
        {
            await foreach (var (type, changed) in events)
            {
                if (type is WatchEventType.Added or WatchEventType.Modified)
                {
                    onChange(changed);
                }
            }

            if (!_stop.IsCancellationRequested)
            {
                Fail(new InvalidOperationException($"The observer's {kind} watch ended before every Expert was reconciled."));
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception failure)
        {
            Fail(new InvalidOperationException($"The observer's {kind} watch failed: {failure.Message}", failure));
        }
    }

    private void OnExpert(JsonElement expert)
    {
        var metadata = expert.GetProperty("metadata");
        var name = metadata.GetProperty("name").GetString();
        var generation = metadata.TryGetProperty("generation", out var g) ? g.GetInt64() : (long?)null;
        var observed = expert.TryGetProperty("status", out var status) && status.TryGetProperty("observedGeneration", out var o)
            ? o.GetInt64()
            : (long?)null;
        if (name is not null && generation is not null && observed == generation)
        {
            Settle(_statusPending, name);
        }
    }

    private void OnJob(V1Job job)
    {
        var controller = job.Metadata?.OwnerReferences?.FirstOrDefault(owner => owner.Controller == true);
        if (controller is { Kind: Expert.KubeKind })
        {
            Settle(_jobPending, controller.Name);
        }
    }

    private void Settle(HashSet<string> pending, string name)
    {
        var now = Stopwatch.GetTimestamp();
        lock (_lock)
        {
            if (pending.Remove(name) && _statusPending.Count == 0 && _jobPending.Count == 0)
            {
                _allReconciled.TrySetResult(now);
            }
        }
    }

    private void OnWatchError(Exception failure) =>
        Fail(new InvalidOperationException($"The observer's watch reported an error: {failure.Message}", failure));

    private void Fail(Exception failure) => _allReconciled.TrySetException(failure);
}
