using k8s;
using k8s.Models;

namespace Nexus.Operator.Client;

/// <summary>One page of a list: the items, the resourceVersion the list is consistent at, and the token for the next
/// page (null on the last one).</summary>
public sealed record ResourcePage<T>(IReadOnlyList<T> Items, string ResourceVersion, string? Continue);

/// <summary>The two calls an informer needs from the API server for one kind, in one namespace or all.</summary>
public interface IListWatcher<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    /// <summary>The kind's name for logs and metric labels.</summary>
    string Kind { get; }

    /// <summary>Lists one page. A continue token the server has forgotten answers 410 (see <see cref="ApiErrors.IsGone"/>).</summary>
    Task<ResourcePage<T>> ListAsync(string? continueToken, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Watches from a resourceVersion with bookmarks. The sequence ends when the server closes the stream, or right after
    /// an <see cref="WatchEventKind.Expired"/> or <see cref="WatchEventKind.Error"/> event; transport failures throw.
    /// </summary>
    IAsyncEnumerable<WatchEvent<T>> WatchAsync(string resourceVersion, CancellationToken cancellationToken);
}
