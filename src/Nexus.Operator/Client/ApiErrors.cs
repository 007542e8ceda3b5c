using System.Net;
using k8s;
using k8s.Autorest;

namespace Nexus.Operator.Client;

/// <summary>Classifies the API server's answers as client-go's <c>apierrors</c> does.</summary>
public static class ApiErrors
{
    public static HttpStatusCode? StatusCodeOf(Exception exception) => exception switch
    {
        HttpOperationException http when http.Response is not null => http.Response.StatusCode,
        KubernetesException { Status.Code: int code } => (HttpStatusCode)code,
        ResourceConflictException => HttpStatusCode.Conflict,
        _ => null,
    };

    /// <summary>409: a stale resourceVersion precondition (or an object that already exists).</summary>
    public static bool IsConflict(Exception exception) => StatusCodeOf(exception) == HttpStatusCode.Conflict;

    public static bool IsNotFound(Exception exception) => StatusCodeOf(exception) == HttpStatusCode.NotFound;

    /// <summary>410: the resourceVersion or continue token is older than the server's history.</summary>
    public static bool IsGone(Exception exception) => StatusCodeOf(exception) == HttpStatusCode.Gone;
}

/// <summary>A write to <see cref="Key"/> was refused because our copy (at <see cref="StaleResourceVersion"/>) is no longer
/// the latest. The controller re-queues the key once its cache has moved past that version.</summary>
public sealed class ResourceConflictException : Exception
{
    public ResourceConflictException(ResourceKey key, string? staleResourceVersion, Exception? inner = null)
        : base($"Conflict writing {key}: resourceVersion {staleResourceVersion} is no longer current.", inner)
    {
        Key = key;
        StaleResourceVersion = staleResourceVersion;
    }

    public ResourceKey Key { get; }

    public string? StaleResourceVersion { get; }
}
