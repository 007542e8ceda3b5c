using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Caching;
using Nexus.Operator.Client;
using Nexus.Operator.Controllers;
using Nexus.Operator.Metrics;
using Nexus.Operator.Policies;
using Nexus.Operator.Runtime;
using Nexus.Operator.Specs;

namespace Nexus.Operator.Hosting;

/// <summary>The controllers <c>nexus-operator run</c> starts.</summary>
public static class OperatorControllers
{
    /// <summary>Registers the Expert, NexusModel and Extension controllers, and the lifecycle metrics read from their
    /// caches (<see cref="LifecycleMetrics"/>).</summary>
    /// <param name="settings">The cluster's settings (image, artifact root, ...); the defaults when null.</param>
    /// <param name="stores">Opens artifact locations; <see cref="ArtifactStores.For"/> the settings when null.</param>
    /// <param name="workers">Concurrent reconciles of each controller; the controller's default when null.</param>
    public static OperatorHostBuilder AddNexusControllers(
        this OperatorHostBuilder host, OperatorSettings? settings = null, ArtifactStoreFactory? stores = null, int? workers = null) =>
        host.AddExpertController(settings, stores, workers)
            .AddNexusModelController(settings, stores, workers)
            .AddExtensionController(settings, stores, workers)
            .AddMetrics(built => LifecycleMetrics.Register(built.Informers, built.Metrics, () => built.IsLeader));

    /// <summary>Registers the Expert controller: it owns its step Jobs, and a pod's change (a container stuck pulling its
    /// image, a terminated container) reconciles the Expert controlling the pod's Job.</summary>
    public static OperatorHostBuilder AddExpertController(
        this OperatorHostBuilder host, OperatorSettings? settings = null, ArtifactStoreFactory? stores = null, int? workers = null)
    {
        settings ??= new OperatorSettings();
        stores ??= ArtifactStores.For(settings);
        return host.AddController<Expert>(controller =>
        {
            controller
                .Owns<V1Job>()
                .Watches<V1Pod>(ExpertOfPod)
                .WithReconciler(context => new ExpertReconciler(context, settings, stores));
            if (workers is { } count)
            {
                controller.WithWorkers(count);
            }
        });
    }

    /// <summary>Registers the NexusModel controller: it owns its build Jobs and its serving Deployment and Service; a
    /// pod of one of its Jobs reconciles it, and so does a change of an Expert it selects or was built from.</summary>
    public static OperatorHostBuilder AddNexusModelController(
        this OperatorHostBuilder host, OperatorSettings? settings = null, ArtifactStoreFactory? stores = null, int? workers = null)
    {
        settings ??= new OperatorSettings();
        stores ??= ArtifactStores.For(settings);
        return host.AddController<NexusModel>(controller =>
        {
            controller
                .Owns<V1Job>()
                .Owns<V1Deployment>()
                .Owns<V1Service>()
                .Watches<V1Pod>(NexusModelOfPod)
                .Watches<Expert>(NexusModelsOfExpert)
                .Watches<Extension>(extension => [new ResourceKey(extension.Metadata.NamespaceProperty, extension.Spec.Model)])
                .WithReconciler(context => new NexusModelReconciler(context, settings, stores));
            if (workers is { } count)
            {
                controller.WithWorkers(count);
            }
        });
    }

    /// <summary>Registers the Extension controller: it owns its surgery and evaluation Jobs (and a pod of one reconciles
    /// it); its model's change (a revision recorded, a build finished), an Expert's change and any change of another
    /// Extension of the same model (one finishing, starting or deleted) reconcile the model's Extensions that are not
    /// finished, the next in line among them.</summary>
    public static OperatorHostBuilder AddExtensionController(
        this OperatorHostBuilder host, OperatorSettings? settings = null, ArtifactStoreFactory? stores = null, int? workers = null)
    {
        settings ??= new OperatorSettings();
        stores ??= ArtifactStores.For(settings);
        return host.AddController<Extension>(controller =>
        {
            controller
                .Owns<V1Job>()
                .Watches<V1Pod>(ExtensionOfPod)
                .Watches<NexusModel>((informers, model) => UnfinishedExtensions(informers, model.Metadata.NamespaceProperty, model.Metadata.Name))
                .Watches<Expert>((informers, expert) => UnfinishedExtensions(informers, expert.Metadata.NamespaceProperty, model: null))
                // Another Extension of the model finishing, starting or being deleted may be this one's turn.
                .Watches<Extension>((informers, extension) =>
                    UnfinishedExtensions(informers, extension.Metadata.NamespaceProperty, extension.Spec.Model)
                        .Where(key => key.Name != extension.Metadata.Name))
                .WithReconciler(context => new ExtensionReconciler(context, settings, stores));
            if (workers is { } count)
            {
                controller.WithWorkers(count);
            }
        });
    }

    /// <summary>The Extensions of the namespace (of one model, when named) that have not Succeeded or Failed.</summary>
    public static IEnumerable<ResourceKey> UnfinishedExtensions(InformerFactory informers, string ns, string? model) =>
        informers.Cache<Extension>().List(ns)
            .Where(extension => (model is null || extension.Spec.Model == model) && !ExtensionProgress.IsFinished(extension))
            .Select(extension => new ResourceKey(ns, extension.Metadata.Name));

    /// <summary>The Extension controlling the Job that controls <paramref name="pod"/>, if any.</summary>
    public static IEnumerable<ResourceKey> ExtensionOfPod(InformerFactory informers, V1Pod pod) =>
        JobOwnerOfPod(informers, pod, Extension.KubeKind, $"{Extension.KubeGroup}/{Extension.KubeApiVersion}");

    /// <summary>The NexusModels of the Expert's namespace whose selection matches it (by label or by name) or whose
    /// current revision holds it (an Expert that stopped matching is removed from those).</summary>
    public static IEnumerable<ResourceKey> NexusModelsOfExpert(InformerFactory informers, Expert expert)
    {
        var ns = expert.Metadata.NamespaceProperty;
        var name = expert.Metadata.Name;
        foreach (var model in informers.Cache<NexusModel>().List(ns))
        {
            var experts = model.Spec.Experts;
            bool selects;
            try
            {
                selects = experts.Names is { } names
                    ? names.Contains(name)
                    : ExpertSelector.Matches(experts.Selector ?? new V1LabelSelector(), expert.Metadata.Labels);
            }
            catch (ArgumentException)
            {
                // An invalid selector: the model's own reconcile reports it.
                selects = false;
            }

            if (selects || model.Status?.Experts?.Contains(name) == true)
            {
                yield return new ResourceKey(ns, model.Metadata.Name);
            }
        }
    }

    /// <summary>The Expert controlling the Job that controls <paramref name="pod"/>, if any.</summary>
    public static IEnumerable<ResourceKey> ExpertOfPod(InformerFactory informers, V1Pod pod) =>
        JobOwnerOfPod(informers, pod, Expert.KubeKind, $"{Expert.KubeGroup}/{Expert.KubeApiVersion}");

    /// <summary>The NexusModel controlling the Job that controls <paramref name="pod"/>, if any.</summary>
    public static IEnumerable<ResourceKey> NexusModelOfPod(InformerFactory informers, V1Pod pod) =>
        JobOwnerOfPod(informers, pod, NexusModel.KubeKind, $"{NexusModel.KubeGroup}/{NexusModel.KubeApiVersion}");

    private static IEnumerable<ResourceKey> JobOwnerOfPod(InformerFactory informers, V1Pod pod, string kind, string apiVersion)
    {
        if (OwnerReferences.GetController(pod) is not { Kind: "Job" } jobReference
            || informers.Cache<V1Job>().Get(pod.Metadata.NamespaceProperty, jobReference.Name) is not { } job
            || job.Metadata.Uid != jobReference.Uid
            || OwnerReferences.GetController(job) is not { } owner
            || owner.Kind != kind
            || owner.ApiVersion != apiVersion)
        {
            return [];
        }

        return [new ResourceKey(pod.Metadata.NamespaceProperty, owner.Name)];
    }
}
