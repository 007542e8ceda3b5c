using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Nexus.Api.Validation;

/// <summary>
/// One node of an apiextensions.k8s.io/v1 structural schema, parsed once: the keywords the API server acts on for
/// pruning, defaulting and validation, with its x-kubernetes-validations rules compiled.
/// allOf/anyOf/oneOf/not are not evaluated (our CRDs use them only for int-or-string, which has its own flag).
/// </summary>
internal sealed class StructuralSchema
{
    private static readonly TimeSpan PatternTimeout = TimeSpan.FromSeconds(1);

    public string? Type { get; private init; }
    public bool Nullable { get; private init; }
    public string? Format { get; private init; }
    public IReadOnlyList<KeyValuePair<string, StructuralSchema>> Properties { get; private init; } = [];
    public IReadOnlyDictionary<string, StructuralSchema> PropertiesByName { get; private init; }
        = new Dictionary<string, StructuralSchema>();
    public IReadOnlyList<string> Required { get; private init; } = [];
    public StructuralSchema? Items { get; private init; }
    public StructuralSchema? AdditionalProperties { get; private init; }
    public JsonArray? Enum { get; private init; }
    public double? Minimum { get; private init; }
    public double? Maximum { get; private init; }
    public bool ExclusiveMinimum { get; private init; }
    public bool ExclusiveMaximum { get; private init; }
    public double? MultipleOf { get; private init; }
    public long? MinLength { get; private init; }
    public long? MaxLength { get; private init; }
    public string? Pattern { get; private init; }
    public Regex? PatternRegex { get; private init; }
    public long? MinItems { get; private init; }
    public long? MaxItems { get; private init; }
    public long? MinProperties { get; private init; }
    public long? MaxProperties { get; private init; }
    public JsonNode? Default { get; private init; }
    public bool IntOrString { get; private init; }
    public bool PreserveUnknownFields { get; private init; }
    public bool EmbeddedResource { get; private init; }
    public string? ListType { get; private init; }
    public IReadOnlyList<string> ListMapKeys { get; private init; } = [];
    public IReadOnlyList<ValidationRule> Rules { get; private set; } = [];

    /// <summary>Properties or additionalProperties: a field not named here is unknown (and pruned).</summary>
    public bool HasProperties => Properties.Count > 0;

    /// <summary>The type the API server prints as the bad value of a failed rule ("object", "string", "" for int-or-string).</summary>
    public string TypeForMessages => Type ?? "";

    public static StructuralSchema Parse(JsonNode? node, string location)
    {
        if (node is not JsonObject schema)
        {
            throw new ArgumentException($"The schema at {location} is not an object.");
        }

        var properties = new List<KeyValuePair<string, StructuralSchema>>();
        if (schema["properties"] is JsonObject propertyNodes)
        {
            foreach (var (name, propertyNode) in propertyNodes)
            {
                properties.Add(new(name, Parse(propertyNode, $"{location}.properties.{name}")));
            }
        }

        StructuralSchema? additionalProperties = null;
        if (schema["additionalProperties"] is JsonObject additionalNode)
        {
            additionalProperties = Parse(additionalNode, $"{location}.additionalProperties");
        }

        var pattern = ReadString(schema, "pattern", location);
        var parsed = new StructuralSchema
        {
            Type = ReadString(schema, "type", location),
            Nullable = ReadBoolean(schema, "nullable", location),
            Format = ReadString(schema, "format", location),
            Properties = properties,
            PropertiesByName = properties.ToDictionary(entry => entry.Key, entry => entry.Value, StringComparer.Ordinal),
            Required = ReadStrings(schema, "required", location),
            Items = schema["items"] is { } itemsNode ? Parse(itemsNode, $"{location}.items") : null,
            AdditionalProperties = additionalProperties,
            Enum = schema["enum"] is { } enumNode
                ? enumNode as JsonArray ?? throw new ArgumentException($"{location}.enum is not a list.")
                : null,
            Minimum = ReadNumber(schema, "minimum", location),
            Maximum = ReadNumber(schema, "maximum", location),
            ExclusiveMinimum = ReadBoolean(schema, "exclusiveMinimum", location),
            ExclusiveMaximum = ReadBoolean(schema, "exclusiveMaximum", location),
            MultipleOf = ReadNumber(schema, "multipleOf", location),
            MinLength = ReadInteger(schema, "minLength", location),
            MaxLength = ReadInteger(schema, "maxLength", location),
            Pattern = pattern,
            PatternRegex = pattern is null ? null : CompilePattern(pattern, location),
            MinItems = ReadInteger(schema, "minItems", location),
            MaxItems = ReadInteger(schema, "maxItems", location),
            MinProperties = ReadInteger(schema, "minProperties", location),
            MaxProperties = ReadInteger(schema, "maxProperties", location),
            Default = schema["default"]?.DeepClone(),
            IntOrString = ReadBoolean(schema, "x-kubernetes-int-or-string", location),
            PreserveUnknownFields = ReadBoolean(schema, "x-kubernetes-preserve-unknown-fields", location),
            EmbeddedResource = ReadBoolean(schema, "x-kubernetes-embedded-resource", location),
            ListType = ReadString(schema, "x-kubernetes-list-type", location),
            ListMapKeys = ReadStrings(schema, "x-kubernetes-list-map-keys", location),
        };

        if (schema["x-kubernetes-validations"] is { } rulesNode)
        {
            if (rulesNode is not JsonArray ruleList)
            {
                throw new ArgumentException($"{location}.x-kubernetes-validations is not a list.");
            }

            parsed.Rules = ruleList
                .Select((rule, index) => ValidationRule.Parse(rule, parsed, $"{location}.x-kubernetes-validations[{index}]"))
                .ToList();
        }

        return parsed;
    }

    private static Regex CompilePattern(string pattern, string location)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant, PatternTimeout);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{location}.pattern {GoSyntax.Quote(pattern)} is not a valid regular expression: {e.Message}", e);
        }
    }

    private static string? ReadString(JsonObject schema, string keyword, string location) => schema[keyword] switch
    {
        null => null,
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
        _ => throw new ArgumentException($"{location}.{keyword} is not a string."),
    };

    private static bool ReadBoolean(JsonObject schema, string keyword, string location) => schema[keyword] switch
    {
        null => false,
        JsonValue value when value.GetValueKind() is JsonValueKind.True or JsonValueKind.False
            => value.GetValueKind() == JsonValueKind.True,
        _ => throw new ArgumentException($"{location}.{keyword} is not a boolean."),
    };

    private static double? ReadNumber(JsonObject schema, string keyword, string location) => schema[keyword] switch
    {
        null => null,
        JsonValue value when value.GetValueKind() == JsonValueKind.Number => JsonData.GetDouble(value),
        _ => throw new ArgumentException($"{location}.{keyword} is not a number."),
    };

    private static long? ReadInteger(JsonObject schema, string keyword, string location)
    {
        var number = ReadNumber(schema, keyword, location);
        if (number is { } value && (!JsonData.IsWhole(value) || value < 0))
        {
            throw new ArgumentException(
                $"{location}.{keyword} is {value.ToString(CultureInfo.InvariantCulture)}, not a non-negative integer.");
        }

        return number is null ? null : (long)number.Value;
    }

    private static IReadOnlyList<string> ReadStrings(JsonObject schema, string keyword, string location) => schema[keyword] switch
    {
        null => [],
        JsonArray list when list.All(item => item is JsonValue value && value.GetValueKind() == JsonValueKind.String)
            => list.Select(item => item!.GetValue<string>()).ToList(),
        _ => throw new ArgumentException($"{location}.{keyword} is not a list of strings."),
    };
}
