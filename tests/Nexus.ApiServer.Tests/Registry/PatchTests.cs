using System.Net;
using k8s;
using k8s.Models;
using Nexus.ApiServer.Tests.Support;

namespace Nexus.ApiServer.Tests.Registry;

public sealed class PatchTests : ServerTest
{
    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Server.InstallCrd(ExpertCrd.Yaml);
    }

    [Fact]
    public async Task A_merge_patch_merges_objects_and_null_removes_a_key()
    {
        await CreateConfigMapAsync("cfg", new Dictionary<string, string> { ["keep"] = "1", ["drop"] = "2" });

        var patched = await Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("""{"data":{"drop":null,"add":"3"}}""", V1Patch.PatchType.MergePatch), "cfg", Ns);

        Assert.Equal(new Dictionary<string, string> { ["keep"] = "1", ["add"] = "3" }, patched.Data);
    }

    [Fact]
    public async Task A_merge_patch_replaces_lists_whole()
    {
        var cm = ConfigMap("cfg");
        cm.Metadata.Finalizers = ["a.example/one", "a.example/two"];
        await Client.CoreV1.CreateNamespacedConfigMapAsync(cm, Ns);

        var patched = await Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("""{"metadata":{"finalizers":["a.example/two"]}}""", V1Patch.PatchType.MergePatch), "cfg", Ns);

        Assert.Equal(["a.example/two"], patched.Metadata.Finalizers);
    }

    [Fact]
    public async Task A_json_patch_applies_its_operations_in_order_when_its_test_passes()
    {
        await CreateConfigMapAsync("cfg", new Dictionary<string, string> { ["a"] = "1" });

        var patched = await Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch(
                """[{"op":"test","path":"/data/a","value":"1"},{"op":"add","path":"/data/b","value":"2"},{"op":"move","from":"/data/a","path":"/data/c"}]""",
                V1Patch.PatchType.JsonPatch),
            "cfg",
            Ns);

        Assert.Equal(new Dictionary<string, string> { ["b"] = "2", ["c"] = "1" }, patched.Data);
    }

    [Fact]
    public async Task A_json_patch_whose_test_fails_is_422_and_changes_nothing()
    {
        var created = await CreateConfigMapAsync("cfg", new Dictionary<string, string> { ["a"] = "1" });

        var (code, _) = await RefusedAsync(() => Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("""[{"op":"replace","path":"/data/a","value":"9"},{"op":"test","path":"/data/a","value":"1"}]""", V1Patch.PatchType.JsonPatch),
            "cfg",
            Ns));

        Assert.Equal((HttpStatusCode)422, code);
        var after = await Client.CoreV1.ReadNamespacedConfigMapAsync("cfg", Ns);
        Assert.Equal("1", after.Data["a"]);
        Assert.Equal(created.Metadata.ResourceVersion, after.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task A_malformed_json_patch_is_400()
    {
        await CreateConfigMapAsync("cfg");

        var (code, _) = await RefusedAsync(() => Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("""{"op":"add"}""", V1Patch.PatchType.JsonPatch), "cfg", Ns));

        Assert.Equal(HttpStatusCode.BadRequest, code);
    }

    [Fact]
    public async Task A_resourceVersion_in_a_patch_is_a_precondition()
    {
        var created = await CreateConfigMapAsync("cfg");
        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"key":"moved"}}""", V1Patch.PatchType.MergePatch), "cfg", Ns);

        var (code, status) = await RefusedAsync(() => Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch($$$"""{"metadata":{"resourceVersion":"{{{created.Metadata.ResourceVersion}}}"},"data":{"key":"stale"}}""", V1Patch.PatchType.MergePatch),
            "cfg",
            Ns));
        var current = await Client.CoreV1.ReadNamespacedConfigMapAsync("cfg", Ns);
        var accepted = await Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch($$$"""{"metadata":{"resourceVersion":"{{{current.Metadata.ResourceVersion}}}"},"data":{"key":"fresh"}}""", V1Patch.PatchType.MergePatch),
            "cfg",
            Ns);

        Assert.Equal(HttpStatusCode.Conflict, code);
        Assert.Equal("Conflict", status.Reason);
        Assert.Equal("fresh", accepted.Data["key"]);
    }

    [Fact]
    public async Task Server_side_apply_is_refused_loudly_with_415()
    {
        await CreateConfigMapAsync("cfg");

        var (code, status) = await RefusedAsync(() => Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"}}""", V1Patch.PatchType.ApplyPatch), "cfg", Ns, fieldManager: "test"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, code);
        Assert.Contains("server-side apply is not implemented", status.Message);
    }

    [Fact]
    public async Task A_strategic_merge_patch_works_on_built_ins_and_is_415_on_custom_resources()
    {
        await CreateConfigMapAsync("cfg");
        await Client.CustomObjects.CreateNamespacedCustomObjectAsync(ExpertCrd.Expert("coder"), ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural);

        var patched = await Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("""{"data":{"key":"strategic"}}""", V1Patch.PatchType.StrategicMergePatch), "cfg", Ns);
        var (code, _) = await RefusedAsync(() => Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"spec":{"domain":"law"}}""", V1Patch.PatchType.StrategicMergePatch), ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder"));

        Assert.Equal("strategic", patched.Data["key"]);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, code);
    }

    [Fact]
    public async Task A_status_patch_changes_status_only_and_keeps_the_generation()
    {
        await Client.CustomObjects.CreateNamespacedCustomObjectAsync(ExpertCrd.Expert("coder"), ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural);

        var patched = CustomObjects.AsJson(await Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(
            new V1Patch("""{"spec":{"domain":"law"},"status":{"phase":"Training","observedGeneration":1}}""", V1Patch.PatchType.MergePatch),
            ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder"));

        Assert.Equal("Training", patched.Get("status.phase"));
        Assert.Equal("code", patched.Get("spec.domain"));
        Assert.Equal("1", patched.Get("metadata.generation"));
    }

    [Fact]
    public async Task A_patch_on_the_main_resource_ignores_status_and_bumps_generation_for_spec()
    {
        await Client.CustomObjects.CreateNamespacedCustomObjectAsync(ExpertCrd.Expert("coder"), ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural);

        var patched = CustomObjects.AsJson(await Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"spec":{"domain":"law"},"status":{"phase":"Hacked"}}""", V1Patch.PatchType.MergePatch),
            ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder"));

        Assert.Equal("law", patched.Get("spec.domain"));
        Assert.Null(patched.Get("status"));
        Assert.Equal("2", patched.Get("metadata.generation"));
    }

    [Fact]
    public async Task A_deployment_status_patch_is_a_merge_on_status()
    {
        await Client.AppsV1.CreateNamespacedDeploymentAsync(Workloads.Deployment("web"), Ns);

        var patched = await Client.AppsV1.PatchNamespacedDeploymentStatusAsync(
            new V1Patch("""{"status":{"observedGeneration":1,"replicas":1}}""", V1Patch.PatchType.MergePatch), "web", Ns);

        Assert.Equal(1, patched.Status.ObservedGeneration);
        Assert.Equal(1, patched.Status.Replicas);
    }
}
