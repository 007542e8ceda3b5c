using k8s;
using k8s.Models;
using Nexus.ApiServer.Tests.Support;

namespace Nexus.ApiServer.Tests.Controllers;

public sealed class DeploymentSimulatorTests : ServerTest
{
    [Fact]
    public async Task ObservedGeneration_lags_until_the_rollout_is_made_ready()
    {
        await Client.AppsV1.CreateNamespacedDeploymentAsync(Workloads.Deployment("serve", replicas: 2), Ns);
        Server.Deployments.MakeReady(Ns, "serve");
        var ready = await Client.AppsV1.ReadNamespacedDeploymentAsync("serve", Ns);

        ready.Spec.Template.Spec.Containers[0].Image = "registry.example/serve:2.0";
        var rolling = await Client.AppsV1.ReplaceNamespacedDeploymentAsync(ready, "serve", Ns);
        var replicaSet = Server.Deployments.MakeReady(Ns, "serve");
        var rolled = await Client.AppsV1.ReadNamespacedDeploymentAsync("serve", Ns);

        Assert.Equal(1, ready.Status.ObservedGeneration);
        Assert.Equal(2, rolling.Metadata.Generation);
        Assert.Equal(1, rolling.Status.ObservedGeneration);
        Assert.Equal(2, rolled.Status.ObservedGeneration);
        Assert.Equal((2, 2, 2, 2), (rolled.Status.Replicas, rolled.Status.UpdatedReplicas, rolled.Status.ReadyReplicas, rolled.Status.AvailableReplicas));
        Assert.Contains(rolled.Status.Conditions, c => c.Type == "Available" && c.Status == "True" && c.Reason == "MinimumReplicasAvailable");
        Assert.Contains(rolled.Status.Conditions, c => c.Type == "Progressing" && c.Reason == "NewReplicaSetAvailable" && c.Message.Contains(replicaSet));
        Assert.Equal("2", rolled.Metadata.Annotations["deployment.kubernetes.io/revision"]);
    }

    [Fact]
    public async Task Each_template_gets_its_own_replica_set_and_old_ones_scale_to_zero()
    {
        await Client.AppsV1.CreateNamespacedDeploymentAsync(Workloads.Deployment("serve", replicas: 3), Ns);
        var first = Server.Deployments.MakeReady(Ns, "serve");
        await Client.AppsV1.PatchNamespacedDeploymentAsync(
            new V1Patch("""{"spec":{"template":{"spec":{"containers":[{"name":"server","image":"registry.example/serve:2.0"}]}}}}""", V1Patch.PatchType.MergePatch), "serve", Ns);
        var second = Server.Deployments.MakeReady(Ns, "serve");
        var again = Server.Deployments.MakeReady(Ns, "serve");

        var sets = (await Client.AppsV1.ListNamespacedReplicaSetAsync(Ns)).Items.ToDictionary(r => r.Metadata.Name);
        Assert.NotEqual(first, second);
        Assert.Equal(second, again);
        Assert.Equal(2, sets.Count);
        Assert.Equal(0, sets[first].Spec.Replicas);
        Assert.Equal(3, sets[second].Spec.Replicas);
        Assert.Equal(3, sets[second].Status.ReadyReplicas);
        var hash = sets[second].Metadata.Labels["pod-template-hash"];
        Assert.Equal($"serve-{hash}", second);
        Assert.Equal(hash, sets[second].Spec.Selector.MatchLabels["pod-template-hash"]);
        Assert.True(sets[second].Metadata.OwnerReferences.Single().Controller);
    }

    [Fact]
    public async Task Deleting_the_deployment_collects_its_replica_sets()
    {
        await Client.AppsV1.CreateNamespacedDeploymentAsync(Workloads.Deployment("serve"), Ns);
        Server.Deployments.MakeReady(Ns, "serve");

        await Client.AppsV1.DeleteNamespacedDeploymentAsync("serve", Ns);
        await Server.GarbageCollector.SettleAsync();

        Assert.Empty((await Client.AppsV1.ListNamespacedReplicaSetAsync(Ns)).Items);
    }

    [Fact]
    public async Task SetUnavailable_reports_a_stalled_rollout()
    {
        await Client.AppsV1.CreateNamespacedDeploymentAsync(Workloads.Deployment("serve"), Ns);

        Server.Deployments.SetUnavailable(Ns, "serve");

        var stalled = await Client.AppsV1.ReadNamespacedDeploymentAsync("serve", Ns);
        Assert.Contains(stalled.Status.Conditions, c => c.Type == "Available" && c.Status == "False");
        Assert.Contains(stalled.Status.Conditions, c => c.Type == "Progressing" && c.Status == "False" && c.Reason == "ProgressDeadlineExceeded");
        Assert.Equal(1, stalled.Status.UnavailableReplicas);
    }

    [Fact]
    public async Task A_both_zero_rolling_update_is_rejected_like_the_real_API_server()
    {
        var deployment = Workloads.Deployment("serve");
        deployment.Spec.Strategy = new V1DeploymentStrategy
        {
            Type = "RollingUpdate",
            RollingUpdate = new V1RollingUpdateDeployment { MaxSurge = "0", MaxUnavailable = "0" },
        };

        var (code, status) = await RefusedAsync(() => Client.AppsV1.CreateNamespacedDeploymentAsync(deployment, Ns));

        Assert.Equal(422, (int)code);
        Assert.Equal("spec.strategy.rollingUpdate.maxUnavailable", Assert.Single(status.Details.Causes).Field);
    }
}
