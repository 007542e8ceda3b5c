using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Nexus.Operator.Client;

namespace Nexus.Operator.Runtime;

/// <summary>Controller ownerReferences: a child points at the one object that manages it, so the garbage collector
/// deletes it with its owner and the owner's controller hears about its changes.</summary>
public static class OwnerReferences
{
    /// <summary>The ownerReference making <paramref name="owner"/> its child's controller, with blockOwnerDeletion so a
    /// foreground delete of the owner waits for the child.</summary>
    public static V1OwnerReference ControllerReference(IKubernetesObject<V1ObjectMeta> owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        if (string.IsNullOrEmpty(owner.Metadata?.Uid))
        {
            throw new ArgumentException("The owner has no uid yet: it must be read from the API server first.", nameof(owner));
        }

        var (apiVersion, kind) = ApiVersionAndKind(owner);
        return new V1OwnerReference
        {
            ApiVersion = apiVersion,
            Kind = kind,
            Name = owner.Metadata.Name,
            Uid = owner.Metadata.Uid,
            Controller = true,
            BlockOwnerDeletion = true,
        };
    }

    /// <summary>Adds <paramref name="owner"/> as a plain (not controlling) owner of <paramref name="resource"/>, so the
    /// garbage collector deletes it with that owner, by a merge patch guarded by the resource's resourceVersion; returns
    /// the object to continue with (itself when the owner is there already).</summary>
    public static async Task<T> AddOwnerAsync<T>(IResourcePatcher<T> patcher, T resource, IKubernetesObject<V1ObjectMeta> owner, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var current = resource.Metadata.OwnerReferences ?? [];
        if (current.Any(reference => reference.Uid == owner.Metadata.Uid))
        {
            return resource;
        }

        var added = ControllerReference(owner);
        added.Controller = null;
        added.BlockOwnerDeletion = null;
        var patch = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["resourceVersion"] = resource.Metadata.ResourceVersion,
                ["ownerReferences"] = JsonNode.Parse(KubernetesJson.Serialize(current.Append(added).ToList())),
            },
        };
        var key = ResourceKey.Of(resource);
        try
        {
            return await patcher.PatchAsync(key, new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception conflict) when (ApiErrors.IsConflict(conflict) && conflict is not ResourceConflictException)
        {
            throw new ResourceConflictException(key, resource.Metadata.ResourceVersion, conflict);
        }
    }

    /// <summary>Makes <paramref name="owner"/> the child's controller.</summary>
    /// <exception cref="InvalidOperationException">Another object already controls the child.</exception>
    public static void SetController(IKubernetesObject<V1ObjectMeta> child, IKubernetesObject<V1ObjectMeta> owner)
    {
        var reference = ControllerReference(owner);
        var metadata = child.Metadata ??= new V1ObjectMeta();
        var existing = GetController(child);
        if (existing is not null && existing.Uid != reference.Uid)
        {
            throw new InvalidOperationException(
                $"{child.Kind} {ResourceKey.Of(child)} is already controlled by {existing.Kind} {existing.Name}.");
        }

        metadata.OwnerReferences ??= new List<V1OwnerReference>();
        var sameOwner = metadata.OwnerReferences.FirstOrDefault(candidate => candidate.Uid == reference.Uid);
        if (sameOwner is not null)
        {
            metadata.OwnerReferences.Remove(sameOwner);
        }

        metadata.OwnerReferences.Add(reference);
    }

    public static V1OwnerReference? GetController(IKubernetesObject<V1ObjectMeta> resource) =>
        resource.Metadata?.OwnerReferences?.FirstOrDefault(reference => reference.Controller == true);

    public static bool IsControlledBy(IKubernetesObject<V1ObjectMeta> child, IKubernetesObject<V1ObjectMeta> owner) =>
        GetController(child)?.Uid is { } uid && uid == owner.Metadata?.Uid;

    /// <summary>Objects read from a list often lack apiVersion and kind; the type's [KubernetesEntity] has them.</summary>
    internal static (string ApiVersion, string Kind) ApiVersionAndKind(IKubernetesObject<V1ObjectMeta> resource)
    {
        if (!string.IsNullOrEmpty(resource.ApiVersion) && !string.IsNullOrEmpty(resource.Kind))
        {
            return (resource.ApiVersion, resource.Kind);
        }

        var type = ResourceType.Of(resource.GetType());
        return (type.ApiVersion, type.Kind);
    }
}
