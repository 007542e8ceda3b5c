using System.Globalization;
using System.Text.Json.Nodes;

namespace Nexus.ApiServer.Patching;

/// <summary>JSON patch (RFC 6902): add, remove, replace, move, copy and test, with RFC 6901 pointers (<c>~0</c>,
/// <c>~1</c>, <c>-</c> for the end of an array). The patch applies atomically: any failing operation leaves the
/// document untouched.</summary>
internal static class JsonPatch
{
    /// <summary>Thrown for a patch document that is not a list of operations (the API server answers 400).</summary>
    public sealed class MalformedPatchException(string message) : Exception(message);

    /// <summary>Thrown when an operation does not apply, a failed test included (the API server answers 422).</summary>
    public sealed class PatchApplyException(string message) : Exception(message);

    public static JsonNode Apply(JsonNode document, JsonNode? patch)
    {
        if (patch is not JsonArray operations)
        {
            throw new MalformedPatchException("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
        }

        var root = new JsonObject { ["doc"] = document.DeepClone() };
        foreach (var operation in operations)
        {
            if (operation is not JsonObject op || op["op"]?.GetValue<string>() is not { } name)
            {
                throw new MalformedPatchException("missing 'op' in JSON patch operation");
            }

            var path = Path(op, "path");
            switch (name)
            {
                case "add":
                    Add(root, path, Value(op));
                    break;
                case "remove":
                    Remove(root, path);
                    break;
                case "replace":
                    Remove(root, path);
                    Add(root, path, Value(op));
                    break;
                case "move":
                    var moved = Remove(root, Path(op, "from"));
                    Add(root, path, moved);
                    break;
                case "copy":
                    Add(root, path, Get(root, Path(op, "from"))?.DeepClone());
                    break;
                case "test":
                    var actual = Get(root, path);
                    if (!JsonNode.DeepEquals(actual, op["value"]))
                    {
                        throw new PatchApplyException($"testing value {Pointer(op)} failed: test failed");
                    }

                    break;
                default:
                    throw new MalformedPatchException($"Unexpected kind: {name}");
            }
        }

        return root["doc"]!.DeepClone();
    }

    private static string Pointer(JsonObject op) => op["path"]?.GetValue<string>() ?? string.Empty;

    private static JsonNode? Value(JsonObject op)
    {
        if (!op.ContainsKey("value"))
        {
            throw new MalformedPatchException($"missing value for {op["op"]} at {Pointer(op)}");
        }

        return op["value"]?.DeepClone();
    }

    /// <summary>The pointer's tokens, prefixed by the synthetic root token so the whole document is replaceable.</summary>
    private static List<string> Path(JsonObject op, string field)
    {
        var pointer = op[field]?.GetValue<string>() ?? throw new MalformedPatchException($"missing '{field}' in JSON patch operation");
        if (pointer.Length > 0 && pointer[0] != '/')
        {
            throw new MalformedPatchException($"JSON pointer must be empty or start with '/': {pointer}");
        }

        var tokens = new List<string> { "doc" };
        if (pointer.Length > 0)
        {
            tokens.AddRange(pointer[1..].Split('/').Select(t => t.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)));
        }

        return tokens;
    }

    private static JsonNode Container(JsonObject root, List<string> path)
    {
        JsonNode current = root;
        foreach (var token in path.Take(path.Count - 1))
        {
            current = Child(current, token) ?? throw new PatchApplyException($"doc is missing path: {Render(path)}");
        }

        return current;
    }

    private static JsonNode? Child(JsonNode parent, string token) => parent switch
    {
        JsonObject obj => obj[token],
        JsonArray array when int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < array.Count => array[index],
        _ => null,
    };

    private static JsonNode? Get(JsonObject root, List<string> path)
    {
        var container = Container(root, path);
        var last = path[^1];
        return container switch
        {
            JsonObject obj when obj.ContainsKey(last) => obj[last],
            JsonArray array when int.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < array.Count => array[index],
            _ => throw new PatchApplyException($"doc is missing path: {Render(path)}"),
        };
    }

    private static void Add(JsonObject root, List<string> path, JsonNode? value)
    {
        var container = Container(root, path);
        var last = path[^1];
        switch (container)
        {
            case JsonObject obj:
                obj[last] = value;
                break;
            case JsonArray array when last == "-":
                array.Add(value);
                break;
            case JsonArray array when int.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index <= array.Count:
                array.Insert(index, value);
                break;
            default:
                throw new PatchApplyException($"add operation does not apply: doc is missing path: {Render(path)}");
        }
    }

    private static JsonNode? Remove(JsonObject root, List<string> path)
    {
        var container = Container(root, path);
        var last = path[^1];
        switch (container)
        {
            case JsonObject obj when obj.ContainsKey(last):
                var removed = obj[last];
                obj.Remove(last);
                return removed;
            case JsonArray array when int.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < array.Count:
                var item = array[index];
                array.RemoveAt(index);
                return item;
            default:
                throw new PatchApplyException($"doc is missing path: {Render(path)}");
        }
    }

    private static string Render(List<string> path) => "/" + string.Join('/', path.Skip(1));
}
