using System.Net;
using k8s;
using k8s.Models;
using Nexus.ApiServer.Tests.Support;

namespace Nexus.ApiServer.Tests.Registry;

public sealed class CreateTests : ServerTest
{
    [Fact]
    public async Task Create_sets_server_metadata_and_get_returns_the_same_object()
    {
        var before = Server.ResourceVersion;

        var created = await CreateConfigMapAsync("settings");
        var read = await Client.CoreV1.ReadNamespacedConfigMapAsync("settings", Ns);

        Assert.True(Guid.TryParse(created.Metadata.Uid, out _));
        Assert.NotNull(created.Metadata.CreationTimestamp);
        Assert.Equal(before + 1, long.Parse(created.Metadata.ResourceVersion));
        Assert.Equal(Ns, created.Metadata.NamespaceProperty);
        Assert.Null(created.Metadata.Generation);
        Assert.Equal(created.Metadata.Uid, read.Metadata.Uid);
        Assert.Equal(created.Metadata.ResourceVersion, read.Metadata.ResourceVersion);
        Assert.Equal("value", read.Data["key"]);
        Assert.Equal("ConfigMap", read.Kind);
        Assert.Equal("v1", read.ApiVersion);
    }

    [Fact]
    public async Task Every_write_takes_the_next_global_resource_version()
    {
        var first = await CreateConfigMapAsync("a");
        var lease = await Client.CoordinationV1.CreateNamespacedLeaseAsync(
            new V1Lease { Metadata = new V1ObjectMeta { Name = "lock" }, Spec = new V1LeaseSpec { HolderIdentity = "me" } }, Ns);
        var second = await CreateConfigMapAsync("b");

        Assert.Equal(long.Parse(first.Metadata.ResourceVersion) + 1, long.Parse(lease.Metadata.ResourceVersion));
        Assert.Equal(long.Parse(lease.Metadata.ResourceVersion) + 1, long.Parse(second.Metadata.ResourceVersion));
    }

    [Fact]
    public async Task GenerateName_appends_five_random_characters()
    {
        var created = await Client.CoreV1.CreateNamespacedConfigMapAsync(
            new V1ConfigMap { Metadata = new V1ObjectMeta { GenerateName = "train-" } }, Ns);

        Assert.Matches("^train-[bcdfghjklmnpqrstvwxz2456789]{5}$", created.Metadata.Name);
    }

    [Fact]
    public async Task A_taken_name_is_409_AlreadyExists_with_a_full_Status()
    {
        await CreateConfigMapAsync("taken");

        var (code, status) = await RefusedAsync(() => CreateConfigMapAsync("taken"));

        Assert.Equal(HttpStatusCode.Conflict, code);
        Assert.Equal("AlreadyExists", status.Reason);
        Assert.Equal("configmaps \"taken\" already exists", status.Message);
        Assert.Equal("taken", status.Details.Name);
        Assert.Equal("configmaps", status.Details.Kind);
    }

    [Fact]
    public async Task A_taken_name_in_a_group_names_the_qualified_resource()
    {
        var lease = new V1Lease { Metadata = new V1ObjectMeta { Name = "lock" }, Spec = new V1LeaseSpec() };
        await Client.CoordinationV1.CreateNamespacedLeaseAsync(lease, Ns);

        var (_, status) = await RefusedAsync(() => Client.CoordinationV1.CreateNamespacedLeaseAsync(lease, Ns));

        Assert.Equal("leases.coordination.k8s.io \"lock\" already exists", status.Message);
        Assert.Equal("coordination.k8s.io", status.Details.Group);
    }

    [Fact]
    public async Task A_resourceVersion_on_create_is_400()
    {
        var configMap = ConfigMap("versioned");
        configMap.Metadata.ResourceVersion = "5";

        var (code, status) = await RefusedAsync(() => Client.CoreV1.CreateNamespacedConfigMapAsync(configMap, Ns));

        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Equal("resourceVersion should not be set on objects to be created", status.Message);
    }

    [Fact]
    public async Task A_namespace_in_the_body_that_differs_from_the_path_is_400()
    {
        var configMap = ConfigMap("elsewhere");
        configMap.Metadata.NamespaceProperty = "default";

        var (code, status) = await RefusedAsync(() => Client.CoreV1.CreateNamespacedConfigMapAsync(configMap, Ns));

        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Equal("the namespace of the provided object does not match the namespace sent on the request", status.Message);
    }

    [Fact]
    public async Task Creating_in_a_missing_namespace_is_404_for_the_namespace()
    {
        var (code, status) = await RefusedAsync(() => Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("x"), "nowhere"));

        Assert.Equal(HttpStatusCode.NotFound, code);
        Assert.Equal("NotFound", status.Reason);
        Assert.Equal("namespaces \"nowhere\" not found", status.Message);
        Assert.Equal("namespaces", status.Details.Kind);
    }

    [Fact]
    public async Task The_default_namespace_exists_and_namespaces_get_their_name_label()
    {
        var namespaces = await Client.CoreV1.ListNamespaceAsync();

        var names = namespaces.Items.Select(n => n.Metadata.Name).ToList();
        Assert.Contains("default", names);
        Assert.Contains(Ns, names);
        var created = namespaces.Items.Single(n => n.Metadata.Name == Ns);
        Assert.Equal(Ns, created.Metadata.Labels["kubernetes.io/metadata.name"]);
        Assert.Equal("Active", created.Status.Phase);
        Assert.Equal(["kubernetes"], created.Spec.Finalizers);
    }

    [Fact]
    public async Task An_invalid_name_is_422_Invalid_naming_the_field()
    {
        var (code, status) = await RefusedAsync(() => CreateConfigMapAsync("Not_Valid"));

        Assert.Equal((HttpStatusCode)422, code);
        Assert.Equal("Invalid", status.Reason);
        Assert.StartsWith("ConfigMap \"Not_Valid\" is invalid: metadata.name: Invalid value: \"Not_Valid\": a lowercase RFC 1123 subdomain", status.Message);
        var cause = Assert.Single(status.Details.Causes);
        Assert.Equal("metadata.name", cause.Field);
        Assert.Equal("FieldValueInvalid", cause.Reason);
    }

    [Fact]
    public async Task Reading_a_missing_object_is_404_NotFound()
    {
        var (code, status) = await RefusedAsync(() => Client.AppsV1.ReadNamespacedDeploymentAsync("ghost", Ns));

        Assert.Equal(HttpStatusCode.NotFound, code);
        Assert.Equal("deployments.apps \"ghost\" not found", status.Message);
        Assert.Equal("ghost", status.Details.Name);
        Assert.Equal("apps", status.Details.Group);
        Assert.Equal("deployments", status.Details.Kind);
    }

    [Fact]
    public async Task Status_sent_on_create_is_dropped_for_types_with_a_status_subresource()
    {
        var deployment = Workloads.Deployment("web");
        deployment.Status = new V1DeploymentStatus { Replicas = 5, ReadyReplicas = 5, ObservedGeneration = 9 };

        var created = await Client.AppsV1.CreateNamespacedDeploymentAsync(deployment, Ns);

        Assert.Null(created.Status.Replicas);
        Assert.Null(created.Status.ObservedGeneration);
        Assert.Equal(1, created.Metadata.Generation);
    }

    [Fact]
    public async Task Built_in_defaults_are_applied_like_the_real_API_server()
    {
        var created = await Client.AppsV1.CreateNamespacedDeploymentAsync(Workloads.Deployment("web"), Ns);

        Assert.Equal(1, created.Spec.Replicas);
        Assert.Equal(10, created.Spec.RevisionHistoryLimit);
        Assert.Equal(600, created.Spec.ProgressDeadlineSeconds);
        Assert.Equal("RollingUpdate", created.Spec.Strategy.Type);
        Assert.Equal("25%", created.Spec.Strategy.RollingUpdate.MaxSurge.Value);
        var pod = created.Spec.Template.Spec;
        Assert.Equal("Always", pod.RestartPolicy);
        Assert.Equal("ClusterFirst", pod.DnsPolicy);
        Assert.Equal(30, pod.TerminationGracePeriodSeconds);
        Assert.Equal("IfNotPresent", pod.Containers[0].ImagePullPolicy);
        Assert.Equal("/dev/termination-log", pod.Containers[0].TerminationMessagePath);
    }

    [Fact]
    public async Task Creating_in_a_terminating_namespace_is_403_Forbidden()
    {
        await CreateConfigMapAsync("holder");
        var cm = await Client.CoreV1.ReadNamespacedConfigMapAsync("holder", Ns);
        cm.Metadata.Finalizers = ["example.com/hold"];
        await Client.CoreV1.ReplaceNamespacedConfigMapAsync(cm, "holder", Ns);
        await Client.CoreV1.DeleteNamespaceAsync(Ns);

        var (code, status) = await RefusedAsync(() => CreateConfigMapAsync("late"));

        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal("configmaps \"late\" is forbidden: unable to create new content in namespace test because it is being terminated", status.Message);
    }
}
