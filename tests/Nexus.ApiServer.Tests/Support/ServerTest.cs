using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Nexus.ApiServer.Tests.Support;

/// <summary>Base of the tests: a fresh server and a real client for each test, and a namespace of its own.</summary>
public abstract class ServerTest : IAsyncLifetime
{
    protected const string Ns = "test";

    private LocalApiServer? server;
    private Kubernetes? client;

    protected LocalApiServer Server => server ?? throw new InvalidOperationException("The server has not started.");

    protected Kubernetes Client => client ?? throw new InvalidOperationException("The server has not started.");

    protected virtual LocalApiServerOptions Options => new();

    public virtual async Task InitializeAsync()
    {
        server = await LocalApiServer.StartAsync(Options);
        client = server.CreateClient();
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = Ns } });
    }

    public async Task DisposeAsync()
    {
        client?.Dispose();
        if (server is not null)
        {
            await server.DisposeAsync();
        }
    }

    protected static V1ConfigMap ConfigMap(string name, IDictionary<string, string>? data = null, IDictionary<string, string>? labels = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Labels = labels },
        Data = data ?? new Dictionary<string, string> { ["key"] = "value" },
    };

    protected Task<V1ConfigMap> CreateConfigMapAsync(string name, IDictionary<string, string>? data = null, IDictionary<string, string>? labels = null) =>
        Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap(name, data, labels), Ns);

    /// <summary>Runs <paramref name="call"/>, expecting the API to refuse it; returns the HTTP code and the Status.</summary>
    protected static async Task<(HttpStatusCode Code, V1Status Status)> RefusedAsync(Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<HttpOperationException>(call);
        var status = KubernetesJson.Deserialize<V1Status>(error.Response.Content);
        Assert.Equal("Status", status.Kind);
        Assert.Equal("v1", status.ApiVersion);
        Assert.Equal("Failure", status.Status);
        Assert.Equal((int)error.Response.StatusCode, status.Code);
        return (error.Response.StatusCode, status);
    }
}

/// <summary>Custom objects come back from the client as <see cref="System.Text.Json.JsonElement"/>; tests read them as JSON nodes.</summary>
internal static class CustomObjects
{
    public static System.Text.Json.Nodes.JsonObject AsJson(object value) => value switch
    {
        System.Text.Json.JsonElement element => (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse(element.GetRawText())!,
        System.Text.Json.Nodes.JsonObject node => node,
        _ => (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse(KubernetesJson.Serialize(value))!,
    };

    public static string? Get(this System.Text.Json.Nodes.JsonObject obj, string dottedPath)
    {
        System.Text.Json.Nodes.JsonNode? node = obj;
        foreach (var segment in dottedPath.Split('.'))
        {
            node = node is System.Text.Json.Nodes.JsonObject parent ? parent[segment] : null;
        }

        return node switch
        {
            null => null,
            System.Text.Json.Nodes.JsonValue value when value.TryGetValue<string>(out var text) => text,
            _ => node.ToJsonString(),
        };
    }
}
