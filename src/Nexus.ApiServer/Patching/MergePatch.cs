using System.Text.Json.Nodes;

namespace Nexus.ApiServer.Patching;

/// <summary>JSON merge patch (RFC 7386): objects merge key by key, <c>null</c> removes a key, anything else (arrays
/// included) replaces the target value.</summary>
internal static class MergePatch
{
    public static JsonNode? Apply(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        var result = target is JsonObject targetObject ? (JsonObject)targetObject.DeepClone() : new JsonObject();
        foreach (var (key, value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(key);
            }
            else
            {
                result[key] = Apply(result[key], value);
            }
        }

        return result;
    }
}
