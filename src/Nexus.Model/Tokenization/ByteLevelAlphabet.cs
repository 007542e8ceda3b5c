namespace Nexus.Model.Tokenization;

/// <summary>
/// The GPT-2 byte-level alphabet: byte-level BPE vocabularies spell every byte as one printable character
/// (space is 'Ġ', newline 'Ċ'), so token strings have to be mapped back to bytes to get the text.
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly Dictionary<char, byte> ByteOfChar = BuildByteOfChar();

    /// <summary>The bytes a vocabulary token spells, or null when it uses a character outside the alphabet.</summary>
    public static byte[]? TryGetBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (var i = 0; i < token.Length; i++)
        {
            if (!ByteOfChar.TryGetValue(token[i], out var b)) return null;
            bytes[i] = b;
        }
        return bytes;
    }

    private static Dictionary<char, byte> BuildByteOfChar()
    {
        // Bytes that are printable Latin-1 stand for themselves; the others are shifted past 255 in byte order.
        var map = new Dictionary<char, byte>(256);
        var shifted = 0;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[printable ? (char)b : (char)(256 + shifted++)] = (byte)b;
        }
        return map;
    }
}
