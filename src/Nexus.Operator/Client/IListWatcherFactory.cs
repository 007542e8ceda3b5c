using k8s;
using k8s.Models;

namespace Nexus.Operator.Client;

/// <summary>Creates the list-watcher for a kind; the host uses the Kubernetes one, tests a scripted fake.</summary>
public interface IListWatcherFactory
{
    IListWatcher<T> Create<T>()
        where T : class, IKubernetesObject<V1ObjectMeta>;
}

/// <summary>List-watchers against a real API server, in one namespace or all (<see cref="KubernetesListWatchers.For{T}"/>).</summary>
public sealed class KubernetesListWatcherFactory : IListWatcherFactory
{
    private readonly IKubernetes _client;
    private readonly string? _namespace;
    private readonly ListWatchOptions _options;

    public KubernetesListWatcherFactory(IKubernetes client, string? @namespace, ListWatchOptions? options = null)
    {
        _client = client;
        _namespace = @namespace;
        _options = options ?? new ListWatchOptions();
    }

    public IListWatcher<T> Create<T>()
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        return KubernetesListWatchers.For<T>(_client, _namespace, _options);
    }
}
