using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Nexus.Api;
using Nexus.Operator.Caching;
using Nexus.Operator.Client;
using Nexus.Operator.Events;
using Nexus.Operator.Metrics;

namespace Nexus.Operator.Runtime;

/// <summary>What a reconciler is built from: the shared caches, the primary kind's writers, and the host's services.</summary>
/// <param name="Patcher">Patches the primary kind (finalizers go through it); write to the primary only through this
/// and <see cref="Status"/>, so the controller knows which cached versions its own writes replaced.</param>
public sealed record ControllerContext<T>(
    InformerFactory Informers,
    IResourcePatcher<T> Patcher,
    IEventRecorder Events,
    ILoggerFactory LoggerFactory,
    TimeProvider Time,
    IKubernetes? Client)
    where T : class, INexusResource
{
    /// <summary>The primary kind's cache.</summary>
    public ResourceCache<T> Cache => Informers.Cache<T>();

    /// <summary>Writes the primary kind's status subresource (through <see cref="Patcher"/>).</summary>
    public IStatusWriter<T> Status => new StatusWriter<T>(Patcher);
}

/// <summary>
/// Declares a controller: the kind it reconciles, the kinds whose changes should wake it, and its reconciler.
/// </summary>
/// <example><code>
/// host.AddController&lt;Expert&gt;(controller => controller
///     .Owns&lt;V1Job&gt;()
///     .WithWorkers(2)
///     .WithReconciler(context => new ExpertReconciler(context)));
/// </code></example>
public sealed class ControllerBuilder<T>
    where T : class, INexusResource
{
    // Each source subscribes the controller's enqueue to one informer and returns that informer, whose sync the
    // controller waits for before its first reconcile.
    private readonly List<Func<InformerFactory, Action<ResourceKey>, IInformer>> _sources = new();
    private Func<ControllerContext<T>, IReconciler<T>>? _reconcilerFactory;
    private ControllerOptions _options = new();

    public ControllerBuilder<T> WithWorkers(int workers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        _options = _options with { Workers = workers };
        return this;
    }

    public ControllerBuilder<T> WithOptions(ControllerOptions options)
    {
        _options = options;
        return this;
    }

    public ControllerBuilder<T> WithReconciler(Func<ControllerContext<T>, IReconciler<T>> factory)
    {
        _reconcilerFactory = factory;
        return this;
    }

    /// <summary>Reconciles the owner when a child it controls (controller ownerReference to a <typeparamref name="T"/>)
    /// is added, changed or deleted.</summary>
    public ControllerBuilder<T> Owns<TChild>()
        where TChild : class, IKubernetesObject<V1ObjectMeta>
    {
        var ownerType = ResourceType.Of<T>();
        _sources.Add((informers, enqueue) => Subscribe<TChild>(informers, enqueue, child => ControllingOwner(child, ownerType)));
        return this;
    }

    /// <summary>Reconciles whatever keys <paramref name="map"/> returns for a changed <typeparamref name="TOther"/>
    /// (a NexusModel selecting Experts by label, say).</summary>
    public ControllerBuilder<T> Watches<TOther>(Func<TOther, IEnumerable<ResourceKey>> map)
        where TOther : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(map);
        _sources.Add((informers, enqueue) => Subscribe(informers, enqueue, map));
        return this;
    }

    /// <summary>As <see cref="Watches{TOther}(Func{TOther, IEnumerable{ResourceKey}})"/>, for a map that reads the
    /// shared caches (a pod mapped to its Job's controlling Expert through the Job cache).</summary>
    public ControllerBuilder<T> Watches<TOther>(Func<InformerFactory, TOther, IEnumerable<ResourceKey>> map)
        where TOther : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(map);
        _sources.Add((informers, enqueue) => Subscribe<TOther>(informers, enqueue, other => map(informers, other)));
        return this;
    }

    public Controller<T> Build(ControllerContext<T> context, OperatorMetrics metrics)
    {
        if (_reconcilerFactory is null)
        {
            throw new InvalidOperationException($"The {typeof(T).Name} controller has no reconciler: call WithReconciler.");
        }

        _options.RateLimiter.Validate();
        var primary = context.Informers.Get<T>();
        var kind = ResourceType.Of<T>().Kind;

        // Handlers may fire while the sources are wired (a late handler is replayed the cache); until the controller
        // exists and leads there is no queue to feed, and RunAsync queues the whole cache anyway.
        Controller<T>? controller = null;
        void Enqueue(ResourceKey key) => controller?.Enqueue(key);

        IInformer[] informers = [primary, .. _sources.Select(source => source(context.Informers, Enqueue))];
        var writes = new WriteTracker();
        var tracked = context with { Patcher = new TrackingPatcher<T>(context.Patcher, writes) };
        controller = new Controller<T>(
            kind,
            primary.Cache,
            informers.Distinct().ToList(),
            _reconcilerFactory(tracked),
            tracked.Status,
            writes,
            context.Events,
            _options,
            metrics,
            context.LoggerFactory.CreateLogger($"Nexus.Operator.Controller.{kind}"),
            context.Time);
        primary.AddHandler(change => Enqueue(ResourceKey.Of(change.Object)));
        return controller;
    }

    private static IInformer Subscribe<TOther>(
        InformerFactory informers, Action<ResourceKey> enqueue, Func<TOther, IEnumerable<ResourceKey>> map)
        where TOther : class, IKubernetesObject<V1ObjectMeta>
    {
        var informer = informers.Get<TOther>();
        informer.AddHandler(change =>
        {
            if (change.Type == ResourceEventType.Resync)
            {
                // The primary kind's own resync already queues every object; a child's resync would queue its owner
                // again (1.4-1.8 reconciles per owner per round in the operator benchmark instead of 1).
                return;
            }

            var keys = map(change.Object);
            if (change.Previous is not null)
            {
                // An update that moved the object to another owner (or selector match) concerns both.
                keys = keys.Concat(map(change.Previous));
            }

            foreach (var key in keys.Distinct())
            {
                enqueue(key);
            }
        });
        return informer;
    }

    private static IEnumerable<ResourceKey> ControllingOwner(IKubernetesObject<V1ObjectMeta> child, ResourceType ownerType)
    {
        var owner = OwnerReferences.GetController(child);
        if (owner is not null && owner.Kind == ownerType.Kind && GroupOf(owner.ApiVersion) == ownerType.Group)
        {
            yield return new ResourceKey(string.IsNullOrEmpty(child.Metadata.NamespaceProperty) ? null : child.Metadata.NamespaceProperty, owner.Name);
        }
    }

    private static string GroupOf(string apiVersion)
    {
        var slash = apiVersion.IndexOf('/');
        return slash < 0 ? "" : apiVersion[..slash];
    }
}
