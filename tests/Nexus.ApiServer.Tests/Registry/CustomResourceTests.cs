using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Nexus.ApiServer.Tests.Support;

namespace Nexus.ApiServer.Tests.Registry;

public sealed class CustomResourceTests : ServerTest
{
    private Task<object> CreateExpertAsync(Dictionary<string, object> expert) =>
        Client.CustomObjects.CreateNamespacedCustomObjectAsync(expert, ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural);

    private async Task<JsonObject> GetExpertAsync(string name) =>
        CustomObjects.AsJson(await Client.CustomObjects.GetNamespacedCustomObjectAsync(ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, name));

    [Fact]
    public async Task An_installed_CRD_is_served_discoverable_and_readable_as_a_CRD()
    {
        var served = Server.InstallCrd(ExpertCrd.Yaml);

        var definition = Assert.Single(served);
        Assert.True(definition.Namespaced);
        Assert.True(definition.HasStatusSubresource);
        var resources = await Client.CustomObjects.GetAPIResourcesAsync(ExpertCrd.Group, ExpertCrd.Version);
        Assert.Equal(["experts", "experts/status"], resources.Resources.Select(r => r.Name));
        Assert.Equal(["ex"], resources.Resources[0].ShortNames);
        var crd = await Client.ApiextensionsV1.ReadCustomResourceDefinitionAsync("experts.nexus.moe");
        Assert.Contains(crd.Status.Conditions, c => c.Type == "Established" && c.Status == "True");
    }

    [Fact]
    public async Task Create_drops_status_sets_generation_and_keeps_kind_in_list_items()
    {
        Server.InstallCrd(ExpertCrd.Yaml);

        var created = CustomObjects.AsJson(await CreateExpertAsync(ExpertCrd.Expert("coder", status: new() { ["phase"] = "Ready" })));
        var list = CustomObjects.AsJson(await Client.CustomObjects.ListNamespacedCustomObjectAsync(ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural));

        Assert.Null(created.Get("status"));
        Assert.Equal("1", created.Get("metadata.generation"));
        Assert.Equal("ExpertList", list.Get("kind"));
        var item = Assert.Single(list["items"]!.AsArray())!.AsObject();
        Assert.Equal("Expert", item.Get("kind"));
        Assert.Equal(ExpertCrd.ApiVersion, item.Get("apiVersion"));
    }

    [Fact]
    public async Task A_replace_without_resourceVersion_is_422_and_a_stale_one_is_409()
    {
        Server.InstallCrd(ExpertCrd.Yaml);
        var created = CustomObjects.AsJson(await CreateExpertAsync(ExpertCrd.Expert("coder")));
        await Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"spec":{"domain":"law"}}""", V1Patch.PatchType.MergePatch), ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder");

        var (missingCode, missing) = await RefusedAsync(() => Client.CustomObjects.ReplaceNamespacedCustomObjectAsync(
            ExpertCrd.Expert("coder", "math"), ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder"));
        var (staleCode, stale) = await RefusedAsync(() => Client.CustomObjects.ReplaceNamespacedCustomObjectAsync(
            ExpertCrd.Expert("coder", "math", resourceVersion: created.Get("metadata.resourceVersion")), ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder"));

        Assert.Equal((HttpStatusCode)422, missingCode);
        Assert.Equal("Expert.nexus.moe \"coder\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update", missing.Message);
        Assert.Equal(HttpStatusCode.Conflict, staleCode);
        Assert.Equal(
            "Operation cannot be fulfilled on experts.nexus.moe \"coder\": the object has been modified; please apply your changes to the latest version and try again",
            stale.Message);
    }

    [Fact]
    public async Task Replacing_status_changes_status_only()
    {
        Server.InstallCrd(ExpertCrd.Yaml);
        var created = CustomObjects.AsJson(await CreateExpertAsync(ExpertCrd.Expert("coder")));

        var withStatus = ExpertCrd.Expert("coder", "law", new() { ["phase"] = "Training", ["observedGeneration"] = 1 }, created.Get("metadata.resourceVersion"));
        ((Dictionary<string, object>)withStatus["metadata"])["labels"] = new Dictionary<string, string> { ["ignored"] = "yes" };
        var replaced = CustomObjects.AsJson(await Client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync(
            withStatus, ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder"));

        Assert.Equal("Training", replaced.Get("status.phase"));
        Assert.Equal("code", replaced.Get("spec.domain"));
        Assert.Null(replaced.Get("metadata.labels"));
        Assert.Equal("1", replaced.Get("metadata.generation"));
    }

    [Fact]
    public async Task Without_a_status_subresource_status_is_ordinary_content()
    {
        Server.InstallCrd(ExpertCrd.WithoutStatusSubresource);

        var created = CustomObjects.AsJson(await CreateExpertAsync(ExpertCrd.Expert("coder", status: new() { ["phase"] = "Ready" })));
        var changed = CustomObjects.AsJson(await Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"status":{"phase":"Failed"}}""", V1Patch.PatchType.MergePatch), ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder"));
        var (code, _) = await RefusedAsync(() => Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(
            new V1Patch("""{"status":{"phase":"Ready"}}""", V1Patch.PatchType.MergePatch), ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder"));

        Assert.Equal("Ready", created.Get("status.phase"));
        Assert.Equal("Failed", changed.Get("status.phase"));
        Assert.Equal("2", changed.Get("metadata.generation"));
        Assert.Equal(HttpStatusCode.NotFound, code);
    }

    [Fact]
    public async Task Admission_errors_become_422_Invalid_with_causes()
    {
        Server.InstallCrd(ExpertCrd.Yaml, admission: (obj, _) =>
        {
            var errors = new List<string>();
            if (obj["spec"]?["domain"]?.GetValue<string>() is not ("code" or "law"))
            {
                errors.Add($"spec.domain: Unsupported value: \"{obj["spec"]?["domain"]}\": supported values: \"code\", \"law\"");
            }

            if (obj["spec"]?["seed"] is null)
            {
                errors.Add("spec.seed: Required value");
            }

            return errors;
        });

        var (code, status) = await RefusedAsync(() => CreateExpertAsync(ExpertCrd.Expert("coder", "poetry")));

        Assert.Equal((HttpStatusCode)422, code);
        Assert.Equal("Invalid", status.Reason);
        Assert.Equal(
            "Expert.nexus.moe \"coder\" is invalid: [spec.domain: Unsupported value: \"poetry\": supported values: \"code\", \"law\", spec.seed: Required value]",
            status.Message);
        Assert.Equal("Expert", status.Details.Kind);
        Assert.Equal(ExpertCrd.Group, status.Details.Group);
        Assert.Equal(
            [("FieldValueNotSupported", "spec.domain", "Unsupported value: \"poetry\": supported values: \"code\", \"law\""), ("FieldValueRequired", "spec.seed", "Required value")],
            status.Details.Causes.Select(c => (c.Reason, c.Field, c.Message)));
        Assert.Null(Server.Get(ExpertCrd.ApiVersion, ExpertCrd.Plural, Ns, "coder"));
    }

    [Fact]
    public async Task Admission_may_default_and_sees_the_old_object_on_update()
    {
        JsonObject? seenOld = null;
        Server.InstallCrd(ExpertCrd.Yaml, admission: (obj, old) =>
        {
            seenOld = old;
            var spec = (JsonObject)obj["spec"]!;
            spec["steps"] ??= 100;
            return old is not null && old["spec"]?["domain"]?.ToJsonString() != spec["domain"]?.ToJsonString()
                ? ["spec.domain: Invalid value: \"string\": domain is immutable"]
                : [];
        });

        var created = CustomObjects.AsJson(await CreateExpertAsync(ExpertCrd.Expert("coder")));
        var createOld = seenOld;
        var (code, status) = await RefusedAsync(() => Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"spec":{"domain":"law"}}""", V1Patch.PatchType.MergePatch), ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder"));

        Assert.Equal("100", created.Get("spec.steps"));
        Assert.Null(createOld);
        Assert.Equal("code", seenOld?.Get("spec.domain"));
        Assert.Equal((HttpStatusCode)422, code);
        Assert.Equal("Expert.nexus.moe \"coder\" is invalid: spec.domain: Invalid value: \"string\": domain is immutable", status.Message);
    }

    [Fact]
    public async Task A_custom_resource_without_kind_is_400()
    {
        Server.InstallCrd(ExpertCrd.Yaml);
        var expert = ExpertCrd.Expert("coder");
        expert.Remove("kind");

        var (code, status) = await RefusedAsync(() => CreateExpertAsync(expert));

        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.StartsWith("Object 'Kind' is missing", status.Message);
    }

    [Fact]
    public async Task A_CRD_created_through_the_API_is_served_with_the_server_wide_admission()
    {
        await using var server = await LocalApiServer.StartAsync(new LocalApiServerOptions
        {
            Admission = (crd, version) => (obj, _) => obj["spec"]?["domain"] is null ? ["spec.domain: Required value"] : [],
        });
        using var client = server.CreateClient();
        var crd = KubernetesYaml.Deserialize<V1CustomResourceDefinition>(ExpertCrd.Yaml);

        await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd);
        var noDomain = ExpertCrd.Expert("coder");
        ((Dictionary<string, object>)noDomain["spec"]).Clear();
        var (code, _) = await RefusedAsync(() => client.CustomObjects.CreateNamespacedCustomObjectAsync(noDomain, ExpertCrd.Group, ExpertCrd.Version, "default", ExpertCrd.Plural));
        await client.CustomObjects.CreateNamespacedCustomObjectAsync(ExpertCrd.Expert("coder"), ExpertCrd.Group, ExpertCrd.Version, "default", ExpertCrd.Plural);

        Assert.Equal((HttpStatusCode)422, code);
        Assert.NotNull(server.Get(ExpertCrd.ApiVersion, ExpertCrd.Plural, "default", "coder"));
    }

    [Fact]
    public async Task Cluster_scoped_custom_resources_and_a_CRD_directory_install()
    {
        var directory = Directory.CreateTempSubdirectory("crds-");
        try
        {
            var clusterScoped = ExpertCrd.Yaml
                .Replace("scope: Namespaced", "scope: Cluster", StringComparison.Ordinal)
                .Replace("experts", "pools", StringComparison.Ordinal)
                .Replace("expert", "pool", StringComparison.Ordinal)
                .Replace("kind: Expert", "kind: Pool", StringComparison.Ordinal)
                .Replace("listKind: ExpertList", "listKind: PoolList", StringComparison.Ordinal)
                .Replace("shortNames: [ex]", "shortNames: [pl]", StringComparison.Ordinal);
            await File.WriteAllTextAsync(Path.Combine(directory.FullName, "experts.yaml"), ExpertCrd.Yaml);
            await File.WriteAllTextAsync(Path.Combine(directory.FullName, "pools.yaml"), clusterScoped);

            var installed = Server.InstallCrds(directory.FullName);
            var pool = new Dictionary<string, object> { ["apiVersion"] = ExpertCrd.ApiVersion, ["kind"] = "Pool", ["metadata"] = new Dictionary<string, object> { ["name"] = "gpus" } };
            await Client.CustomObjects.CreateClusterCustomObjectAsync(pool, ExpertCrd.Group, ExpertCrd.Version, "pools");
            var read = CustomObjects.AsJson(await Client.CustomObjects.GetClusterCustomObjectAsync(ExpertCrd.Group, ExpertCrd.Version, "pools", "gpus"));

            Assert.Equal(["experts", "pools"], installed.Select(d => d.Plural).Order());
            Assert.Null(read.Get("metadata.namespace"));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
