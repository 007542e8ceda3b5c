using System.Text.Json;

namespace Nexus.Model.Safetensors;

/// <summary>The parsed model.safetensors.index.json of a sharded checkpoint.</summary>
internal sealed record SafetensorsIndex(
    IReadOnlyList<KeyValuePair<string, string>> WeightMap,
    IReadOnlyDictionary<string, string> Metadata,
    long? TotalSize)
{
    /// <summary>Index files list every tensor name once; this bound only stops a hostile file from exhausting memory.</summary>
    private const long MaxIndexBytes = 256L * 1024 * 1024;

    public static SafetensorsIndex Load(string indexPath)
    {
        var length = new FileInfo(indexPath).Length;
        if (length > MaxIndexBytes)
        {
            throw SafetensorsHeaderParser.Fail(indexPath, $"index is {length} bytes, over the {MaxIndexBytes}-byte limit");
        }

        var bytes = File.ReadAllBytes(indexPath);
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 64 });
            return ReadRoot(ref reader, indexPath);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw SafetensorsHeaderParser.Fail(indexPath, $"index is not valid JSON: {ex.Message}", ex);
        }
    }

    public static void Write(string indexPath, long totalSize, IEnumerable<KeyValuePair<string, string>> weightMap)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartObject("metadata");
            json.WriteNumber("total_size", totalSize);
            json.WriteEndObject();
            json.WriteStartObject("weight_map");
            foreach (var (tensor, shard) in weightMap)
            {
                json.WriteString(tensor, shard);
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        AtomicFile.WriteAllBytes(indexPath, buffer.WrittenSpan);
    }

    private static SafetensorsIndex ReadRoot(ref Utf8JsonReader reader, string indexPath)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw SafetensorsHeaderParser.Fail(indexPath, "index must be a JSON object");
        }

        List<KeyValuePair<string, string>>? weightMap = null;
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        long? totalSize = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString();
            reader.Read();
            switch (key)
            {
                case "weight_map":
                    weightMap = ReadWeightMap(ref reader, indexPath);
                    break;
                case "metadata":
                    totalSize = ReadMetadata(ref reader, indexPath, metadata);
                    break;
                default:
                    // Other producers add their own top-level keys; they carry nothing this reader needs.
                    reader.Skip();
                    break;
            }
        }

        reader.Read();
        return weightMap is null
            ? throw SafetensorsHeaderParser.Fail(indexPath, "index has no \"weight_map\" object")
            : new SafetensorsIndex(weightMap, metadata, totalSize);
    }

    private static List<KeyValuePair<string, string>> ReadWeightMap(ref Utf8JsonReader reader, string indexPath)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw SafetensorsHeaderParser.Fail(indexPath, $"\"weight_map\" must be a JSON object, got {reader.TokenType}");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var map = new List<KeyValuePair<string, string>>();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var tensor = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
            {
                throw SafetensorsHeaderParser.Fail(indexPath,
                    $"weight_map entry for tensor {SafetensorsHeaderParser.Quote(tensor)} must be a shard file name, got {reader.TokenType}");
            }

            if (!seen.Add(tensor))
            {
                throw SafetensorsHeaderParser.Fail(indexPath,
                    $"duplicate tensor name {SafetensorsHeaderParser.Quote(tensor)} in weight_map");
            }

            map.Add(new(tensor, reader.GetString()!));
        }

        return map;
    }

    /// <summary>Flattens index metadata to strings (non-string values keep their JSON text) and picks out total_size.</summary>
    private static long? ReadMetadata(ref Utf8JsonReader reader, string indexPath, Dictionary<string, string> metadata)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw SafetensorsHeaderParser.Fail(indexPath, $"\"metadata\" must be a JSON object, got {reader.TokenType}");
        }

        long? totalSize = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString()!;
            reader.Read();
            if (key == "total_size" && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var size) && size >= 0)
            {
                totalSize = size;
            }

            using var value = JsonDocument.ParseValue(ref reader);
            metadata[key] = value.RootElement.ValueKind == JsonValueKind.String
                ? value.RootElement.GetString()!
                : value.RootElement.GetRawText();
        }

        return totalSize;
    }
}
