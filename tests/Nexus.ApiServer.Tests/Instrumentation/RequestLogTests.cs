using k8s;
using k8s.Models;
using Nexus.ApiServer.Tests.Support;

namespace Nexus.ApiServer.Tests.Instrumentation;

public sealed class RequestLogTests : ServerTest
{
    [Fact]
    public async Task Every_request_is_classified_like_the_API_servers_RequestInfo()
    {
        var mark = Server.Requests.Mark();

        await CreateConfigMapAsync("cfg");
        await Client.CoreV1.ReadNamespacedConfigMapAsync("cfg", Ns);
        await Client.CoreV1.ListNamespacedConfigMapAsync(Ns);
        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"k":"v"}}""", V1Patch.PatchType.MergePatch), "cfg", Ns);
        await Client.AppsV1.CreateNamespacedDeploymentAsync(Workloads.Deployment("web"), Ns);
        await Client.AppsV1.PatchNamespacedDeploymentStatusAsync(new V1Patch("""{"status":{"replicas":1}}""", V1Patch.PatchType.MergePatch), "web", Ns);
        await RefusedAsync(() => Client.CoreV1.ReadNamespacedConfigMapAsync("ghost", Ns));
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("cfg", Ns);

        var records = Server.Requests.Since(mark);
        Assert.Equal(
            [
                ("create", "configmaps", null, 201),
                ("get", "configmaps", null, 200),
                ("list", "configmaps", null, 200),
                ("patch", "configmaps", null, 200),
                ("create", "deployments", null, 201),
                ("patch", "deployments", "status", 200),
                ("get", "configmaps", null, 404),
                ("delete", "configmaps", null, 200),
            ],
            records.Select(r => (r.Verb, r.Resource, r.Subresource, r.StatusCode)));
        Assert.All(records, r => Assert.Equal(Ns, r.Namespace));
        Assert.Equal("apps", records[4].Group);
        Assert.Equal("ghost", records[6].Name);
    }

    [Fact]
    public async Task A_create_is_logged_with_the_name_of_the_object_it_creates()
    {
        await CreateConfigMapAsync("cfg");
        await RefusedAsync(() => CreateConfigMapAsync("cfg"));
        var generated = await Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { GenerateName = "gen-" } }, Ns);

        var creates = Server.Requests.All.Where(r => r is { Verb: "create", Resource: "configmaps" }).ToList();

        Assert.Equal([("cfg", 201), ("cfg", 409), (generated.Metadata.Name, 201)], creates.Select(r => (r.Name, r.StatusCode)));
        Assert.StartsWith("gen-", generated.Metadata.Name);
    }

    [Fact]
    public async Task Reads_and_watches_are_not_writes()
    {
        await CreateConfigMapAsync("cfg");
        var mark = Server.Requests.Mark();
        using var watch = new WatchRecorder<V1ConfigMap>();
        watch.Watcher = Client.CoreV1.WatchListNamespacedConfigMap(Ns, onEvent: watch.OnEvent, onError: watch.OnError, onClosed: watch.OnClosed);

        await watch.NextAsync();
        await Client.CoreV1.ReadNamespacedConfigMapAsync("cfg", Ns);
        await Client.CoreV1.ReplaceNamespacedConfigMapAsync(await Client.CoreV1.ReadNamespacedConfigMapAsync("cfg", Ns), "cfg", Ns);

        Assert.Equal(1, Server.Requests.Since(mark).Count(r => r.Verb == "watch"));
        Assert.Equal(["update"], Server.Requests.Writes(mark).Select(r => r.Verb));
        Assert.Equal(1, Server.Requests.Count("update", "configmaps", "cfg"));
    }

    [Fact]
    public async Task Concurrent_requests_are_all_counted()
    {
        await CreateConfigMapAsync("cfg");
        var mark = Server.Requests.Mark();

        await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => Client.CoreV1.ReadNamespacedConfigMapAsync("cfg", Ns)));

        Assert.Equal(40, Server.Requests.Since(mark).Count(r => r.Verb == "get"));
        Assert.Equal(40, Server.Requests.Since(mark).Select(r => r.Sequence).Distinct().Count());
    }

    [Fact]
    public async Task Each_request_keeps_its_clients_User_Agent()
    {
        await CreateConfigMapAsync("cfg");
        using var operatorClient = new Kubernetes(new KubernetesClientConfiguration { Host = Server.BaseUri.ToString(), UserAgent = "nexus-operator/test" });
        var mark = Server.Requests.Mark();

        await operatorClient.CoreV1.ReadNamespacedConfigMapAsync("cfg", Ns);
        await Client.CoreV1.ReadNamespacedConfigMapAsync("cfg", Ns);

        var records = Server.Requests.Since(mark);
        Assert.Equal("nexus-operator/test", records[0].UserAgent);
        Assert.NotEqual("nexus-operator/test", records[1].UserAgent);
    }

    [Fact]
    public async Task Seeded_objects_follow_the_create_rules_without_showing_up_in_the_log()
    {
        var before = Server.Requests.Count();

        var seeded = Server.Seed(new System.Text.Json.Nodes.JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "ConfigMap",
            ["metadata"] = new System.Text.Json.Nodes.JsonObject { ["name"] = "seeded", ["namespace"] = Ns },
        });
        var read = await Client.CoreV1.ReadNamespacedConfigMapAsync("seeded", Ns);

        Assert.Equal(before + 1, Server.Requests.Count());
        Assert.Equal(seeded.Get("metadata.uid"), read.Metadata.Uid);
        Assert.Throws<ArgumentException>(() => Server.Seed(new System.Text.Json.Nodes.JsonObject { ["apiVersion"] = "v9", ["kind"] = "Nothing" }));
    }
}
