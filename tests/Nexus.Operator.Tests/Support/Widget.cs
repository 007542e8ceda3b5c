using System.Text.Json.Serialization;
using k8s;
using k8s.Models;
using Nexus.Api;

namespace Nexus.Operator.Tests.Support;

/// <summary>A small custom resource for the runtime's tests, shaped like the real Nexus kinds.</summary>
[KubernetesEntity(Group = Group, ApiVersion = Version, Kind = "Widget", PluralName = "widgets")]
public sealed class Widget : INexusResource
{
    public const string Group = "test.nexus.moe";
    public const string Version = "v1";

    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = $"{Group}/{Version}";

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = "Widget";

    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("spec")]
    public WidgetSpec Spec { get; set; } = new();

    [JsonPropertyName("status")]
    public WidgetStatus? Status { get; set; }

    public IConditionedStatus EnsureStatus() => Status ??= new WidgetStatus();

    public static Widget Create(string name, string? @namespace = "default", int size = 1) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = @namespace },
        Spec = new WidgetSpec { Size = size },
    };
}

public sealed class WidgetSpec
{
    [JsonPropertyName("size")]
    public int Size { get; set; }
}

public sealed class WidgetStatus : IConditionedStatus
{
    [JsonPropertyName("observedGeneration")]
    public long? ObservedGeneration { get; set; }

    [JsonPropertyName("conditions")]
    public IList<V1Condition>? Conditions { get; set; }

    [JsonPropertyName("message")]
    public string? Message { get; set; }
}
