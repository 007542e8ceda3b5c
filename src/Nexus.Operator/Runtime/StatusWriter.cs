using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Nexus.Api;
using Nexus.Operator.Client;

namespace Nexus.Operator.Runtime;

/// <summary>Whether a status write went to the server, and the object to continue with (the server's answer when
/// written, the cached object otherwise).</summary>
public sealed record StatusWriteResult<T>(bool Written, T Resource);

/// <summary>Writes a resource's status subresource from a reconcile.</summary>
public interface IStatusWriter<T>
    where T : class, INexusResource
{
    /// <summary>
    /// Applies <paramref name="update"/> to a copy of <paramref name="resource"/> (the cached object stays untouched),
    /// sets <c>status.observedGeneration</c> to <c>metadata.generation</c>, and writes the status only when it differs
    /// from the cached one, so an unchanged world costs no API call.
    /// </summary>
    /// <exception cref="ResourceConflictException">The cached copy is stale (409); the controller re-queues.</exception>
    Task<StatusWriteResult<T>> UpdateAsync(T resource, Action<T> update, CancellationToken cancellationToken);
}

/// <summary>
/// Writes status as a JSON merge patch to <c>/status</c> carrying <c>metadata.resourceVersion</c> as a precondition.
/// </summary>
/// <remarks>
/// Why a merge patch rather than a PUT of the whole object: it sends only the status members that changed (with null
/// for removed ones), so status fields this build does not know about, written by a newer operator or another tool,
/// survive; and the resourceVersion in the patch gives the same optimistic concurrency as a PUT: a status computed
/// from a stale observation is refused with 409 instead of overwriting a newer one. A 409 is surfaced, never retried
/// here: the reconcile runs again on the fresher object once the informer has it.
/// </remarks>
public sealed class StatusWriter<T> : IStatusWriter<T>
    where T : class, INexusResource
{
    private readonly IResourcePatcher<T> _patcher;

    public StatusWriter(IResourcePatcher<T> patcher)
    {
        _patcher = patcher;
    }

    public async Task<StatusWriteResult<T>> UpdateAsync(T resource, Action<T> update, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        ArgumentNullException.ThrowIfNull(update);

        var desired = ResourceCopy.Deep(resource);
        update(desired);
        desired.EnsureStatus().ObservedGeneration = desired.Metadata.Generation;

        var currentStatus = ResourceCopy.ToJson(resource)?["status"];
        var desiredStatus = ResourceCopy.ToJson(desired)?["status"];
        if (JsonNode.DeepEquals(currentStatus, desiredStatus))
        {
            return new StatusWriteResult<T>(false, resource);
        }

        var resourceVersion = resource.Metadata.ResourceVersion;
        var patch = new JsonObject
        {
            ["metadata"] = new JsonObject { ["resourceVersion"] = resourceVersion },
            ["status"] = JsonMergePatch.Create(currentStatus, desiredStatus),
        };

        var key = ResourceKey.Of(resource);
        try
        {
            var written = await _patcher.PatchStatusAsync(
                key, new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), cancellationToken).ConfigureAwait(false);
            return new StatusWriteResult<T>(true, written);
        }
        catch (Exception conflict) when (ApiErrors.IsConflict(conflict) && conflict is not ResourceConflictException)
        {
            throw new ResourceConflictException(key, resourceVersion, conflict);
        }
    }
}
