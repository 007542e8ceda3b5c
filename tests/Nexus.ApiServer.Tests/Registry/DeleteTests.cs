using System.Net;
using k8s;
using k8s.Models;
using Nexus.ApiServer.Tests.Support;

namespace Nexus.ApiServer.Tests.Registry;

public sealed class DeleteTests : ServerTest
{
    private const string Finalizer = "nexus.moe/artifacts";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Server.InstallCrd(ExpertCrd.Yaml);
    }

    [Fact]
    public async Task Deleting_an_object_without_finalizers_removes_it_and_answers_with_a_Status()
    {
        var created = await CreateConfigMapAsync("cfg");

        var status = await Client.CoreV1.DeleteNamespacedConfigMapAsync("cfg", Ns);

        Assert.Equal("Success", status.Status);
        Assert.Equal(created.Metadata.Uid, status.Details.Uid);
        Assert.Null(Server.Get("v1", "configmaps", Ns, "cfg"));
    }

    [Fact]
    public async Task Deleting_a_custom_resource_answers_with_the_deleted_object()
    {
        await Client.CustomObjects.CreateNamespacedCustomObjectAsync(ExpertCrd.Expert("coder"), ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural);
        var revision = Server.ResourceVersion;

        var deleted = CustomObjects.AsJson(await Client.CustomObjects.DeleteNamespacedCustomObjectAsync(ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder"));

        Assert.Equal("coder", deleted.Get("metadata.name"));
        Assert.Equal((revision + 1).ToString(), deleted.Get("metadata.resourceVersion"));
        Assert.Null(Server.Get(ExpertCrd.ApiVersion, ExpertCrd.Plural, Ns, "coder"));
    }

    [Fact]
    public async Task Deleting_an_object_with_finalizers_marks_it_and_bumps_its_generation()
    {
        var expert = ExpertCrd.Expert("coder");
        ((Dictionary<string, object>)expert["metadata"])["finalizers"] = new[] { Finalizer };
        await Client.CustomObjects.CreateNamespacedCustomObjectAsync(expert, ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural);

        await Client.CustomObjects.DeleteNamespacedCustomObjectAsync(ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder");
        var marked = CustomObjects.AsJson(await Client.CustomObjects.GetNamespacedCustomObjectAsync(ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder"));

        Assert.NotNull(marked.Get("metadata.deletionTimestamp"));
        Assert.Equal("0", marked.Get("metadata.deletionGracePeriodSeconds"));
        Assert.Equal("2", marked.Get("metadata.generation"));
        Assert.Equal($"[\"{Finalizer}\"]", marked.Get("metadata.finalizers"));
    }

    [Fact]
    public async Task Removing_the_last_finalizer_of_a_deleted_object_removes_it()
    {
        var cm = ConfigMap("held");
        cm.Metadata.Finalizers = [Finalizer, "other.example/hold"];
        await Client.CoreV1.CreateNamespacedConfigMapAsync(cm, Ns);
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("held", Ns);

        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"metadata":{"finalizers":["other.example/hold"]}}""", V1Patch.PatchType.MergePatch), "held", Ns);
        Assert.NotNull(Server.Get("v1", "configmaps", Ns, "held"));
        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"metadata":{"finalizers":null}}""", V1Patch.PatchType.MergePatch), "held", Ns);

        Assert.Null(Server.Get("v1", "configmaps", Ns, "held"));
    }

    [Fact]
    public async Task No_finalizer_can_be_added_to_an_object_being_deleted()
    {
        var cm = ConfigMap("held");
        cm.Metadata.Finalizers = [Finalizer];
        await Client.CoreV1.CreateNamespacedConfigMapAsync(cm, Ns);
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("held", Ns);

        var (code, status) = await RefusedAsync(() => Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch($$$"""{"metadata":{"finalizers":["{{{Finalizer}}}","late.example/hold"]}}""", V1Patch.PatchType.MergePatch), "held", Ns));

        Assert.Equal((HttpStatusCode)422, code);
        Assert.Equal(
            "ConfigMap \"held\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"late.example/hold\"}",
            status.Message);
        var cause = Assert.Single(status.Details.Causes);
        Assert.Equal("FieldValueForbidden", cause.Reason);
    }

    [Fact]
    public async Task An_update_cannot_clear_a_deletion_timestamp()
    {
        var cm = ConfigMap("held");
        cm.Metadata.Finalizers = [Finalizer];
        await Client.CoreV1.CreateNamespacedConfigMapAsync(cm, Ns);
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("held", Ns);
        var marked = await Client.CoreV1.ReadNamespacedConfigMapAsync("held", Ns);

        marked.Metadata.DeletionTimestamp = null;
        marked.Data["key"] = "edited";
        var updated = await Client.CoreV1.ReplaceNamespacedConfigMapAsync(marked, "held", Ns);

        Assert.NotNull(updated.Metadata.DeletionTimestamp);
        Assert.Equal("edited", updated.Data["key"]);
    }

    [Fact]
    public async Task Deleting_again_an_object_being_deleted_changes_nothing()
    {
        var cm = ConfigMap("held");
        cm.Metadata.Finalizers = [Finalizer];
        await Client.CoreV1.CreateNamespacedConfigMapAsync(cm, Ns);
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("held", Ns);
        var revision = Server.ResourceVersion;

        await Client.CoreV1.DeleteNamespacedConfigMapAsync("held", Ns);

        Assert.Equal(revision, Server.ResourceVersion);
    }

    [Fact]
    public async Task Delete_preconditions_on_uid_and_resourceVersion_are_honoured()
    {
        var created = await CreateConfigMapAsync("cfg");

        var (uidCode, uidStatus) = await RefusedAsync(() => Client.CoreV1.DeleteNamespacedConfigMapAsync(
            "cfg", Ns, new V1DeleteOptions { Preconditions = new V1Preconditions { Uid = Guid.NewGuid().ToString() } }));
        var (rvCode, rvStatus) = await RefusedAsync(() => Client.CoreV1.DeleteNamespacedConfigMapAsync(
            "cfg", Ns, new V1DeleteOptions { Preconditions = new V1Preconditions { ResourceVersion = "1" } }));
        await Client.CoreV1.DeleteNamespacedConfigMapAsync(
            "cfg", Ns, new V1DeleteOptions { Preconditions = new V1Preconditions { Uid = created.Metadata.Uid, ResourceVersion = created.Metadata.ResourceVersion } });

        Assert.Equal(HttpStatusCode.Conflict, uidCode);
        Assert.Contains("Precondition failed: UID in precondition", uidStatus.Message);
        Assert.Equal(HttpStatusCode.Conflict, rvCode);
        Assert.Contains("Precondition failed: ResourceVersion in precondition: 1", rvStatus.Message);
        Assert.Null(Server.Get("v1", "configmaps", Ns, "cfg"));
    }

    [Fact]
    public async Task Deleting_a_missing_object_is_404()
    {
        var (code, status) = await RefusedAsync(() => Client.BatchV1.DeleteNamespacedJobAsync("ghost", Ns));

        Assert.Equal(HttpStatusCode.NotFound, code);
        Assert.Equal("jobs.batch \"ghost\" not found", status.Message);
    }

    [Fact]
    public async Task Delete_collection_removes_the_selected_objects()
    {
        await CreateConfigMapAsync("a", labels: new Dictionary<string, string> { ["app"] = "x" });
        await CreateConfigMapAsync("b", labels: new Dictionary<string, string> { ["app"] = "y" });

        await Client.CoreV1.DeleteCollectionNamespacedConfigMapAsync(Ns, labelSelector: "app=x");

        Assert.Equal(["b"], (await Client.CoreV1.ListNamespacedConfigMapAsync(Ns)).Items.Select(c => c.Metadata.Name));
    }
}
