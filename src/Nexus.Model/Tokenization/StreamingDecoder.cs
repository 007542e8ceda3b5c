using System.Text;

namespace Nexus.Model.Tokenization;

/// <summary>
/// Decodes ids one at a time, for a generator that prints as it goes. Bytes of a character split across tokens are
/// held back until the character is complete, so output never shows a broken multi-byte character.
/// </summary>
public sealed class StreamingDecoder
{
    private readonly ITextTokenizer _tokenizer;
    private readonly Decoder _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private char[] _chars = new char[16];

    public StreamingDecoder(ITextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
    }

    /// <summary>Adds one id; returns the text completed by it, possibly empty.</summary>
    public string Append(int id) => Convert(_tokenizer.GetTokenBytes(id), flush: false);

    /// <summary>
    /// Ends the stream: bytes still held back (an incomplete character) come out as U+FFFD. The decoder can be
    /// reused afterwards.
    /// </summary>
    public string Flush() => Convert(ReadOnlySpan<byte>.Empty, flush: true);

    private string Convert(ReadOnlySpan<byte> bytes, bool flush)
    {
        var needed = _utf8.GetCharCount(bytes, flush: false) + 4;
        if (_chars.Length < needed) _chars = new char[Math.Max(needed, _chars.Length * 2)];
        var count = _utf8.GetChars(bytes, _chars, flush);
        return count == 0 ? string.Empty : new string(_chars, 0, count);
    }
}
