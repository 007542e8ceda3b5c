using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using k8s.Models;

namespace Nexus.Api.Tests.Crds;

/// <summary>
/// The OpenAPI keywords the generated schemas use, checked against a JSON document the way the API server would
/// (unknown fields count as errors because the server would prune them). CEL rules are not evaluated here; the
/// validator in Nexus.Api/Validation does that.
/// </summary>
internal static class SchemaCheck
{
    public static IReadOnlyList<string> Errors(V1JSONSchemaProps schema, string json)
    {
        var errors = new List<string>();
        using var document = JsonDocument.Parse(json);
        Check(schema, document.RootElement, "", errors);
        return errors;
    }

    private static void Check(V1JSONSchemaProps schema, JsonElement value, string path, List<string> errors)
    {
        void Fail(string message) => errors.Add($"{(path.Length == 0 ? "." : path)}: {message}");

        if (schema.XKubernetesIntOrString == true)
        {
            if (value.ValueKind == JsonValueKind.String)
                CheckString(schema, value.GetString()!, Fail);
            else if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out _))
                Fail($"int-or-string expected, got {value.ValueKind}");
            return;
        }
        switch (schema.Type)
        {
            case "object" when value.ValueKind == JsonValueKind.Object:
                CheckObject(schema, value, path, errors, Fail);
                break;
            case "array" when value.ValueKind == JsonValueKind.Array:
                var items = value.EnumerateArray().ToList();
                if (items.Count > schema.MaxItems)
                    Fail($"more than {schema.MaxItems} items");
                if (items.Count < schema.MinItems)
                    Fail($"fewer than {schema.MinItems} items");
                if (schema.XKubernetesListType == "set" && items.Select(i => i.GetRawText()).Distinct().Count() != items.Count)
                    Fail("duplicate items in a set");
                for (var i = 0; i < items.Count; i++)
                    Check((V1JSONSchemaProps)schema.Items, items[i], $"{path}[{i}]", errors);
                break;
            case "string" when value.ValueKind == JsonValueKind.String:
                CheckString(schema, value.GetString()!, Fail);
                break;
            case "integer" when value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var integer):
                CheckNumber(schema, integer, Fail);
                break;
            case "number" when value.ValueKind == JsonValueKind.Number:
                CheckNumber(schema, value.GetDouble(), Fail);
                break;
            case "boolean" when value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                break;
            default:
                Fail($"{schema.Type} expected, got {value.ValueKind}");
                break;
        }
    }

    private static void CheckObject(V1JSONSchemaProps schema, JsonElement value, string path, List<string> errors, Action<string> fail)
    {
        if (path == ".metadata")
            return; // the API server validates ObjectMeta itself
        var fields = value.EnumerateObject().ToList();
        if (schema.AdditionalProperties is V1JSONSchemaProps values)
        {
            if (fields.Count > schema.MaxProperties)
                fail($"more than {schema.MaxProperties} entries");
            foreach (var field in fields)
                Check(values, field.Value, $"{path}.{field.Name}", errors);
            return;
        }
        foreach (var field in fields)
        {
            if (schema.Properties?.TryGetValue(field.Name, out var property) == true)
                Check(property, field.Value, $"{path}.{field.Name}", errors);
            else
                errors.Add($"{path}.{field.Name}: not in the schema (the API server would prune it)");
        }
        foreach (var name in schema.Required ?? [])
        {
            if (fields.All(field => field.Name != name))
                errors.Add($"{path}.{name}: required");
        }
    }

    private static void CheckString(V1JSONSchemaProps schema, string text, Action<string> fail)
    {
        if (schema.EnumProperty is { } allowed && !allowed.Select(v => v.ToString()).Contains(text))
            fail($"'{text}' is not one of {string.Join(", ", allowed)}");
        if (text.Length > schema.MaxLength)
            fail($"longer than {schema.MaxLength}");
        if (text.Length < schema.MinLength)
            fail($"shorter than {schema.MinLength}");
        if (schema.Pattern is { } pattern && !Regex.IsMatch(text, pattern))
            fail($"'{text}' does not match {pattern}");
        if (schema.Format == "date-time" && !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
            fail($"'{text}' is not a date-time");
    }

    private static void CheckNumber(V1JSONSchemaProps schema, double number, Action<string> fail)
    {
        if (schema.Minimum is { } minimum && (schema.ExclusiveMinimum == true ? number <= minimum : number < minimum))
            fail($"{number} is below the minimum {minimum}");
        if (schema.Maximum is { } maximum && (schema.ExclusiveMaximum == true ? number >= maximum : number > maximum))
            fail($"{number} is above the maximum {maximum}");
    }
}
