using System.Text.Json.Nodes;
using k8s;

namespace Nexus.Operator.Runtime;

/// <summary>Deep copies and JSON views of API objects, through KubernetesClient's serializer so every field the API
/// knows round-trips exactly.</summary>
public static class ResourceCopy
{
    public static T Deep<T>(T resource)
        where T : class => KubernetesJson.Deserialize<T>(KubernetesJson.Serialize(resource));

    public static JsonNode? ToJson(object? value) => value is null ? null : JsonNode.Parse(KubernetesJson.Serialize(value));
}
