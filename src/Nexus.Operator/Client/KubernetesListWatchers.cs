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
    /// <param name="namespace">The namespace to watch, or null for all namespaces.</param>
    public static IListWatcher<T> CustomResources<T>(IKubernetes client, string? @namespace, ListWatchOptions? options = null)
        where T : class, IKubernetesObject<V1ObjectMeta> =>
        new CustomResourceListWatcher<T>(client, @namespace, options ?? new ListWatchOptions());

    public static IListWatcher<V1Job> Jobs(IKubernetes client, string? @namespace, ListWatchOptions? options = null)
    {
        options ??= new ListWatchOptions();
        return new TypedListWatcher<V1Job, V1JobList>(
            "Job",
            (continueToken, limit, ct) => @namespace is null
                ? client.BatchV1.ListJobForAllNamespacesAsync(continueParameter: continueToken, limit: limit,
                    labelSelector: options.LabelSelector, fieldSelector: options.FieldSelector, cancellationToken: ct)
                : client.BatchV1.ListNamespacedJobAsync(@namespace, continueParameter: continueToken, limit: limit,
                    labelSelector: options.LabelSelector, fieldSelector: options.FieldSelector, cancellationToken: ct),
            (resourceVersion, onError, ct) => @namespace is null
                ? client.BatchV1.WatchListJobForAllNamespacesAsync(allowWatchBookmarks: true, resourceVersion: resourceVersion,
                    timeoutSeconds: options.NextWatchTimeoutSeconds(), labelSelector: options.LabelSelector,
                    fieldSelector: options.FieldSelector, onError: onError, cancellationToken: ct)
                : client.BatchV1.WatchListNamespacedJobAsync(@namespace, allowWatchBookmarks: true, resourceVersion: resourceVersion,
                    timeoutSeconds: options.NextWatchTimeoutSeconds(), labelSelector: options.LabelSelector,
                    fieldSelector: options.FieldSelector, onError: onError, cancellationToken: ct));
    }

    public static IListWatcher<V1Deployment> Deployments(IKubernetes client, string? @namespace, ListWatchOptions? options = null)
    {
        options ??= new ListWatchOptions();
        return new TypedListWatcher<V1Deployment, V1DeploymentList>(
            "Deployment",
            (continueToken, limit, ct) => @namespace is null
                ? client.AppsV1.ListDeploymentForAllNamespacesAsync(continueParameter: continueToken, limit: limit,
                    labelSelector: options.LabelSelector, fieldSelector: options.FieldSelector, cancellationToken: ct)
                : client.AppsV1.ListNamespacedDeploymentAsync(@namespace, continueParameter: continueToken, limit: limit,
                    labelSelector: options.LabelSelector, fieldSelector: options.FieldSelector, cancellationToken: ct),
            (resourceVersion, onError, ct) => @namespace is null
                ? client.AppsV1.WatchListDeploymentForAllNamespacesAsync(allowWatchBookmarks: true, resourceVersion: resourceVersion,
                    timeoutSeconds: options.NextWatchTimeoutSeconds(), labelSelector: options.LabelSelector,
                    fieldSelector: options.FieldSelector, onError: onError, cancellationToken: ct)
                : client.AppsV1.WatchListNamespacedDeploymentAsync(@namespace, allowWatchBookmarks: true, resourceVersion: resourceVersion,
                    timeoutSeconds: options.NextWatchTimeoutSeconds(), labelSelector: options.LabelSelector,
                    fieldSelector: options.FieldSelector, onError: onError, cancellationToken: ct));
    }

    public static IListWatcher<V1Service> Services(IKubernetes client, string? @namespace, ListWatchOptions? options = null)
    {
        options ??= new ListWatchOptions();
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

    public static IListWatcher<V1Pod> Pods(IKubernetes client, string? @namespace, ListWatchOptions? options = null)
    {
        options ??= new ListWatchOptions();
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

/// <summary>A custom resource through the CustomObjects API, which returns untyped JSON; items are deserialised into
/// <typeparamref name="T"/> with KubernetesClient's serializer settings.</summary>
internal sealed class CustomResourceListWatcher<T> : IListWatcher<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly IKubernetes _client;
    private readonly string? _namespace;
    private readonly ListWatchOptions _options;
    private readonly ResourceType _type = ResourceType.Of<T>();

    public CustomResourceListWatcher(IKubernetes client, string? @namespace, ListWatchOptions options)
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

/// <summary>A built-in kind through its typed list and watch calls.</summary>
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
