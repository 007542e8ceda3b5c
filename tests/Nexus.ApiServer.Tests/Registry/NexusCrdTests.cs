using System.Net;
using System.Text.Json.Nodes;
using k8s;
using Nexus.Api.Validation;
using Nexus.ApiServer.Tests.Support;

namespace Nexus.ApiServer.Tests.Registry;

/// <summary>The committed crds/ installed as a cluster would install them: the examples are admitted (with the
/// schema's defaults), and a mistake is answered 422 with the field named, by default and without any hook.</summary>
public class NexusCrdTests : ServerTest
{
    private const string Group = "nexus.moe";
    private const string Version = "v1alpha1";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Server.InstallCrds(Path.Combine(RepositoryRoot.Path, "crds"));
    }

    [Fact]
    public async Task Every_example_is_admitted_and_defaulted()
    {
        var files = Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "examples"), "*.yaml", SearchOption.AllDirectories);
        Assert.True(files.Length >= 7);

        foreach (var file in files)
        {
            var manifest = YamlToJson.Convert(await File.ReadAllTextAsync(file))!.AsObject();
            var plural = manifest["kind"]!.GetValue<string>().ToLowerInvariant() + "s";
            await Client.CustomObjects.CreateNamespacedCustomObjectAsync(manifest, Group, Version, Ns, plural);
        }

        var news = CustomObjects.AsJson(await Client.CustomObjects.GetNamespacedCustomObjectAsync(Group, Version, Ns, "experts", "news"));
        Assert.Equal(0, news["spec"]!["resources"]!["gpu"]!["count"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_model_whose_rollout_could_never_progress_is_refused_naming_the_field()
    {
        var model = YamlToJson.Convert(await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "examples", "nexusmodel-demo.yaml")))!.AsObject();
        model["spec"]!["serving"]!["strategy"] = new JsonObject { ["maxSurge"] = 0, ["maxUnavailable"] = 0 };
        model["spec"]!["router"]!["topK"] = 9;

        var (code, status) = await RefusedAsync(() => Client.CustomObjects.CreateNamespacedCustomObjectAsync(model, Group, Version, Ns, "nexusmodels"));

        Assert.Equal((HttpStatusCode)422, code);
        Assert.Equal("Invalid", status.Reason);
        Assert.StartsWith("NexusModel.nexus.moe \"demo\" is invalid: ", status.Message, StringComparison.Ordinal);
        Assert.Equal(["spec.router.topK", "spec.serving.strategy.maxUnavailable"], status.Details.Causes.Select(c => c.Field).Order(StringComparer.Ordinal));
        Assert.Contains(status.Details.Causes, c => c.Message.Contains("maxUnavailable: 1", StringComparison.Ordinal));
    }

}
