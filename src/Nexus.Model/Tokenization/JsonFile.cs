using System.Text.Json;

namespace Nexus.Model.Tokenization;

/// <summary>
/// Reads tokenizer JSON files so that every failure names the file and the JSON path at fault; these files come
/// from model downloads and a bare KeyNotFoundException would leave the user guessing which one is broken.
/// </summary>
internal static class JsonFile
{
    public static JsonDocument Parse(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Tokenizer file '{path}' does not exist.", path);
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not valid JSON: {e.Message}", e);
        }
    }

    public static JsonElement RequireObject(JsonElement parent, string name, string file, string jsonPath)
    {
        var element = Optional(parent, name);
        if (element is not { ValueKind: JsonValueKind.Object } value)
            throw Invalid(file, jsonPath + "." + name, "must be an object", element);
        return value;
    }

    public static JsonElement RequireArray(JsonElement parent, string name, string file, string jsonPath)
    {
        var element = Optional(parent, name);
        if (element is not { ValueKind: JsonValueKind.Array } value)
            throw Invalid(file, jsonPath + "." + name, "must be an array", element);
        return value;
    }

    public static string? OptionalString(JsonElement parent, string name, string file, string jsonPath)
    {
        var element = Optional(parent, name);
        if (element is null || element.Value.ValueKind == JsonValueKind.Null) return null;
        if (element.Value.ValueKind != JsonValueKind.String) throw Invalid(file, jsonPath + "." + name, "must be a string", element);
        return element.Value.GetString();
    }

    public static bool OptionalBool(JsonElement parent, string name, bool defaultValue, string file, string jsonPath)
    {
        var element = Optional(parent, name);
        return element?.ValueKind switch
        {
            null or JsonValueKind.Null => defaultValue,
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Invalid(file, jsonPath + "." + name, "must be true or false", element),
        };
    }

    public static int RequireInt(JsonElement element, string file, string jsonPath)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt32(out var value) || value < 0)
            throw Invalid(file, jsonPath, "must be a non-negative integer", element);
        return value;
    }

    public static JsonElement? Optional(JsonElement parent, string name) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) ? value : null;

    public static InvalidDataException Invalid(string file, string jsonPath, string requirement, JsonElement? found) =>
        new($"{file}: {jsonPath} {requirement}, but {Describe(found)}.");

    private static string Describe(JsonElement? element) => element switch
    {
        null => "it is missing",
        { ValueKind: JsonValueKind.String } e => $"it is the string \"{e.GetString()}\"",
        { } e => $"it is {e.ValueKind.ToString().ToLowerInvariant()} {Shorten(e.GetRawText())}",
    };

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..60] + "...";
}
