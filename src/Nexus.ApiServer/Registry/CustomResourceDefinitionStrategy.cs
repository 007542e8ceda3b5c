using System.Text.Json.Nodes;
using Nexus.ApiServer.Resources;
using Nexus.ApiServer.Storage;

namespace Nexus.ApiServer.Registry;

/// <summary>apiextensions.k8s.io/v1 CustomResourceDefinition: a CRD written through the API (or installed by a test)
/// starts serving its resource when the write commits, with Established and NamesAccepted conditions.</summary>
internal sealed class CustomResourceDefinitionStrategy(ResourceCatalog catalog) : ResourceStrategy
{
    private readonly Dictionary<string, AdmissionHook?> explicitAdmission = new(StringComparer.Ordinal);
    private readonly Lock gate = new();

    /// <summary>Admission a test gave with <c>InstallCrd</c> for the CRD named <paramref name="crdName"/>; it wins
    /// over the server-wide factory.</summary>
    public void SetAdmission(string crdName, AdmissionHook? admission)
    {
        lock (gate)
        {
            explicitAdmission[crdName] = admission;
        }
    }

    public override JsonNode? InitialStatus(JsonObject obj)
    {
        var names = obj["spec"]?["names"]?.DeepClone() as JsonObject ?? [];
        if (names["listKind"] is null && ObjectJson.StringOf(names["kind"]) is { } kind)
        {
            names["listKind"] = kind + "List";
        }

        return new JsonObject
        {
            ["acceptedNames"] = names,
            ["conditions"] = new JsonArray(Condition("NamesAccepted", "NoConflicts", "no conflicts found"), Condition("Established", "InitialNamesAccepted", "the initial names have been accepted")),
            ["storedVersions"] = new JsonArray(CustomResourceDefinitions.StorageVersion(obj)),
        };
    }

    public override IEnumerable<FieldViolation> ValidateCreate(ResourceDefinition definition, JsonObject obj) => CustomResourceDefinitions.Validate(obj);

    public override IEnumerable<FieldViolation> ValidateUpdate(ResourceDefinition definition, JsonObject obj, JsonObject old)
    {
        foreach (var error in CustomResourceDefinitions.Validate(obj))
        {
            yield return error;
        }

        foreach (var field in new[] { "group", "scope" })
        {
            if (ObjectJson.StringOf(obj["spec"]?[field]) != ObjectJson.StringOf(old["spec"]?[field]))
            {
                yield return FieldViolation.Immutable($"spec.{field}", $"\"{ObjectJson.StringOf(obj["spec"]?[field])}\"");
            }
        }
    }

    public override void Committed(JsonObject obj)
    {
        var name = ObjectJson.MetadataString(obj, "name") ?? string.Empty;
        AdmissionHook? explicitHook;
        bool hasExplicit;
        lock (gate)
        {
            hasExplicit = explicitAdmission.TryGetValue(name, out explicitHook);
        }

        var versions = CustomResourceDefinitions.Parse(obj, version => hasExplicit ? explicitHook : catalog.AdmissionFactory?.Invoke(obj, version));
        var spec = obj["spec"]!;
        catalog.ReplaceCustomResource(ObjectJson.StringOf(spec["group"])!, ObjectJson.StringOf(spec["names"]!["plural"])!, versions);
    }

    public override void Removed(JsonObject obj)
    {
        var spec = obj["spec"]!;
        catalog.ReplaceCustomResource(ObjectJson.StringOf(spec["group"])!, ObjectJson.StringOf(spec["names"]!["plural"])!, []);
    }

    private static JsonObject Condition(string type, string reason, string message) => new()
    {
        ["type"] = type,
        ["status"] = "True",
        ["reason"] = reason,
        ["message"] = message,
        ["lastTransitionTime"] = ObjectJson.Timestamp(DateTimeOffset.UtcNow),
    };
}
