using System.Net;
using k8s;
using k8s.Models;
using Nexus.ApiServer.Tests.Support;

namespace Nexus.ApiServer.Tests.Registry;

public sealed class UpdateTests : ServerTest
{
    [Fact]
    public async Task A_stale_resourceVersion_is_409_Conflict()
    {
        var stale = await CreateConfigMapAsync("shared");
        var fresh = await Client.CoreV1.ReadNamespacedConfigMapAsync("shared", Ns);
        fresh.Data["key"] = "first";
        await Client.CoreV1.ReplaceNamespacedConfigMapAsync(fresh, "shared", Ns);

        stale.Data["key"] = "second";
        var (code, status) = await RefusedAsync(() => Client.CoreV1.ReplaceNamespacedConfigMapAsync(stale, "shared", Ns));

        Assert.Equal(HttpStatusCode.Conflict, code);
        Assert.Equal("Conflict", status.Reason);
        Assert.Equal(
            "Operation cannot be fulfilled on configmaps \"shared\": the object has been modified; please apply your changes to the latest version and try again",
            status.Message);
        Assert.Equal("first", (await Client.CoreV1.ReadNamespacedConfigMapAsync("shared", Ns)).Data["key"]);
    }

    [Fact]
    public async Task A_built_in_accepts_an_unconditional_update_without_resourceVersion()
    {
        await CreateConfigMapAsync("open");

        var replaced = await Client.CoreV1.ReplaceNamespacedConfigMapAsync(ConfigMap("open", new Dictionary<string, string> { ["key"] = "new" }), "open", Ns);

        Assert.Equal("new", replaced.Data["key"]);
    }

    [Fact]
    public async Task A_name_that_differs_from_the_url_is_400()
    {
        var created = await CreateConfigMapAsync("one");
        created.Metadata.Name = "two";

        var (code, status) = await RefusedAsync(() => Client.CoreV1.ReplaceNamespacedConfigMapAsync(created, "one", Ns));

        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Equal("the name of the object (two) does not match the name on the URL (one)", status.Message);
    }

    [Fact]
    public async Task A_different_uid_is_a_failed_precondition()
    {
        var created = await CreateConfigMapAsync("owned");
        created.Metadata.Uid = Guid.NewGuid().ToString();

        var (code, status) = await RefusedAsync(() => Client.CoreV1.ReplaceNamespacedConfigMapAsync(created, "owned", Ns));

        Assert.Equal(HttpStatusCode.Conflict, code);
        Assert.Contains("Precondition failed: UID in precondition", status.Message);
    }

    [Fact]
    public async Task Generation_moves_on_spec_changes_only()
    {
        var created = await Client.AppsV1.CreateNamespacedDeploymentAsync(Workloads.Deployment("web"), Ns);
        Assert.Equal(1, created.Metadata.Generation);

        created.Metadata.Labels = new Dictionary<string, string> { ["tier"] = "gpu" };
        var relabelled = await Client.AppsV1.ReplaceNamespacedDeploymentAsync(created, "web", Ns);
        Assert.Equal(1, relabelled.Metadata.Generation);
        Assert.NotEqual(created.Metadata.ResourceVersion, relabelled.Metadata.ResourceVersion);

        relabelled.Spec.Template.Spec.Containers[0].Image = "registry.example/serve:2.0";
        var changed = await Client.AppsV1.ReplaceNamespacedDeploymentAsync(relabelled, "web", Ns);
        Assert.Equal(2, changed.Metadata.Generation);

        changed.Status = new V1DeploymentStatus { ObservedGeneration = 2, Replicas = 1 };
        var reported = await Client.AppsV1.ReplaceNamespacedDeploymentStatusAsync(changed, "web", Ns);
        Assert.Equal(2, reported.Metadata.Generation);
        Assert.Equal(2, reported.Status.ObservedGeneration);
    }

    [Fact]
    public async Task A_put_on_the_main_resource_ignores_status()
    {
        var created = await Client.AppsV1.CreateNamespacedDeploymentAsync(Workloads.Deployment("web"), Ns);

        created.Status = new V1DeploymentStatus { Replicas = 3 };
        created.Spec.Replicas = 3;
        var replaced = await Client.AppsV1.ReplaceNamespacedDeploymentAsync(created, "web", Ns);

        Assert.Equal(3, replaced.Spec.Replicas);
        Assert.Null(replaced.Status.Replicas);
    }

    [Fact]
    public async Task A_put_on_status_ignores_spec_and_metadata()
    {
        var created = await Client.AppsV1.CreateNamespacedDeploymentAsync(Workloads.Deployment("web"), Ns);

        created.Spec.Replicas = 7;
        created.Metadata.Labels = new Dictionary<string, string> { ["sneaky"] = "yes" };
        created.Status = new V1DeploymentStatus { Replicas = 1, ObservedGeneration = 1 };
        var reported = await Client.AppsV1.ReplaceNamespacedDeploymentStatusAsync(created, "web", Ns);

        Assert.Equal(1, reported.Spec.Replicas);
        Assert.Null(reported.Metadata.Labels);
        Assert.Equal(1, reported.Status.Replicas);
        Assert.Equal(1, reported.Metadata.Generation);
    }

    [Fact]
    public async Task A_put_on_status_with_a_stale_resourceVersion_is_409()
    {
        var stale = await Client.AppsV1.CreateNamespacedDeploymentAsync(Workloads.Deployment("web"), Ns);
        var fresh = await Client.AppsV1.ReadNamespacedDeploymentAsync("web", Ns);
        fresh.Spec.Replicas = 2;
        await Client.AppsV1.ReplaceNamespacedDeploymentAsync(fresh, "web", Ns);

        stale.Status = new V1DeploymentStatus { Replicas = 1 };
        var (code, _) = await RefusedAsync(() => Client.AppsV1.ReplaceNamespacedDeploymentStatusAsync(stale, "web", Ns));

        Assert.Equal(HttpStatusCode.Conflict, code);
    }

    [Fact]
    public async Task A_no_op_update_keeps_the_resourceVersion_and_writes_nothing()
    {
        var created = await Client.AppsV1.CreateNamespacedDeploymentAsync(Workloads.Deployment("web"), Ns);
        var revision = Server.ResourceVersion;

        var same = await Client.AppsV1.ReplaceNamespacedDeploymentAsync(created, "web", Ns);
        var sameStatus = await Client.AppsV1.ReplaceNamespacedDeploymentStatusAsync(same, "web", Ns);

        Assert.Equal(created.Metadata.ResourceVersion, same.Metadata.ResourceVersion);
        Assert.Equal(created.Metadata.ResourceVersion, sameStatus.Metadata.ResourceVersion);
        Assert.Equal(revision, Server.ResourceVersion);
    }

    [Fact]
    public async Task A_job_template_is_immutable()
    {
        var job = await Client.BatchV1.CreateNamespacedJobAsync(Workloads.Job("train"), Ns);

        job.Spec.Template.Spec.Containers[0].Image = "registry.example/train:2.0";
        var (code, status) = await RefusedAsync(() => Client.BatchV1.ReplaceNamespacedJobAsync(job, "train", Ns));

        Assert.Equal((HttpStatusCode)422, code);
        Assert.StartsWith("Job.batch \"train\" is invalid: spec.template: Invalid value:", status.Message);
        Assert.EndsWith("field is immutable", status.Message);
        Assert.Equal("spec.template", Assert.Single(status.Details.Causes).Field);
    }

    [Fact]
    public async Task Updating_a_missing_object_is_404()
    {
        var (code, _) = await RefusedAsync(() => Client.CoreV1.ReplaceNamespacedConfigMapAsync(ConfigMap("ghost"), "ghost", Ns));

        Assert.Equal(HttpStatusCode.NotFound, code);
    }

    [Fact]
    public async Task A_service_keeps_its_allocated_cluster_ip_when_an_update_omits_it()
    {
        var service = new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "serve" },
            Spec = new V1ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "serve" }, Ports = [new V1ServicePort { Port = 80 }] },
        };
        var created = await Client.CoreV1.CreateNamespacedServiceAsync(service, Ns);
        Assert.StartsWith("10.96.", created.Spec.ClusterIP);
        Assert.Equal("TCP", created.Spec.Ports[0].Protocol);
        Assert.Equal(80, created.Spec.Ports[0].TargetPort.Value is string text ? int.Parse(text) : 0);

        service.Metadata.ResourceVersion = created.Metadata.ResourceVersion;
        service.Spec.Ports[0].Port = 8080;
        var replaced = await Client.CoreV1.ReplaceNamespacedServiceAsync(service, "serve", Ns);

        Assert.Equal(created.Spec.ClusterIP, replaced.Spec.ClusterIP);
        Assert.Equal(8080, replaced.Spec.Ports[0].Port);
    }
}
