using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Nexus.Operator.Client;

namespace Nexus.Operator.Runtime;

/// <summary>
/// Adds and removes finalizers with a JSON merge patch of <c>metadata.finalizers</c> that carries the object's
/// resourceVersion.
/// </summary>
/// <remarks>
/// A merge patch replaces the finalizer list whole, so the resourceVersion precondition is what keeps it from
/// clobbering a finalizer another controller added meanwhile: that change moved the resourceVersion, and our patch is
/// refused with 409 (surfaced as <see cref="ResourceConflictException"/>) instead of dropping theirs. Never a full
/// update, which would also rewrite spec and labels from a possibly stale copy.
/// Add the finalizer before creating anything outside the cluster, and remove it only after that cleanup is done.
/// </remarks>
public static class Finalizers
{
    /// <summary>Adds the finalizer unless present; returns the object to continue with.</summary>
    public static async Task<T> AddAsync<T>(IResourcePatcher<T> patcher, T resource, string finalizer, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var current = resource.Metadata.Finalizers ?? [];
        if (current.Contains(finalizer))
        {
            return resource;
        }

        return await PatchAsync(patcher, resource, current.Append(finalizer), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes the finalizer if present; returns the object to continue with.</summary>
    public static async Task<T> RemoveAsync<T>(IResourcePatcher<T> patcher, T resource, string finalizer, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var current = resource.Metadata.Finalizers ?? [];
        if (!current.Contains(finalizer))
        {
            return resource;
        }

        return await PatchAsync(patcher, resource, current.Where(name => name != finalizer), cancellationToken).ConfigureAwait(false);
    }

    public static bool Has(IKubernetesObject<V1ObjectMeta> resource, string finalizer) =>
        resource.Metadata.Finalizers?.Contains(finalizer) == true;

    /// <summary>Whether the object is being deleted (deletionTimestamp set): time to clean up and remove finalizers.</summary>
    public static bool IsDeleting(IKubernetesObject<V1ObjectMeta> resource) => resource.Metadata.DeletionTimestamp is not null;

    private static async Task<T> PatchAsync<T>(IResourcePatcher<T> patcher, T resource, IEnumerable<string> finalizers, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var list = new JsonArray(finalizers.Select(name => (JsonNode?)JsonValue.Create(name)).ToArray());
        var patch = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["resourceVersion"] = resource.Metadata.ResourceVersion,
                ["finalizers"] = list,
            },
        };

        var key = ResourceKey.Of(resource);
        try
        {
            return await patcher.PatchAsync(key, new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), cancellationToken)
                .ConfigureAwait(false);
        }
        catch (Exception conflict) when (ApiErrors.IsConflict(conflict) && conflict is not ResourceConflictException)
        {
            throw new ResourceConflictException(key, resource.Metadata.ResourceVersion, conflict);
        }
    }
}
