using k8s;
using k8s.Models;

namespace Nexus.Operator.Client;

/// <summary>Narrows what an informer lists and watches.</summary>
public sealed record ListWatchOptions
{
    public string? LabelSelector { get; init; }

    public string? FieldSelector { get; init; }

    /// <summary>The server closes each watch after a random time between this and twice this (client-go's
    /// reflector does the same), so watches are renewed regularly and spread out across replicas.</summary>
    public TimeSpan MinWatchTimeout { get; init; } = TimeSpan.FromMinutes(5);

    internal int NextWatchTimeoutSeconds() =>
        (int)Math.Ceiling(MinWatchTimeout.TotalSeconds * (1 + Random.Shared.NextDouble()));
}

/// <summary>List-watchers for the kinds the operator reads: its custom resources and the built-in kinds it owns.</summary>
public static class KubernetesListWatchers
{
    /// <summary>The list-watcher for <typeparamref name="T"/>: a kind in a named API group (custom resources, batch/v1
    /// Jobs, apps/v1 Deployments, ...) through the group/version/plural paths, a core-group kind through its typed calls.</summary>
    /// <param name="namespace">The namespace to watch, or null for all namespaces.</param>
    public static IListWatcher<T> For<T>(IKubernetes client, string? @namespace, ListWatchOptions? options = null)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        options ??= new ListWatchOptions();
        if (!string.IsNullOrEmpty(ResourceType.Of<T>().Group))
            return new GroupResourceListWatcher<T>(client, @namespace, options);

        object core = typeof(T) switch
        {
            var type when type == typeof(V1Service) => Services(client, @namespace, options),
            var type when type == typeof(V1Pod) => Pods(client, @namespace, options),
            var type => throw new NotSupportedException($"No list-watcher for the core kind {type.Name}: add its typed calls here."),
        };
        return (IListWatcher<T>)core;
    }

    private static IListWatcher<V1Service> Services(IKubernetes client, string? @namespace, ListWatchOptions options)
    {
        return new TypedListWatcher<V1Service, V1ServiceList>(
            "Service",
            (continueToken, limit, ct) => @namespace is null
                ? client.CoreV1.ListServiceForAllNamespacesAsync(continueParameter: continueToken, limit: limit,
                    labelSelector: options.LabelSelector, fieldSelector: options.FieldSelector, cancellationToken: ct)
                : client.CoreV1.ListNamespacedServiceAsync(@namespace, continueParameter: continueToken, limit: limit,
                    labelSelector: options.LabelSelector, fieldSelector: options.FieldSelector, cancellationToken: ct),
            (resourceVersion, onError, ct) => @namespace is null
                ? client.CoreV1.WatchListServiceForAllNamespacesAsync(allowWatchBookmarks: true, resourceVersion: resourceVersion,
                    timeoutSeconds: options.NextWatchTimeoutSeconds(), labelSelector: options.LabelSelector,
                    fieldSelector: options.FieldSelector, onError: onError, cancellationToken: ct)
                : client.CoreV1.WatchListNamespacedServiceAsync(@namespace, allowWatchBookmarks: true, resourceVersion: resourceVersion,
                    timeoutSeconds: options.NextWatchTimeoutSeconds(), labelSelector: options.LabelSelector,
                    fieldSelector: options.FieldSelector, onError: onError, cancellationToken: ct));
    }

    private static IListWatcher<V1Pod> Pods(IKubernetes client, string? @namespace, ListWatchOptions options)
    {
        return new TypedListWatcher<V1Pod, V1PodList>(
            "Pod",
            (continueToken, limit, ct) => @namespace is null
                ? client.CoreV1.ListPodForAllNamespacesAsync(continueParameter: continueToken, limit: limit,
                    labelSelector: options.LabelSelector, fieldSelector: options.FieldSelector, cancellationToken: ct)
                : client.CoreV1.ListNamespacedPodAsync(@namespace, continueParameter: continueToken, limit: limit,
                    labelSelector: options.LabelSelector, fieldSelector: options.FieldSelector, cancellationToken: ct),
            (resourceVersion, onError, ct) => @namespace is null
                ? client.CoreV1.WatchListPodForAllNamespacesAsync(allowWatchBookmarks: true, resourceVersion: resourceVersion,
                    timeoutSeconds: options.NextWatchTimeoutSeconds(), labelSelector: options.LabelSelector,
                    fieldSelector: options.FieldSelector, onError: onError, cancellationToken: ct)
                : client.CoreV1.WatchListNamespacedPodAsync(@namespace, allowWatchBookmarks: true, resourceVersion: resourceVersion,
                    timeoutSeconds: options.NextWatchTimeoutSeconds(), labelSelector: options.LabelSelector,
                    fieldSelector: options.FieldSelector, onError: onError, cancellationToken: ct));
    }
}

/// <summary>A kind in a named API group (a custom resource, or a built-in such as batch/v1 Job) through the
/// CustomObjects API's /apis/{group}/{version}/{plural} paths, which return untyped JSON; items are deserialised into
/// <typeparamref name="T"/> with KubernetesClient's serializer settings. (The core group's /api/v1 paths are not
/// reachable this way, hence the typed calls for Services and Pods.)</summary>
internal sealed class GroupResourceListWatcher<T> : IListWatcher<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly IKubernetes _client;
    private readonly string? _namespace;
    private readonly ListWatchOptions _options;
    private readonly ResourceType _type = ResourceType.Of<T>();

    public GroupResourceListWatcher(IKubernetes client, string? @namespace, ListWatchOptions options)
    {
        _client = client;
        _namespace = @namespace;
        _options = options;
    }

    public string Kind => _type.Kind;

    public async Task<ResourcePage<T>> ListAsync(string? continueToken, int limit, CancellationToken cancellationToken)
    {
        var list = _namespace is null
            ? await _client.CustomObjects.ListCustomObjectForAllNamespacesAsync<KubernetesList<T>>(
                _type.Group, _type.Version, _type.Plural, continueParameter: continueToken, limit: limit,
                labelSelector: _options.LabelSelector, fieldSelector: _options.FieldSelector,
                cancellationToken: cancellationToken).ConfigureAwait(false)
            : await _client.CustomObjects.ListNamespacedCustomObjectAsync<KubernetesList<T>>(
                _type.Group, _type.Version, _namespace, _type.Plural, continueParameter: continueToken, limit: limit,
                labelSelector: _options.LabelSelector, fieldSelector: _options.FieldSelector,
                cancellationToken: cancellationToken).ConfigureAwait(false);
        return new ResourcePage<T>(
            list.Items?.ToList() ?? [], list.Metadata?.ResourceVersion ?? "", NullIfEmpty(list.Metadata?.ContinueProperty));
    }

    public IAsyncEnumerable<WatchEvent<T>> WatchAsync(string resourceVersion, CancellationToken cancellationToken) =>
        KubernetesWatchStream.ReadAsync<T, object>(
            (onError, ct) => _namespace is null
                ? _client.CustomObjects.WatchListCustomObjectForAllNamespacesAsync(
                    _type.Group, _type.Version, _type.Plural, allowWatchBookmarks: true, resourceVersion: resourceVersion,
                    timeoutSeconds: _options.NextWatchTimeoutSeconds(), labelSelector: _options.LabelSelector,
                    fieldSelector: _options.FieldSelector, onError: onError, cancellationToken: ct)
                : _client.CustomObjects.WatchListNamespacedCustomObjectAsync(
                    _type.Group, _type.Version, _namespace, _type.Plural, allowWatchBookmarks: true,
                    resourceVersion: resourceVersion, timeoutSeconds: _options.NextWatchTimeoutSeconds(),
                    labelSelector: _options.LabelSelector, fieldSelector: _options.FieldSelector, onError: onError,
                    cancellationToken: ct),
            ToResource,
            cancellationToken);

    private static T ToResource(object raw) => raw switch
    {
        System.Text.Json.JsonElement element => KubernetesJson.Deserialize<T>(element),
        T typed => typed,
        _ => KubernetesJson.Deserialize<T>(KubernetesJson.Serialize(raw)),
    };

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

/// <summary>A core-group kind through its typed list and watch calls.</summary>
internal sealed class TypedListWatcher<T, TList> : IListWatcher<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
    where TList : IItems<T>, IMetadata<V1ListMeta>
{
    private readonly Func<string?, int, CancellationToken, Task<TList>> _list;
    private readonly Func<string, Action<Exception>, CancellationToken, IAsyncEnumerable<(WatchEventType, T)>> _watch;

    public TypedListWatcher(
        string kind,
        Func<string?, int, CancellationToken, Task<TList>> list,
        Func<string, Action<Exception>, CancellationToken, IAsyncEnumerable<(WatchEventType, T)>> watch)
    {
        Kind = kind;
        _list = list;
        _watch = watch;
    }

    public string Kind { get; }

    public async Task<ResourcePage<T>> ListAsync(string? continueToken, int limit, CancellationToken cancellationToken)
    {
        var list = await _list(continueToken, limit, cancellationToken).ConfigureAwait(false);
        var continueProperty = list.Metadata?.ContinueProperty;
        return new ResourcePage<T>(
            list.Items?.ToList() ?? [],
            list.Metadata?.ResourceVersion ?? "",
            string.IsNullOrEmpty(continueProperty) ? null : continueProperty);
    }

    public IAsyncEnumerable<WatchEvent<T>> WatchAsync(string resourceVersion, CancellationToken cancellationToken) =>
        KubernetesWatchStream.ReadAsync<T, T>(
            (onError, ct) => _watch(resourceVersion, onError, ct),
            resource => resource,
            cancellationToken);
}
