using System.Text.Json.Nodes;

namespace Nexus.Api.Validation;

/// <summary>
/// Structural pruning: fields the schema does not declare are dropped, except under
/// x-kubernetes-preserve-unknown-fields and the apiVersion/kind/metadata of the resource root and of embedded
/// resources (the API server handles metadata itself).
/// </summary>
internal static class Pruner
{
    private static readonly HashSet<string> ResourceFields = ["apiVersion", "kind", "metadata"];

    public static void Apply(StructuralSchema schema, JsonNode? node, bool isResourceRoot)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                {
                    if (isResourceRoot && ResourceFields.Contains(key))
                    {
                        continue;
                    }

                    if (schema.PropertiesByName.TryGetValue(key, out var property))
                    {
                        Apply(property, value, property.EmbeddedResource);
                    }
                    else if (schema.AdditionalProperties is { } values)
                    {
                        Apply(values, value, values.EmbeddedResource);
                    }
                    else if (!schema.PreserveUnknownFields)
                    {
                        obj.Remove(key);
                    }
                }

                break;
            case JsonArray array when schema.Items is { } items:
                foreach (var item in array)
                {
                    Apply(items, item, items.EmbeddedResource);
                }

                break;
        }
    }
}
