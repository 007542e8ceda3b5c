using k8s;
using k8s.Models;

namespace Nexus.Operator.Client;

/// <summary>Patches objects of one kind and their status subresource.</summary>
public interface IResourcePatcher<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    Task<T> PatchAsync(ResourceKey key, V1Patch patch, CancellationToken cancellationToken);

    Task<T> PatchStatusAsync(ResourceKey key, V1Patch patch, CancellationToken cancellationToken);
}

/// <summary>Patches a custom resource through the CustomObjects API.</summary>
public sealed class CustomResourcePatcher<T> : IResourcePatcher<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly IKubernetes _client;
    private readonly ResourceType _type = ResourceType.Of<T>();

    public CustomResourcePatcher(IKubernetes client)
    {
        _client = client;
    }

    public Task<T> PatchAsync(ResourceKey key, V1Patch patch, CancellationToken cancellationToken) =>
        key.Namespace is null
            ? _client.CustomObjects.PatchClusterCustomObjectAsync<T>(
                patch, _type.Group, _type.Version, _type.Plural, key.Name, cancellationToken: cancellationToken)
            : _client.CustomObjects.PatchNamespacedCustomObjectAsync<T>(
                patch, _type.Group, _type.Version, key.Namespace, _type.Plural, key.Name, cancellationToken: cancellationToken);

    public Task<T> PatchStatusAsync(ResourceKey key, V1Patch patch, CancellationToken cancellationToken) =>
        key.Namespace is null
            ? _client.CustomObjects.PatchClusterCustomObjectStatusAsync<T>(
                patch, _type.Group, _type.Version, _type.Plural, key.Name, cancellationToken: cancellationToken)
            : _client.CustomObjects.PatchNamespacedCustomObjectStatusAsync<T>(
                patch, _type.Group, _type.Version, key.Namespace, _type.Plural, key.Name, cancellationToken: cancellationToken);
}

/// <summary>Creates the patcher for a kind; the host uses the Kubernetes one, tests a recording fake.</summary>
public interface IResourcePatcherFactory
{
    IResourcePatcher<T> Create<T>()
        where T : class, IKubernetesObject<V1ObjectMeta>;
}

public sealed class CustomResourcePatcherFactory : IResourcePatcherFactory
{
    private readonly IKubernetes _client;

    public CustomResourcePatcherFactory(IKubernetes client)
    {
        _client = client;
    }

    public IResourcePatcher<T> Create<T>()
        where T : class, IKubernetesObject<V1ObjectMeta> => new CustomResourcePatcher<T>(_client);
}
