using k8s;
using k8s.Models;
using Nexus.ApiServer.Tests.Support;

namespace Nexus.ApiServer.Tests.Controllers;

public sealed class GarbageCollectorTests : ServerTest
{
    private static V1OwnerReference OwnedBy(V1ConfigMap owner, bool block = false) => new()
    {
        ApiVersion = "v1",
        Kind = "ConfigMap",
        Name = owner.Metadata.Name,
        Uid = owner.Metadata.Uid,
        Controller = true,
        BlockOwnerDeletion = block,
    };

    private async Task<V1ConfigMap> CreateDependentAsync(string name, params V1OwnerReference[] owners)
    {
        var cm = ConfigMap(name);
        cm.Metadata.OwnerReferences = owners;
        return await Client.CoreV1.CreateNamespacedConfigMapAsync(cm, Ns);
    }

    [Fact]
    public async Task Dependents_of_a_deleted_owner_are_collected_promptly()
    {
        var owner = await CreateConfigMapAsync("owner");
        await CreateDependentAsync("dependent", OwnedBy(owner));

        await Client.CoreV1.DeleteNamespacedConfigMapAsync("owner", Ns);

        // No SettleAsync: the collector runs on its own, within milliseconds.
        await Server.WaitForDeletionAsync("v1", "configmaps", Ns, "dependent", TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task A_dependent_with_two_owners_goes_only_when_both_are_gone()
    {
        var first = await CreateConfigMapAsync("first");
        var second = await CreateConfigMapAsync("second");
        var firstRef = OwnedBy(first);
        firstRef.Controller = false;
        await CreateDependentAsync("shared", firstRef, OwnedBy(second));

        await Client.CoreV1.DeleteNamespacedConfigMapAsync("first", Ns);
        await Server.GarbageCollector.SettleAsync();
        var survivor = await Client.CoreV1.ReadNamespacedConfigMapAsync("shared", Ns);
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("second", Ns);
        await Server.GarbageCollector.SettleAsync();

        Assert.Equal([second.Metadata.Uid], survivor.Metadata.OwnerReferences.Select(o => o.Uid));
        Assert.Null(Server.Get("v1", "configmaps", Ns, "shared"));
    }

    [Fact]
    public async Task Orphan_propagation_keeps_dependents_and_drops_their_reference()
    {
        var owner = await CreateConfigMapAsync("owner");
        await CreateDependentAsync("dependent", OwnedBy(owner));

        await Client.CoreV1.DeleteNamespacedConfigMapAsync("owner", Ns, propagationPolicy: "Orphan");
        await Server.GarbageCollector.SettleAsync();

        Assert.Null(Server.Get("v1", "configmaps", Ns, "owner"));
        var dependent = await Client.CoreV1.ReadNamespacedConfigMapAsync("dependent", Ns);
        Assert.Null(dependent.Metadata.OwnerReferences);
    }

    [Fact]
    public async Task Foreground_deletion_waits_for_blocking_dependents()
    {
        var owner = await CreateConfigMapAsync("owner");
        var dependent = ConfigMap("dependent");
        dependent.Metadata.OwnerReferences = [OwnedBy(owner, block: true)];
        dependent.Metadata.Finalizers = ["example.com/slow"];
        await Client.CoreV1.CreateNamespacedConfigMapAsync(dependent, Ns);

        await Client.CoreV1.DeleteNamespacedConfigMapAsync("owner", Ns, propagationPolicy: "Foreground");
        await Server.GarbageCollector.SettleAsync();
        var waiting = await Client.CoreV1.ReadNamespacedConfigMapAsync("owner", Ns);
        var dying = await Client.CoreV1.ReadNamespacedConfigMapAsync("dependent", Ns);
        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"metadata":{"finalizers":null}}""", V1Patch.PatchType.MergePatch), "dependent", Ns);
        await Server.GarbageCollector.SettleAsync();

        Assert.Equal(["foregroundDeletion"], waiting.Metadata.Finalizers);
        Assert.NotNull(waiting.Metadata.DeletionTimestamp);
        Assert.NotNull(dying.Metadata.DeletionTimestamp);
        Assert.Null(Server.Get("v1", "configmaps", Ns, "dependent"));
        Assert.Null(Server.Get("v1", "configmaps", Ns, "owner"));
    }

    [Fact]
    public async Task A_job_deleted_without_a_policy_orphans_its_pod_as_batch_v1_does()
    {
        await Client.BatchV1.CreateNamespacedJobAsync(Workloads.Job("train"), Ns);
        Server.Jobs.MarkRunning(Ns, "train");
        var podName = Server.Jobs.PodOf(Ns, "train")!.Get("metadata.name")!;

        await Client.BatchV1.DeleteNamespacedJobAsync("train", Ns);
        await Server.GarbageCollector.SettleAsync();

        Assert.Null(Server.Get("batch/v1", "jobs", Ns, "train"));
        var pod = await Client.CoreV1.ReadNamespacedPodAsync(podName, Ns);
        Assert.Null(pod.Metadata.OwnerReferences);
    }

    [Fact]
    public async Task A_job_deleted_in_the_background_takes_its_pod_with_it()
    {
        await Client.BatchV1.CreateNamespacedJobAsync(Workloads.Job("train"), Ns);
        Server.Jobs.MarkRunning(Ns, "train");
        var podName = Server.Jobs.PodOf(Ns, "train")!.Get("metadata.name")!;

        await Client.BatchV1.DeleteNamespacedJobAsync("train", Ns, propagationPolicy: "Background");
        await Server.GarbageCollector.SettleAsync();

        Assert.Null(Server.Get("v1", "pods", Ns, podName));
    }

    [Fact]
    public async Task A_deleted_namespace_is_emptied_and_then_removed()
    {
        await CreateConfigMapAsync("a");
        await Client.AppsV1.CreateNamespacedDeploymentAsync(Workloads.Deployment("web"), Ns);

        var terminating = await Client.CoreV1.DeleteNamespaceAsync(Ns);
        await Server.GarbageCollector.SettleAsync();

        Assert.True(terminating.HasObject);
        Assert.Equal("Terminating", terminating.ObjectView<V1Namespace>().Status.Phase);
        Assert.Empty(Server.List("v1", "configmaps", Ns));
        Assert.Empty(Server.List("apps/v1", "deployments", Ns));
        Assert.Null(Server.Get("v1", "namespaces", null, Ns));
    }
}
