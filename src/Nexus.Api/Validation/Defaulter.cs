using System.Text.Json.Nodes;

namespace Nexus.Api.Validation;

/// <summary>
/// Structural defaulting as the API server applies it when it decodes a custom resource: first nulls of
/// non-nullable fields without a default are dropped, then every absent field with a default gets a copy of it,
/// and defaulting continues inside the values, so an object default is itself completed by its children's defaults.
/// </summary>
internal static class Defaulter
{
    public static void Apply(StructuralSchema schema, JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                ApplyToObject(schema, obj);
                break;
            case JsonArray array when schema.Items is { } items:
                for (var i = 0; i < array.Count; i++)
                {
                    if (array[i] is null && !items.Nullable && items.Default is { } itemDefault)
                    {
                        array[i] = itemDefault.DeepClone();
                    }

                    Apply(items, array[i]);
                }

                break;
        }
    }

    private static void ApplyToObject(StructuralSchema schema, JsonObject obj)
    {
        foreach (var (key, value) in obj.ToList())
        {
            var fieldSchema = FieldSchema(schema, key);
            if (value is null && fieldSchema is { Nullable: false, Default: null })
            {
                obj.Remove(key);
            }
        }

        foreach (var (name, property) in schema.Properties)
        {
            if (property.Default is not { } fallback)
            {
                continue;
            }

            if (!obj.TryGetPropertyValue(name, out var present) || (present is null && !property.Nullable))
            {
                obj[name] = fallback.DeepClone();
            }
        }

        foreach (var (key, value) in obj.ToList())
        {
            var fieldSchema = FieldSchema(schema, key);
            if (fieldSchema is null)
            {
                continue;
            }

            if (value is null && !fieldSchema.Nullable && fieldSchema.Default is { } valueDefault)
            {
                obj[key] = valueDefault.DeepClone();
            }

            Apply(fieldSchema, obj[key]);
        }
    }

    private static StructuralSchema? FieldSchema(StructuralSchema schema, string key)
        => schema.PropertiesByName.GetValueOrDefault(key) ?? schema.AdditionalProperties;
}
