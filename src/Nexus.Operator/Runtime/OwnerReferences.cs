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
