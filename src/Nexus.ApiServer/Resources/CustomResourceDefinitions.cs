using System.Text.Json.Nodes;
using Nexus.ApiServer.Registry;
using Nexus.ApiServer.Storage;

namespace Nexus.ApiServer.Resources;

/// <summary>Reads an apiextensions.k8s.io/v1 CustomResourceDefinition into the definitions it serves: one per served
/// version, sharing one store, with the names, scope, status subresource and selectable fields the CRD declares.</summary>
internal static class CustomResourceDefinitions
{
    public static IReadOnlyList<ResourceDefinition> Parse(JsonObject crd, Func<string, AdmissionHook?> admissionFor)
    {
        var errors = Validate(crd);
        if (errors.Count > 0)
        {
            throw new FormatException(string.Join("; ", errors));
        }

        var spec = (JsonObject)crd["spec"]!;
        var names = (JsonObject)spec["names"]!;
        var group = ObjectJson.StringOf(spec["group"])!;
        var kind = ObjectJson.StringOf(names["kind"])!;
        var plural = ObjectJson.StringOf(names["plural"])!;
        var singular = ObjectJson.StringOf(names["singular"]) ?? kind.ToLowerInvariant();
        var namespaced = ObjectJson.StringOf(spec["scope"]) != "Cluster";
        var shortNames = Strings(names["shortNames"]);
        var categories = Strings(names["categories"]);
        var result = new List<ResourceDefinition>();
        foreach (var version in ((JsonArray)spec["versions"]!).OfType<JsonObject>())
        {
            if (version["served"] is JsonValue served && served.TryGetValue<bool>(out var isServed) && !isServed)
            {
                continue;
            }

            var name = ObjectJson.StringOf(version["name"])!;
            var hasStatus = version["subresources"]?["status"] is not null;
            var selectable = (version["selectableFields"] as JsonArray ?? [])
                .Select(f => ObjectJson.StringOf(f?["jsonPath"])?.TrimStart('.'))
                .OfType<string>()
                .ToList();
            result.Add(new ResourceDefinition(
                group, name, plural, singular, kind, namespaced, hasStatus, hasGeneration: true,
                new CustomResourceStrategy(admissionFor(name)), shortNames, categories, selectable));
        }

        return result;
    }

    /// <summary>The structural checks the API server makes on a CRD itself, as field errors.</summary>
    public static IReadOnlyList<FieldViolation> Validate(JsonObject crd)
    {
        var errors = new List<FieldViolation>();
        var spec = crd["spec"] as JsonObject;
        var group = ObjectJson.StringOf(spec?["group"]);
        var plural = ObjectJson.StringOf(spec?["names"]?["plural"]);
        if (string.IsNullOrEmpty(group))
        {
            errors.Add(FieldViolation.Required("spec.group"));
        }

        if (string.IsNullOrEmpty(plural))
        {
            errors.Add(FieldViolation.Required("spec.names.plural"));
        }

        if (string.IsNullOrEmpty(ObjectJson.StringOf(spec?["names"]?["kind"])))
        {
            errors.Add(FieldViolation.Required("spec.names.kind"));
        }

        var scope = ObjectJson.StringOf(spec?["scope"]);
        if (scope is not ("Namespaced" or "Cluster"))
        {
            errors.Add(new FieldViolation("spec.scope", "Unsupported value", $"\"{scope}\": supported values: \"Cluster\", \"Namespaced\""));
        }

        var versions = (spec?["versions"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        if (versions.Count == 0)
        {
            errors.Add(FieldViolation.Invalid("spec.versions", "null", "must have exactly one version marked as storage version"));
        }
        else if (versions.Count(v => v["storage"] is JsonValue s && s.TryGetValue<bool>(out var storage) && storage) != 1)
        {
            errors.Add(FieldViolation.Invalid("spec.versions", $"{versions.Count} versions", "must have exactly one version marked as storage version"));
        }

        var name = ObjectJson.MetadataString(crd, "name");
        if (group is not null && plural is not null && name != $"{plural}.{group}")
        {
            errors.Add(FieldViolation.Invalid("metadata.name", $"\"{name}\"", "must be spec.names.plural+\".\"+spec.group"));
        }

        return errors;
    }

    public static string StorageVersion(JsonObject crd) =>
        ((JsonArray)crd["spec"]!["versions"]!).OfType<JsonObject>()
            .Where(v => v["storage"] is JsonValue s && s.TryGetValue<bool>(out var storage) && storage)
            .Select(v => ObjectJson.StringOf(v["name"])!)
            .First();

    private static List<string> Strings(JsonNode? node) =>
        (node as JsonArray ?? []).Select(ObjectJson.StringOf).OfType<string>().ToList();
}
