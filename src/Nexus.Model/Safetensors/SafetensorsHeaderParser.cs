using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Nexus.Model.Safetensors;

internal sealed record SafetensorsHeader(IReadOnlyList<TensorEntry> Tensors, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// Parses and validates a safetensors JSON header. A forward-only Utf8JsonReader is used instead of a DOM so that
/// duplicate keys, unexpected token types and unknown fields are seen (a DOM or serializer would hide or merge them).
/// </summary>
internal static class SafetensorsHeaderParser
{
    public const string MetadataKey = "__metadata__";

    /// <summary>Same bound as the reference implementation; keeps a hostile length prefix from driving allocations.</summary>
    public const long MaxHeaderLength = 100L * 1024 * 1024;

    private const int MaxQuotedLength = 120;

    public static SafetensorsHeader Parse(ReadOnlySpan<byte> header, long dataLength, string file)
    {
        if (header.IsEmpty || header[0] != (byte)'{')
        {
            throw Fail(file, "header does not start with '{' (it must be a JSON object)");
        }

        if (!Utf8.IsValid(header))
        {
            throw Fail(file, "header is not valid UTF-8");
        }

        List<TensorEntry> tensors;
        Dictionary<string, string> metadata;
        try
        {
            var reader = new Utf8JsonReader(header, new JsonReaderOptions { MaxDepth = 16 });
            (tensors, metadata) = ReadRoot(ref reader, header, file);
        }
        catch (JsonException ex)
        {
            throw Fail(file, $"header is not valid JSON: {ex.Message}", ex);
        }
        catch (InvalidOperationException ex)
        {
            // Raised by GetString for escapes that do not form valid UTF-16, such as a lone surrogate.
            throw Fail(file, $"header contains an invalid JSON string: {ex.Message}", ex);
        }

        foreach (var tensor in tensors)
        {
            ValidateExtent(tensor, dataLength, file);
        }

        var ordered = tensors
            .OrderBy(t => t.Begin)
            .ThenBy(t => t.End)
            .ThenBy(t => t.Name, StringComparer.Ordinal)
            .ToArray();
        ValidateContiguous(ordered, dataLength, file);
        return new SafetensorsHeader(ordered, metadata);
    }

    internal static SafetensorsFormatException Fail(string file, string problem, Exception? inner = null) =>
        inner is null
            ? new SafetensorsFormatException($"{file}: {problem}")
            : new SafetensorsFormatException($"{file}: {problem}", inner);

    /// <summary>Quotes untrusted text for an error message without letting a huge value flood it.</summary>
    internal static string Quote(string text) =>
        text.Length <= MaxQuotedLength ? $"'{text}'" : $"'{text[..MaxQuotedLength]}...' ({text.Length} chars)";

    private static (List<TensorEntry>, Dictionary<string, string>) ReadRoot(
        ref Utf8JsonReader reader, ReadOnlySpan<byte> header, string file)
    {
        reader.Read();
        var tensors = new List<TensorEntry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        Dictionary<string, string>? metadata = null;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString()!;
            if (!names.Add(key))
            {
                throw Fail(file, key == MetadataKey
                    ? $"duplicate key {MetadataKey} in header"
                    : $"duplicate tensor name {Quote(key)} in header");
            }

            reader.Read();
            if (key == MetadataKey)
            {
                metadata = ReadMetadata(ref reader, file);
            }
            else
            {
                tensors.Add(ReadEntry(ref reader, key, file));
            }
        }

        // Writers pad with spaces; other JSON whitespace is tolerated like serde_json does, anything else is not.
        var trailing = header[(int)reader.BytesConsumed..];
        var garbage = trailing.IndexOfAnyExcept(" \t\r\n"u8);
        if (garbage >= 0)
        {
            throw Fail(file,
                $"header has non-whitespace byte 0x{trailing[garbage]:X2} after the JSON object (at header offset {reader.BytesConsumed + garbage})");
        }

        return (tensors, metadata ?? new Dictionary<string, string>(StringComparer.Ordinal));
    }

    private static Dictionary<string, string> ReadMetadata(ref Utf8JsonReader reader, string file)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw Fail(file, $"{MetadataKey} must be a JSON object of strings, got {reader.TokenType}");
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
            {
                throw Fail(file, $"{MetadataKey} value for key {Quote(key)} must be a string, got {reader.TokenType}");
            }

            if (!metadata.TryAdd(key, reader.GetString()!))
            {
                throw Fail(file, $"duplicate key {Quote(key)} in {MetadataKey}");
            }
        }

        return metadata;
    }

    private static TensorEntry ReadEntry(ref Utf8JsonReader reader, string name, string file)
    {
        var tensor = $"tensor {Quote(name)}";
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw Fail(file, $"entry for {tensor} must be a JSON object, got {reader.TokenType}");
        }

        SafetensorsDtype? dtype = null;
        long[]? shape = null;
        long[]? offsets = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = reader.GetString()!;
            reader.Read();
            var alreadySeen = field switch
            {
                "dtype" => dtype is not null,
                "shape" => shape is not null,
                "data_offsets" => offsets is not null,
                _ => throw Fail(file, $"{tensor} has unknown field {Quote(field)}"),
            };
            if (alreadySeen)
            {
                throw Fail(file, $"{tensor} has duplicate field '{field}'");
            }

            switch (field)
            {
                case "dtype":
                    dtype = ReadDtype(ref reader, tensor, file);
                    break;
                case "shape":
                    shape = ReadIntegers(ref reader, $"shape of {tensor}", file);
                    break;
                default:
                    offsets = ReadIntegers(ref reader, $"data_offsets of {tensor}", file);
                    if (offsets.Length != 2)
                    {
                        throw Fail(file, $"data_offsets of {tensor} must have exactly 2 entries, got {offsets.Length}");
                    }

                    break;
            }
        }

        if (dtype is null || shape is null || offsets is null)
        {
            var missing = dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets";
            throw Fail(file, $"{tensor} is missing field '{missing}'");
        }

        return new TensorEntry(name, dtype.Value, shape, offsets[0], offsets[1]);
    }

    private static SafetensorsDtype ReadDtype(ref Utf8JsonReader reader, string tensor, string file)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw Fail(file, $"dtype of {tensor} must be a string, got {reader.TokenType}");
        }

        var text = reader.GetString()!;
        return SafetensorsDtypeExtensions.TryParseFormatString(text, out var dtype)
            ? dtype
            : throw Fail(file, $"{tensor} has unknown dtype {Quote(text)}");
    }

    private static long[] ReadIntegers(ref Utf8JsonReader reader, string what, string file)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw Fail(file, $"{what} must be an array of integers, got {reader.TokenType}");
        }

        var values = new List<long>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number)
            {
                throw Fail(file, $"{what} must contain only integers, got {reader.TokenType}");
            }

            if (!reader.TryGetInt64(out var value))
            {
                var raw = Encoding.UTF8.GetString(reader.ValueSpan);
                throw Fail(file, $"{what} has value {Quote(raw)} that is not a non-negative 64-bit integer");
            }

            if (value < 0)
            {
                throw Fail(file, $"{what} has negative value {value}");
            }

            values.Add(value);
        }

        return values.ToArray();
    }

    private static void ValidateExtent(TensorEntry tensor, long dataLength, string file)
    {
        var label = $"tensor {Quote(tensor.Name)}";
        if (tensor.Begin > tensor.End)
        {
            throw Fail(file, $"{label} has data_offsets begin {tensor.Begin} greater than end {tensor.End}");
        }

        if (tensor.End > dataLength)
        {
            throw Fail(file,
                $"{label} ends at byte {tensor.End}, beyond the data region of {dataLength} bytes (the file is truncated?)");
        }

        long expected;
        try
        {
            expected = SafetensorsShape.ByteLength(tensor.Shape, tensor.Dtype);
        }
        catch (OverflowException ex)
        {
            throw Fail(file, $"shape {FormatShape(tensor.Shape)} of {label} overflows a 64-bit byte count", ex);
        }

        if (expected != tensor.ByteLength)
        {
            throw Fail(file,
                $"{label} spans {tensor.ByteLength} bytes but dtype {tensor.Dtype.ToFormatString()} with shape " +
                $"{FormatShape(tensor.Shape)} needs {expected} bytes");
        }
    }

    /// <summary>The reference implementation rejects holes and overlaps, so every byte belongs to exactly one tensor.</summary>
    private static void ValidateContiguous(IReadOnlyList<TensorEntry> ordered, long dataLength, string file)
    {
        long next = 0;
        TensorEntry? previous = null;
        foreach (var tensor in ordered)
        {
            if (tensor.Begin < next)
            {
                throw Fail(file,
                    $"tensor {Quote(tensor.Name)} at bytes [{tensor.Begin}, {tensor.End}) overlaps tensor " +
                    $"{Quote(previous!.Name)} at bytes [{previous.Begin}, {previous.End})");
            }

            if (tensor.Begin > next)
            {
                throw Fail(file,
                    $"gap of {tensor.Begin - next} bytes in the data region before tensor {Quote(tensor.Name)} at byte {tensor.Begin}");
            }

            next = tensor.End;
            previous = tensor;
        }

        if (next != dataLength)
        {
            throw Fail(file,
                $"data region has {dataLength - next} trailing bytes after the last tensor " +
                $"(tensors end at byte {next}, the data region is {dataLength} bytes)");
        }
    }

    internal static string FormatShape(IReadOnlyList<long> shape)
    {
        const int MaxShown = 16;
        return shape.Count <= MaxShown
            ? $"[{string.Join(", ", shape)}]"
            : $"[{string.Join(", ", shape.Take(MaxShown))}, ...] ({shape.Count} dimensions)";
    }
}
