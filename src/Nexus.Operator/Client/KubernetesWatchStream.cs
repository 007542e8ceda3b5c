using System.Net;
using System.Runtime.CompilerServices;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Nexus.Operator.Client;

/// <summary>
/// Turns KubernetesClient's watch enumerables into <see cref="WatchEvent{T}"/> streams that end on a Status error.
/// </summary>
/// <remarks>
/// KubernetesClient does not throw when the stream carries a <c>Status</c> object: it passes a
/// <see cref="KubernetesException"/> to the error callback and keeps reading until the server closes, so a watch
/// whose resourceVersion expired would otherwise just look quiet. The callback here records the error and cancels
/// the read; the stream then yields one <see cref="WatchEventKind.Expired"/> (410) or <see cref="WatchEventKind.Error"/>
/// event and ends.
/// </remarks>
internal static class KubernetesWatchStream
{
    public delegate IAsyncEnumerable<(WatchEventType Type, TRaw Object)> OpenWatch<TRaw>(
        Action<Exception> onError, CancellationToken cancellationToken);

    public static async IAsyncEnumerable<WatchEvent<T>> ReadAsync<T, TRaw>(
        OpenWatch<TRaw> open,
        Func<TRaw, T> convert,
        [EnumeratorCancellation] CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        using var stopReading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Exception? streamError = null;

        void OnError(Exception error)
        {
            streamError ??= error;
            stopReading.Cancel();
        }

        var enumerator = open(OnError, stopReading.Token).GetAsyncEnumerator(stopReading.Token);
        try
        {
            while (true)
            {
                var hasEvent = false;
                try
                {
                    hasEvent = await enumerator.MoveNextAsync().ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (streamError is not null && !cancellationToken.IsCancellationRequested)
                {
                    // Our own cancellation after the error callback: report the error below.
                }
                catch (HttpOperationException refused) when (refused.Response?.StatusCode == HttpStatusCode.Gone)
                {
                    // Some servers refuse an expired watch with an HTTP 410 instead of a Status event.
                    streamError = refused;
                }

                if (streamError is not null)
                {
                    yield return ToEndingEvent<T>(streamError);
                    yield break;
                }

                if (!hasEvent)
                {
                    yield break;
                }

                var (type, raw) = enumerator.Current;
                switch (type)
                {
                    case WatchEventType.Added:
                        yield return WatchEvent<T>.Added(convert(raw));
                        break;
                    case WatchEventType.Modified:
                        yield return WatchEvent<T>.Modified(convert(raw));
                        break;
                    case WatchEventType.Deleted:
                        yield return WatchEvent<T>.Deleted(convert(raw));
                        break;
                    case WatchEventType.Bookmark:
                        yield return WatchEvent<T>.Bookmark(convert(raw));
                        break;
                    default:
                        yield return WatchEvent<T>.Error(new V1Status { Status = "Failure", Message = $"Unexpected watch event {type}." });
                        yield break;
                }
            }
        }
        finally
        {
            await enumerator.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static WatchEvent<T> ToEndingEvent<T>(Exception error)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        if (ApiErrors.IsGone(error))
        {
            return WatchEvent<T>.Expired((error as KubernetesException)?.Status);
        }

        if (error is KubernetesException { Status: { } status })
        {
            return WatchEvent<T>.Error(status);
        }

        // An undecodable line or a transport failure: the informer backs off and watches again.
        throw new IOException($"Watch stream failed: {error.Message}", error);
    }
}
