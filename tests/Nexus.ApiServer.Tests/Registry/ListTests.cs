using System.Net;
using k8s;
using k8s.Models;
using Nexus.ApiServer.Tests.Support;

namespace Nexus.ApiServer.Tests.Registry;

public sealed class ListTests : ServerTest
{
    protected override LocalApiServerOptions Options => new() { EventHistoryLimit = 50 };

    private async Task CreateLabelledAsync()
    {
        await CreateConfigMapAsync("a", labels: new Dictionary<string, string> { ["app"] = "web", ["tier"] = "gpu" });
        await CreateConfigMapAsync("b", labels: new Dictionary<string, string> { ["app"] = "web" });
        await CreateConfigMapAsync("c", labels: new Dictionary<string, string> { ["app"] = "batch", ["tier"] = "cpu" });
        await CreateConfigMapAsync("d");
    }

    [Fact]
    public async Task A_list_has_the_list_kind_the_current_resourceVersion_and_items_in_name_order()
    {
        await CreateConfigMapAsync("b");
        await CreateConfigMapAsync("a");

        var list = await Client.CoreV1.ListNamespacedConfigMapAsync(Ns);

        Assert.Equal("ConfigMapList", list.Kind);
        Assert.Equal("v1", list.ApiVersion);
        Assert.Equal(Server.ResourceVersion.ToString(), list.Metadata.ResourceVersion);
        Assert.Equal(["a", "b"], list.Items.Select(i => i.Metadata.Name));
        Assert.All(list.Items, i => Assert.Null(i.Kind));
    }

    [Theory]
    [InlineData("app=web", "a,b")]
    [InlineData("app==web", "a,b")]
    [InlineData("app!=web", "c,d")]
    [InlineData("app in (batch, web),tier", "a,c")]
    [InlineData("tier notin (gpu)", "b,c,d")]
    [InlineData("tier", "a,c")]
    [InlineData("!tier", "b,d")]
    [InlineData("app=web,!tier", "b")]
    [InlineData("", "a,b,c,d")]
    public async Task Label_selectors_match_like_the_API_server(string selector, string expected)
    {
        await CreateLabelledAsync();

        var list = await Client.CoreV1.ListNamespacedConfigMapAsync(Ns, labelSelector: selector);

        Assert.Equal(expected, string.Join(',', list.Items.Select(i => i.Metadata.Name)));
    }

    [Theory]
    [InlineData("app in (web")]
    [InlineData("=web")]
    [InlineData("app=we b")]
    [InlineData("bad key!=x")]
    public async Task A_malformed_label_selector_is_400(string selector)
    {
        var (code, status) = await RefusedAsync(() => Client.CoreV1.ListNamespacedConfigMapAsync(Ns, labelSelector: selector));

        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Equal("BadRequest", status.Reason);
    }

    [Fact]
    public async Task Field_selectors_on_name_and_namespace_work_and_unknown_fields_are_400()
    {
        await CreateLabelledAsync();
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), "default");

        var byName = await Client.CoreV1.ListConfigMapForAllNamespacesAsync(fieldSelector: "metadata.name=a");
        var notA = await Client.CoreV1.ListNamespacedConfigMapAsync(Ns, fieldSelector: "metadata.name!=a");
        var byNamespace = await Client.CoreV1.ListConfigMapForAllNamespacesAsync(fieldSelector: "metadata.namespace=default");
        var (code, status) = await RefusedAsync(() => Client.CoreV1.ListNamespacedConfigMapAsync(Ns, fieldSelector: "data.key=value"));

        Assert.Equal([$"default/a", $"{Ns}/a"], byName.Items.Select(i => $"{i.Metadata.NamespaceProperty}/{i.Metadata.Name}"));
        Assert.Equal(["b", "c", "d"], notA.Items.Select(i => i.Metadata.Name));
        Assert.Equal(["a"], byNamespace.Items.Select(i => i.Metadata.Name));
        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Equal("field label not supported: data.key", status.Message);
    }

    [Fact]
    public async Task Pages_read_one_consistent_snapshot()
    {
        foreach (var name in new[] { "a", "b", "c", "d", "e" })
        {
            await CreateConfigMapAsync(name);
        }

        var first = await Client.CoreV1.ListNamespacedConfigMapAsync(Ns, limit: 2);
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("c", Ns);
        await CreateConfigMapAsync("bb");
        var second = await Client.CoreV1.ListNamespacedConfigMapAsync(Ns, limit: 2, continueParameter: first.Metadata.ContinueProperty);
        var third = await Client.CoreV1.ListNamespacedConfigMapAsync(Ns, limit: 2, continueParameter: second.Metadata.ContinueProperty);

        Assert.Equal(["a", "b"], first.Items.Select(i => i.Metadata.Name));
        Assert.Equal(3, first.Metadata.RemainingItemCount);
        Assert.Equal(["c", "d"], second.Items.Select(i => i.Metadata.Name));
        Assert.Equal(["e"], third.Items.Select(i => i.Metadata.Name));
        Assert.Null(third.Metadata.ContinueProperty);
        Assert.Equal(first.Metadata.ResourceVersion, second.Metadata.ResourceVersion);
        Assert.Equal(first.Metadata.ResourceVersion, third.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task A_continue_token_older_than_the_compacted_history_is_410_Expired()
    {
        foreach (var name in new[] { "a", "b", "c" })
        {
            await CreateConfigMapAsync(name);
        }

        var first = await Client.CoreV1.ListNamespacedConfigMapAsync(Ns, limit: 1);
        await CreateConfigMapAsync("d");
        Server.Faults.CompactNow();

        var (code, status) = await RefusedAsync(() =>
            Client.CoreV1.ListNamespacedConfigMapAsync(Ns, limit: 1, continueParameter: first.Metadata.ContinueProperty));

        Assert.Equal(HttpStatusCode.Gone, code);
        Assert.Equal("Expired", status.Reason);
        Assert.StartsWith("The provided continue parameter is too old", status.Message);
        Assert.NotNull(status.Metadata.ContinueProperty);
    }

    [Fact]
    public async Task Falling_out_of_the_event_history_window_expires_a_snapshot()
    {
        await CreateConfigMapAsync("a");
        await CreateConfigMapAsync("b");
        var first = await Client.CoreV1.ListNamespacedConfigMapAsync(Ns, limit: 1);
        for (var i = 0; i < 51; i++)
        {
            await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch($$$"""{"data":{"n":"{{{i}}}"}}""", V1Patch.PatchType.MergePatch), "b", Ns);
        }

        var (code, _) = await RefusedAsync(() =>
            Client.CoreV1.ListNamespacedConfigMapAsync(Ns, limit: 1, continueParameter: first.Metadata.ContinueProperty));

        Assert.Equal(HttpStatusCode.Gone, code);
    }

    [Fact]
    public async Task An_exact_resourceVersion_reads_the_past()
    {
        await CreateConfigMapAsync("a", new Dictionary<string, string> { ["v"] = "old" });
        var then = Server.ResourceVersion.ToString();
        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"v":"new"}}""", V1Patch.PatchType.MergePatch), "a", Ns);
        await CreateConfigMapAsync("b");

        var past = await Client.CoreV1.ListNamespacedConfigMapAsync(Ns, resourceVersion: then, resourceVersionMatch: "Exact");
        var now = await Client.CoreV1.ListNamespacedConfigMapAsync(Ns, resourceVersion: "0");

        Assert.Equal(then, past.Metadata.ResourceVersion);
        Assert.Equal("old", Assert.Single(past.Items).Data["v"]);
        Assert.Equal(["a", "b"], now.Items.Select(i => i.Metadata.Name));
    }

    [Fact]
    public async Task A_resourceVersion_newer_than_the_server_is_a_504_timeout()
    {
        var (code, status) = await RefusedAsync(() => Client.CoreV1.ListNamespacedConfigMapAsync(Ns, resourceVersion: "999999"));

        Assert.Equal(HttpStatusCode.GatewayTimeout, code);
        Assert.StartsWith("Too large resource version: 999999", status.Message);
    }

    [Fact]
    public async Task Lists_across_namespaces_and_of_cluster_scoped_resources_work()
    {
        await CreateConfigMapAsync("here");
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("there"), "default");

        var all = await Client.CoreV1.ListConfigMapForAllNamespacesAsync();
        var namespaces = await Client.CoreV1.ListNamespaceAsync();

        Assert.Equal(["default/there", $"{Ns}/here"], all.Items.Select(i => $"{i.Metadata.NamespaceProperty}/{i.Metadata.Name}"));
        Assert.Equal(["default", Ns], namespaces.Items.Select(n => n.Metadata.Name));
    }
}
