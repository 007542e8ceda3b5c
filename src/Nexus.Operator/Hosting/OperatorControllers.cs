using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Caching;
using Nexus.Operator.Client;
using Nexus.Operator.Controllers;
using Nexus.Operator.Runtime;
using Nexus.Operator.Specs;

namespace Nexus.Operator.Hosting;

/// <summary>The controllers <c>nexus-operator run</c> starts.</summary>
public static class OperatorControllers
{
    /// <summary>Registers the Expert controller: it owns its step Jobs, and a pod's change (a container stuck pulling its
    /// image, a terminated container) reconciles the Expert controlling the pod's Job.</summary>
    /// <param name="settings">The cluster's settings (image, artifact root, ...); the defaults when null.</param>
    /// <param name="stores">Opens artifact locations; <see cref="ArtifactStores.Default"/> when null.</param>
    /// <param name="workers">Concurrent reconciles of the Expert controller; the controller's default when null.</param>
    public static OperatorHostBuilder AddNexusControllers(
        this OperatorHostBuilder host, OperatorSettings? settings = null, ArtifactStoreFactory? stores = null, int? workers = null)
    {
        settings ??= new OperatorSettings();
        stores ??= ArtifactStores.Default;
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

    /// <summary>The Expert controlling the Job that controls <paramref name="pod"/>, if any.</summary>
    public static IEnumerable<ResourceKey> ExpertOfPod(InformerFactory informers, V1Pod pod)
    {
        if (OwnerReferences.GetController(pod) is not { Kind: "Job" } jobReference
            || informers.Cache<V1Job>().Get(pod.Metadata.NamespaceProperty, jobReference.Name) is not { } job
            || job.Metadata.Uid != jobReference.Uid
            || OwnerReferences.GetController(job) is not { Kind: Expert.KubeKind } expert
            || expert.ApiVersion != $"{Expert.KubeGroup}/{Expert.KubeApiVersion}")
        {
            return [];
        }

        return [new ResourceKey(pod.Metadata.NamespaceProperty, expert.Name)];
    }
}
