using System.Text.Json.Serialization;

namespace Nexus.Training.Data;

/// <summary>How shard files store token ids: little-endian unsigned 16-bit when every id fits, else signed 32-bit.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TokenDtype>))]
public enum TokenDtype
{
    [JsonStringEnumMemberName("uint16")] UInt16,
    [JsonStringEnumMemberName("int32")] Int32,
}

public static class TokenDtypes
{
    public static TokenDtype For(int vocabSize) => vocabSize <= 65536 ? TokenDtype.UInt16 : TokenDtype.Int32;

    public static int Size(this TokenDtype dtype) => dtype == TokenDtype.UInt16 ? 2 : 4;
}
