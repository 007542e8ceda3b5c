using k8s;
using k8s.Models;

namespace Nexus.Operator.Client;

/// <summary>An object's identity within its kind: namespace (null for cluster-scoped kinds) and name. The work queue's
/// key, so a burst of changes to one object becomes one reconcile of its latest state.</summary>
public readonly record struct ResourceKey(string? Namespace, string Name)
{
    public static ResourceKey Of(IKubernetesObject<V1ObjectMeta> resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        var metadata = resource.Metadata ?? throw new ArgumentException("The object has no metadata.", nameof(resource));
        return new ResourceKey(string.IsNullOrEmpty(metadata.NamespaceProperty) ? null : metadata.NamespaceProperty, metadata.Name);
    }

    public override string ToString() => Namespace is null ? Name : $"{Namespace}/{Name}";
}
