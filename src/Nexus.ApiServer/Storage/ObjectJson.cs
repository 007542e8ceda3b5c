using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Nexus.ApiServer.Storage;

/// <summary>Typed access to the parts of a Kubernetes object (as JSON) the API server itself reads and writes:
/// metadata, owner references, finalizers. Everything else in an object is opaque to the server.</summary>
internal static class ObjectJson
{
    public static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    public static JsonObject Metadata(JsonObject obj)
    {
        if (obj["metadata"] is JsonObject metadata)
        {
            return metadata;
        }

        metadata = new JsonObject();
        obj["metadata"] = metadata;
        return metadata;
    }

    public static string? MetadataString(JsonObject obj, string field) =>
        obj["metadata"] is JsonObject metadata ? StringOf(metadata[field]) : null;

    public static string? StringOf(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    public static string? PathString(JsonObject obj, string dottedPath)
    {
        JsonNode? node = obj;
        foreach (var segment in dottedPath.Split('.'))
        {
            node = node is JsonObject parent ? parent[segment] : null;
        }

        return node switch
        {
            JsonValue value when value.TryGetValue<string>(out var text) => text,
            JsonValue value => value.ToJsonString(),
            _ => null,
        };
    }

    public static IReadOnlyDictionary<string, string> Labels(JsonObject obj) => StringMap(obj["metadata"]?["labels"]);

    public static IReadOnlyDictionary<string, string> StringMap(JsonNode? node)
    {
        if (node is not JsonObject map || map.Count == 0)
        {
            return EmptyMap;
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in map)
        {
            result[key] = StringOf(value) ?? value?.ToJsonString() ?? string.Empty;
        }

        return result;
    }

    public static IReadOnlyList<string> Finalizers(JsonObject obj)
    {
        if (obj["metadata"]?["finalizers"] is not JsonArray array)
        {
            return [];
        }

        return array.Select(StringOf).OfType<string>().ToList();
    }

    public static void SetFinalizers(JsonObject obj, IEnumerable<string> finalizers)
    {
        var list = finalizers.ToList();
        var metadata = Metadata(obj);
        if (list.Count == 0)
        {
            metadata.Remove("finalizers");
        }
        else
        {
            metadata["finalizers"] = new JsonArray(list.Select(f => (JsonNode?)JsonValue.Create(f)).ToArray());
        }
    }

    public static IReadOnlyList<OwnerReference> OwnerReferences(JsonObject obj)
    {
        if (obj["metadata"]?["ownerReferences"] is not JsonArray array)
        {
            return [];
        }

        var result = new List<OwnerReference>();
        foreach (var item in array.OfType<JsonObject>())
        {
            result.Add(new OwnerReference(
                StringOf(item["apiVersion"]) ?? string.Empty,
                StringOf(item["kind"]) ?? string.Empty,
                StringOf(item["name"]) ?? string.Empty,
                StringOf(item["uid"]) ?? string.Empty,
                item["controller"] is JsonValue c && c.TryGetValue<bool>(out var controller) && controller,
                item["blockOwnerDeletion"] is JsonValue b && b.TryGetValue<bool>(out var block) && block));
        }

        return result;
    }

    public static long? Long(JsonNode? node)
    {
        if (node is not JsonValue value)
        {
            return null;
        }

        if (value.TryGetValue<long>(out var number))
        {
            return number;
        }

        if (value.TryGetValue<JsonElement>(out var element) && element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out number))
        {
            return number;
        }

        return value.TryGetValue<string>(out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out number)
            ? number
            : null;
    }

    /// <summary>A canonical text of a JSON value (object keys sorted, numbers as written), so equality of texts is
    /// equality of values whatever the key order.</summary>
    public static string CanonicalText(JsonNode? node) => Canonical(node)?.ToJsonString(Compact) ?? "null";

    private static JsonNode? Canonical(JsonNode? node) => node switch
    {
        JsonObject obj => new JsonObject(obj.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Canonical(p.Value)))),
        JsonArray array => new JsonArray(array.Select(Canonical).ToArray()),
        JsonValue value => JsonNode.Parse(value.ToJsonString()),
        _ => null,
    };

    public static JsonObject Clone(JsonObject obj) => (JsonObject)obj.DeepClone();

    public static JsonObject Parse(string json) =>
        JsonNode.Parse(json) as JsonObject ?? throw new JsonException("expected a JSON object");

    /// <summary>Timestamps as the API server writes metav1.Time: RFC 3339, UTC, whole seconds.</summary>
    public static string Timestamp(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static readonly IReadOnlyDictionary<string, string> EmptyMap = new Dictionary<string, string>();
}

/// <summary>metadata.ownerReferences[] as the garbage collector reads it.</summary>
internal sealed record OwnerReference(string ApiVersion, string Kind, string Name, string Uid, bool Controller, bool BlockOwnerDeletion);
