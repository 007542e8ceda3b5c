using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Nexus.Operator.Tests.Chart;

/// <summary>
/// A JSON Schema draft-07 validator for the subset of keywords the chart's <c>values.schema.json</c> uses: <c>type</c>
/// (a name or a list), <c>enum</c>, <c>pattern</c>, <c>minLength</c>, <c>maxLength</c>, <c>minimum</c>,
/// <c>maximum</c>, <c>properties</c>, <c>required</c>, <c>additionalProperties</c> (a boolean or a schema),
/// <c>items</c> (one schema) and <c>$ref</c> to <c>#/definitions/NAME</c>; <c>$schema</c>, <c>title</c>,
/// <c>description</c>, <c>default</c> and <c>definitions</c> are annotations. It stands in for a full validator
/// (JsonSchema.Net or NJsonSchema, which Directory.Packages.props does not pin): a schema with any other keyword is
/// refused, so the chart's schema cannot come to rely on one this does not check. As in draft-07, <c>pattern</c> and
/// the length keywords apply to strings only and <c>minimum</c>/<c>maximum</c> to numbers only; patterns are
/// ECMA 262 ones, which .NET's regular expressions read alike for the classes and quantifiers used here.
/// </summary>
public sealed class JsonSchemaSubset
{
    private static readonly HashSet<string> Annotations = ["$schema", "title", "description", "default", "definitions"];

    private static readonly HashSet<string> Keywords =
    [
        "type", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum", "properties", "required",
        "additionalProperties", "items", "$ref",
    ];

    private readonly JsonObject _root;

    /// <exception cref="ArgumentException">The schema uses a keyword outside the subset (named, with its path).</exception>
    public JsonSchemaSubset(JsonObject schema)
    {
        _root = schema;
        CheckKeywords(schema, "#");
    }

    /// <summary>Every violation of <paramref name="instance"/>, each as <c>path: message</c> where the path is the
    /// values path (<c>operator.jobBackoffLimit</c>, <c>imagePullSecrets[0].name</c>; <c>(root)</c> for the top).</summary>
    public IReadOnlyList<string> Validate(JsonNode? instance)
    {
        var errors = new List<string>();
        Validate(_root, instance, "", errors);
        return errors;
    }

    private void CheckKeywords(JsonObject schema, string path)
    {
        foreach (var (keyword, value) in schema)
        {
            if (!Keywords.Contains(keyword) && !Annotations.Contains(keyword))
            {
                throw new ArgumentException($"{path}: the keyword '{keyword}' is outside the draft-07 subset JsonSchemaSubset checks; use one of {string.Join(", ", Keywords)}.");
            }

            switch (keyword)
            {
                case "properties" or "definitions" when value is JsonObject children:
                    foreach (var (name, child) in children)
                    {
                        CheckKeywords(AsSchema(child, $"{path}/{keyword}/{name}"), $"{path}/{keyword}/{name}");
                    }

                    break;
                case "additionalProperties" or "items" when value is JsonObject child:
                    CheckKeywords(child, $"{path}/{keyword}");
                    break;
                case "$ref" when value?.GetValue<string>() is { } reference:
                    Resolve(reference, path);
                    break;
            }
        }
    }

    private static JsonObject AsSchema(JsonNode? node, string path) =>
        node as JsonObject ?? throw new ArgumentException($"{path}: a schema must be an object.");

    private JsonObject Resolve(string reference, string path)
    {
        const string prefix = "#/definitions/";
        if (!reference.StartsWith(prefix, StringComparison.Ordinal)
            || _root["definitions"]?[reference[prefix.Length..]] is not JsonObject target)
        {
            throw new ArgumentException($"{path}: $ref '{reference}' does not name an entry of #/definitions.");
        }

        return target;
    }

    private void Validate(JsonObject schema, JsonNode? value, string path, List<string> errors)
    {
        var where = path.Length == 0 ? "(root)" : path;
        if (schema["$ref"]?.GetValue<string>() is { } reference)
        {
            Validate(Resolve(reference, where), value, path, errors);
        }

        var kind = KindOf(value);
        if (schema["type"] is { } type)
        {
            var allowed = type is JsonArray list ? list.Select(t => t!.GetValue<string>()).ToList() : [type.GetValue<string>()];
            if (!allowed.Any(name => name == kind || (name == "number" && kind == "integer")))
            {
                errors.Add($"{where}: {Describe(value)} is {Article(kind)}, not {string.Join(" or ", allowed)}.");
                return;
            }
        }

        if (schema["enum"] is JsonArray choices && !choices.Any(choice => JsonNode.DeepEquals(choice, value)))
        {
            errors.Add($"{where}: {Describe(value)} is not one of {string.Join(", ", choices.Select(Describe))}.");
        }

        switch (kind)
        {
            case "string":
                var text = value!.GetValue<string>();
                if (schema["pattern"]?.GetValue<string>() is { } pattern && !Regex.IsMatch(text, pattern))
                {
                    errors.Add($"{where}: {Describe(value)} does not match {pattern}.");
                }

                if (schema["minLength"] is { } minLength && text.Length < NumberOf(minLength))
                {
                    errors.Add($"{where}: {Describe(value)} is shorter than {minLength} characters.");
                }

                if (schema["maxLength"] is { } maxLength && text.Length > NumberOf(maxLength))
                {
                    errors.Add($"{where}: {Describe(value)} is longer than {maxLength} characters.");
                }

                break;
            case "integer" or "number":
                var number = NumberOf(value!);
                if (schema["minimum"] is { } minimum && number < NumberOf(minimum))
                {
                    errors.Add($"{where}: {Describe(value)} is below the minimum {minimum}.");
                }

                if (schema["maximum"] is { } maximum && number > NumberOf(maximum))
                {
                    errors.Add($"{where}: {Describe(value)} is above the maximum {maximum}.");
                }

                break;
            case "object":
                ValidateObject(schema, (JsonObject)value!, path, errors);
                break;
            case "array" when schema["items"] is JsonObject items:
                var array = (JsonArray)value!;
                for (var index = 0; index < array.Count; index++)
                {
                    Validate(items, array[index], $"{path}[{index}]", errors);
                }

                break;
        }
    }

    private void ValidateObject(JsonObject schema, JsonObject value, string path, List<string> errors)
    {
        var where = path.Length == 0 ? "(root)" : path;
        foreach (var required in schema["required"]?.AsArray().Select(name => name!.GetValue<string>()) ?? [])
        {
            if (!value.ContainsKey(required))
            {
                errors.Add($"{Join(path, required)}: is required (under {where}).");
            }
        }

        var properties = schema["properties"] as JsonObject;
        foreach (var (name, child) in value)
        {
            if (properties?[name] is JsonObject property)
            {
                Validate(property, child, Join(path, name), errors);
            }
            else if (schema["additionalProperties"] is JsonObject additional)
            {
                Validate(additional, child, Join(path, name), errors);
            }
            else if (schema["additionalProperties"] is JsonValue allowed && !allowed.GetValue<bool>())
            {
                var known = properties is null ? "none" : string.Join(", ", properties.Select(p => p.Key));
                errors.Add($"{Join(path, name)}: is not a known value (known under {where}: {known}).");
            }
        }
    }

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    private static string KindOf(JsonNode? value) => value switch
    {
        null => "null",
        JsonObject => "object",
        JsonArray => "array",
        _ => value.GetValueKind() switch
        {
            JsonValueKind.String => "string",
            JsonValueKind.True or JsonValueKind.False => "boolean",
            JsonValueKind.Number => IsWhole(value) ? "integer" : "number",
            var other => other.ToString().ToLowerInvariant(),
        },
    };

    private static bool IsWhole(JsonNode value)
    {
        var number = NumberOf(value);
        return Math.Floor(number) == number && !double.IsInfinity(number);
    }

    private static double NumberOf(JsonNode number) => double.Parse(number.ToJsonString(), CultureInfo.InvariantCulture);

    private static string Article(string kind) => kind is "object" or "array" or "integer" ? $"an {kind}" : $"a {kind}";

    private static string Describe(JsonNode? value) =>
        value is null ? "null" : value.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}
