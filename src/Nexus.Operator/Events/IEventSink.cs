using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace Nexus.Operator.Events;

/// <summary>Where the recorder writes Events: the API server, or a test's list.</summary>
public interface IEventSink
{
    Task<Corev1Event> CreateAsync(Corev1Event newEvent, CancellationToken cancellationToken);

    /// <summary>Raises an existing Event's count and lastTimestamp (a repeat within the de-duplication window).</summary>
    Task PatchCountAsync(string @namespace, string name, int count, DateTimeOffset lastTimestamp, CancellationToken cancellationToken);
}

public sealed class KubernetesEventSink : IEventSink
{
    private readonly IKubernetes _client;

    public KubernetesEventSink(IKubernetes client)
    {
        _client = client;
    }

    public Task<Corev1Event> CreateAsync(Corev1Event newEvent, CancellationToken cancellationToken) =>
        _client.CoreV1.CreateNamespacedEventAsync(newEvent, newEvent.Metadata.NamespaceProperty, cancellationToken: cancellationToken);

    public async Task PatchCountAsync(string @namespace, string name, int count, DateTimeOffset lastTimestamp, CancellationToken cancellationToken)
    {
        var patch = new JsonObject
        {
            ["count"] = count,
            ["lastTimestamp"] = JsonNode.Parse(KubernetesJson.Serialize(lastTimestamp.UtcDateTime)),
        };
        await _client.CoreV1.PatchNamespacedEventAsync(
            new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), name, @namespace, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
    }
}
