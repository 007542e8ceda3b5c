using System.Text.Json.Nodes;
using Nexus.Api.Validation;

namespace Nexus.Api.Tests.Validation;

/// <summary>Schemas and objects for the validation tests, written as YAML the way CRDs and manifests are.</summary>
internal static class TestSchemas
{
    public const string UncheckedRules =
        "<nil>: Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

    public static CrdSchema FromYaml(string openApiYaml) => CrdSchema.FromOpenApi(YamlToJson.Convert(openApiYaml)!);

    /// <summary>A schema whose <c>spec.value</c> has the given keywords (YAML, one per line).</summary>
    public static CrdSchema WithSpecValue(string valueSchemaYaml)
    {
        var indented = string.Join("\n", valueSchemaYaml.Split('\n').Select(line => "        " + line));
        return FromYaml($"""
            type: object
            properties:
              spec:
                type: object
                properties:
                  value:
            {indented}
            """);
    }

    public static JsonObject Object(string yamlOrJson) => (JsonObject)YamlToJson.Convert(yamlOrJson)!;

    /// <summary>An object <c>{"spec": {"value": ...}}</c> with the value given as JSON.</summary>
    public static JsonObject SpecValue(string json) => new() { ["spec"] = new JsonObject { ["value"] = JsonNode.Parse(json) } };

    public static string[] Messages(IEnumerable<FieldError> errors) => errors.Select(error => error.ToString()).ToArray();
}
