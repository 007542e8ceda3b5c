using k8s;
using k8s.Models;

namespace Nexus.Operator.Client;

/// <summary>Creates the list-watcher for a kind; the host uses the Kubernetes one, tests a scripted fake.</summary>
public interface IListWatcherFactory
{
    IListWatcher<T> Create<T>()
        where T : class, IKubernetesObject<V1ObjectMeta>;
}

/// <summary>List-watchers against a real API server, in one namespace or all: the built-in kinds the operator owns
/// through their typed calls, anything else as a custom resource.</summary>
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
        object listWatcher = typeof(T) switch
        {
            var type when type == typeof(V1Job) => KubernetesListWatchers.Jobs(_client, _namespace, _options),
            var type when type == typeof(V1Deployment) => KubernetesListWatchers.Deployments(_client, _namespace, _options),
            var type when type == typeof(V1Service) => KubernetesListWatchers.Services(_client, _namespace, _options),
            var type when type == typeof(V1Pod) => KubernetesListWatchers.Pods(_client, _namespace, _options),
            _ => KubernetesListWatchers.CustomResources<T>(_client, _namespace, _options),
        };
        return (IListWatcher<T>)listWatcher;
    }
}
