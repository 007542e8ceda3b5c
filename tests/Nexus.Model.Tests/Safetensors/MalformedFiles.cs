using System.Buffers.Binary;
using System.Text;

namespace Nexus.Model.Tests.Safetensors;

/// <summary>Builders for raw, possibly malformed, safetensors bytes.</summary>
internal static class MalformedFiles
{
    /// <summary>A length prefix that claims <paramref name="headerLength"/> followed by <paramref name="extraBytes"/> zeros.</summary>
    public static byte[] Prefix(ulong headerLength, int extraBytes)
    {
        var bytes = new byte[8 + extraBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength);
        return bytes;
    }

    /// <summary>A correct length prefix, the header bytes as given, then zeroed data.</summary>
    public static byte[] Header(byte[] header, int dataBytes)
    {
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    public static byte[] Header(string json, int dataBytes) => Header(Encoding.UTF8.GetBytes(json), dataBytes);

    /// <summary>One tensor entry's JSON, for composing headers in one line.</summary>
    public static string Entry(string name, string dtype, string shape, long begin, long end) =>
        $$"""
        "{{name}}":{"dtype":"{{dtype}}","shape":{{shape}},"data_offsets":[{{begin}},{{end}}]}
        """;

    /// <summary>Writes bytes and, when asked, extends the file sparsely so huge sizes cost nothing.</summary>
    public static void WriteRaw(string path, byte[] bytes, long? totalLength = null)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        stream.Write(bytes);
        if (totalLength is { } length)
        {
            stream.SetLength(length);
        }
    }
}
