using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Nexus.Model.Safetensors;

/// <summary>Lays tensors out back to back in the given order and serializes the matching header.</summary>
internal static class SafetensorsHeaderBuilder
{
    private const int Alignment = 8;

    /// <summary>Returns the space-padded header bytes (without the length prefix) and each tensor's offsets.</summary>
    public static (byte[] Header, TensorEntry[] Entries) Build(
        IReadOnlyList<TensorSpec> layout, IReadOnlyDictionary<string, string>? metadata)
    {
        var entries = PlaceTensors(layout);
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafetensorsHeaderParser.MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    ArgumentNullException.ThrowIfNull(value, $"metadata[{key}]");
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
            }

            foreach (var entry in entries)
            {
                json.WriteStartObject(entry.Name);
                json.WriteString("dtype", entry.Dtype.ToFormatString());
                json.WriteStartArray("shape");
                foreach (var dim in entry.Shape)
                {
                    json.WriteNumberValue(dim);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(entry.Begin);
                json.WriteNumberValue(entry.End);
                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        // Padding keeps the data region 8-aligned so readers can view tensors of any dtype in place.
        var unpadded = buffer.WrittenSpan;
        var padded = (unpadded.Length + 8 + Alignment - 1) / Alignment * Alignment - 8;
        var header = new byte[padded];
        unpadded.CopyTo(header);
        header.AsSpan(unpadded.Length).Fill((byte)' ');
        if (header.LongLength > SafetensorsHeaderParser.MaxHeaderLength)
        {
            throw new ArgumentException(
                $"The header would be {header.LongLength} bytes, over the 100 MiB limit readers enforce.", nameof(layout));
        }

        return (header, entries);
    }

    private static TensorEntry[] PlaceTensors(IReadOnlyList<TensorSpec> layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var entries = new TensorEntry[layout.Count];
        long offset = 0;
        for (var i = 0; i < layout.Count; i++)
        {
            var spec = layout[i] ?? throw new ArgumentException($"Layout entry {i} is null.", nameof(layout));
            ArgumentNullException.ThrowIfNull(spec.Name, nameof(layout));
            ArgumentNullException.ThrowIfNull(spec.Shape, nameof(layout));
            if (spec.Name == SafetensorsHeaderParser.MetadataKey)
            {
                throw new ArgumentException($"'{SafetensorsHeaderParser.MetadataKey}' is reserved and cannot name a tensor.", nameof(layout));
            }

            if (!names.Add(spec.Name))
            {
                throw new ArgumentException($"Tensor '{spec.Name}' appears twice in the layout.", nameof(layout));
            }

            if (!Enum.IsDefined(spec.Dtype))
            {
                throw new ArgumentException($"Tensor '{spec.Name}' has undefined dtype {(int)spec.Dtype}.", nameof(layout));
            }

            if (spec.Shape.Any(dim => dim < 0))
            {
                throw new ArgumentException(
                    $"Tensor '{spec.Name}' has a negative dimension in shape {SafetensorsHeaderParser.FormatShape(spec.Shape)}.",
                    nameof(layout));
            }

            try
            {
                var end = checked(offset + spec.ByteLength);
                entries[i] = new TensorEntry(spec.Name, spec.Dtype, (long[])spec.Shape.Clone(), offset, end);
                offset = end;
            }
            catch (OverflowException ex)
            {
                throw new ArgumentException($"Tensor '{spec.Name}' makes the data region overflow 64 bits.", nameof(layout), ex);
            }
        }

        return entries;
    }
}
