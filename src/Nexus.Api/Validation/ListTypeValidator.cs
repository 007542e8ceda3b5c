using System.Text.Json.Nodes;

namespace Nexus.Api.Validation;

/// <summary>
/// The x-kubernetes-list-type invariants the API server checks after the OpenAPI pass: a set holds no item twice,
/// a map-list no two items with the same key fields. Each later repetition is a "Duplicate value" at its index.
/// </summary>
internal static class ListTypeValidator
{
    public static void Validate(StructuralSchema schema, JsonNode? node, string path, List<FieldError> errors)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj)
                {
                    if (schema.PropertiesByName.TryGetValue(key, out var property))
                    {
                        Validate(property, value, FieldPath.Child(path, key), errors);
                    }
                    else if (schema.AdditionalProperties is { } values)
                    {
                        Validate(values, value, FieldPath.Key(path, key), errors);
                    }
                }

                break;
            case JsonArray array:
                switch (schema.ListType)
                {
                    case "set":
                        ValidateSet(array, path, errors);
                        break;
                    case "map":
                        ValidateMap(schema, array, path, errors);
                        break;
                }

                if (schema.Items is { } items)
                {
                    for (var i = 0; i < array.Count; i++)
                    {
                        Validate(items, array[i], FieldPath.Index(path, i), errors);
                    }
                }

                break;
        }
    }

    private static void ValidateSet(JsonArray array, string path, List<FieldError> errors)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < array.Count; i++)
        {
            if (!seen.Add(JsonData.CanonicalKey(array[i])))
            {
                errors.Add(FieldErrors.Duplicate(FieldPath.Index(path, i), GoSyntax.Value(array[i])));
            }
        }
    }

    private static void ValidateMap(StructuralSchema schema, JsonArray array, string path, List<FieldError> errors)
    {
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not (JsonObject or null))
            {
                errors.Add(FieldErrors.Invalid(FieldPath.Index(path, i), GoSyntax.Value(array[i]),
                    "must be an object for an array of list-type map"));
                return;
            }
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject item)
            {
                continue;
            }

            var key = MapKey(schema, item);
            if (!seen.Add(JsonData.CanonicalKey(key)))
            {
                errors.Add(FieldErrors.Duplicate(FieldPath.Index(path, i), GoSyntax.SharpV(key)));
            }
        }
    }

    /// <summary>The key fields of an item, a missing one taking its schema default as the API server assumes.</summary>
    public static JsonObject MapKey(StructuralSchema schema, JsonObject item)
    {
        var key = new JsonObject();
        foreach (var field in schema.ListMapKeys)
        {
            if (item.TryGetPropertyValue(field, out var value))
            {
                key[field] = value?.DeepClone();
            }
            else if (schema.Items?.PropertiesByName.GetValueOrDefault(field)?.Default is { } fallback)
            {
                key[field] = fallback.DeepClone();
            }
        }

        return key;
    }
}
