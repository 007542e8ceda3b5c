using Nexus.ApiServer.Storage;

namespace Nexus.ApiServer.Watch;

/// <summary>The open watches, for tests that wait for a client to be watching or want a bookmark now.</summary>
public sealed class WatchRegistry
{
    private readonly ObjectStore store;

    internal WatchRegistry(ObjectStore store) => this.store = store;

    /// <summary>Watches open right now.</summary>
    public int Count => store.OpenWatchCount;

    /// <summary>Sends a BOOKMARK at the current resourceVersion to every watch that allows bookmarks.</summary>
    public void SendBookmarks() => store.Bookmark();

    /// <summary>Completes when at least <paramref name="count"/> watches are open.</summary>
    public Task WaitForCountAsync(int count, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Waiting.UntilAsync(() => Count >= count, store, timeout, $"{count} open watches", cancellationToken);
}

/// <summary>Waits on a condition over server state, re-checking at every commit and on a short poll.</summary>
internal static class Waiting
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(10);

    public static async Task UntilAsync(Func<bool> condition, ObjectStore store, TimeSpan? timeout, string what, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout ?? TimeSpan.FromSeconds(5));
        try
        {
            while (!condition())
            {
                var changed = store.WaitForChangeAsync(limit.Token);
                await Task.WhenAny(changed, Task.Delay(Poll, limit.Token));
                limit.Token.ThrowIfCancellationRequested();
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Timed out waiting for {what}.");
        }
    }
}
