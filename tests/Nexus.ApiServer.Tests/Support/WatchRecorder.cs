using System.Collections.Concurrent;
using System.Threading.Channels;
using k8s;

namespace Nexus.ApiServer.Tests.Support;

/// <summary>Collects what a KubernetesClient <see cref="Watcher{T}"/> reports: events in order, errors, and close.</summary>
internal sealed class WatchRecorder<T> : IDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);
    private readonly Channel<(WatchEventType Type, T Object)> events = Channel.CreateUnbounded<(WatchEventType, T)>();
    private readonly TaskCompletionSource closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource errored = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Watcher<T>? Watcher { get; set; }

    public ConcurrentQueue<Exception> Errors { get; } = new();

    public void OnEvent(WatchEventType type, T obj) => events.Writer.TryWrite((type, obj));

    public void OnError(Exception error)
    {
        Errors.Enqueue(error);
        errored.TrySetResult();
    }

    public void OnClosed() => closed.TrySetResult();

    public async Task<(WatchEventType Type, T Object)> NextAsync(TimeSpan? timeout = null)
    {
        using var limit = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            return await events.Reader.ReadAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No watch event arrived; errors: {string.Join("; ", Errors.Select(e => e.Message))}");
        }
    }

    public async Task<List<(WatchEventType Type, T Object)>> NextAsync(int count)
    {
        var result = new List<(WatchEventType, T)>();
        for (var i = 0; i < count; i++)
        {
            result.Add(await NextAsync());
        }

        return result;
    }

    /// <summary>The next event that is not a bookmark.</summary>
    public async Task<(WatchEventType Type, T Object)> NextChangeAsync()
    {
        while (true)
        {
            var next = await NextAsync();
            if (next.Type != WatchEventType.Bookmark)
            {
                return next;
            }
        }
    }

    public Task Closed => closed.Task.WaitAsync(DefaultTimeout);

    public Task FirstError => errored.Task.WaitAsync(DefaultTimeout);

    public void Dispose() => Watcher?.Dispose();
}
