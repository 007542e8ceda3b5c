using System.Text.Json.Nodes;

namespace Nexus.Operator.Runtime;

/// <summary>Builds RFC 7386 JSON merge patches.</summary>
public static class JsonMergePatch
{
    /// <summary>The patch that turns <paramref name="original"/> into <paramref name="modified"/>: changed members, and
    /// null for removed ones. Arrays and non-objects are replaced whole, as merge patch requires.</summary>
    public static JsonNode? Create(JsonNode? original, JsonNode? modified)
    {
        if (original is not JsonObject originalObject || modified is not JsonObject modifiedObject)
        {
            return modified?.DeepClone();
        }

        var patch = new JsonObject();
        foreach (var (name, _) in originalObject)
        {
            if (!modifiedObject.ContainsKey(name))
            {
                patch[name] = null;
            }
        }

        foreach (var (name, value) in modifiedObject)
        {
            if (originalObject.TryGetPropertyValue(name, out var before))
            {
                if (JsonNode.DeepEquals(before, value))
                {
                    continue;
                }

                patch[name] = before is JsonObject && value is JsonObject ? Create(before, value) : value?.DeepClone();
            }
            else
            {
                patch[name] = value?.DeepClone();
            }
        }

        return patch;
    }
}
