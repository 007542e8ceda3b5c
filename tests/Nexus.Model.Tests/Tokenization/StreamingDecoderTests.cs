using Nexus.Model.Tokenization;

namespace Nexus.Model.Tests.Tokenization;

public class StreamingDecoderTests
{
    private readonly ByteTokenizer _tokenizer = new();

    [Fact]
    public void EmitsAMultiByteCharacterOnlyWhenComplete()
    {
        var decoder = new StreamingDecoder(_tokenizer);

        Assert.Equal("a", decoder.Append('a'));
        Assert.Equal("", decoder.Append(0xF0));
        Assert.Equal("", decoder.Append(0x9F));
        Assert.Equal("", decoder.Append(0x99));
        Assert.Equal("🙂", decoder.Append(0x82));
        Assert.Equal("", decoder.Append(0xC3));
        Assert.Equal("ï", decoder.Append(0xAF));
        Assert.Equal("", decoder.Flush());
    }

    [Fact]
    public void ConcatenatedOutputEqualsDecodeOfAllIds()
    {
        const string text = "naïve 日本 🙂 done";
        var ids = _tokenizer.Encode(text, addBos: true).Append(ByteTokenizer.Eos).ToArray();
        var decoder = new StreamingDecoder(_tokenizer);

        var streamed = string.Concat(ids.Select(decoder.Append)) + decoder.Flush();

        Assert.Equal(text, streamed);
        Assert.Equal(_tokenizer.Decode(ids), streamed);
    }

    [Fact]
    public void SpecialIdsProduceNoTextAndDoNotBreakAPendingCharacter()
    {
        var decoder = new StreamingDecoder(_tokenizer);

        Assert.Equal("", decoder.Append(0xC3));
        Assert.Equal("", decoder.Append(ByteTokenizer.Eos));
        Assert.Equal("é", decoder.Append(0xA9));
    }

    [Fact]
    public void InvalidBytesBecomeReplacementCharactersWithoutThrowing()
    {
        var decoder = new StreamingDecoder(_tokenizer);

        var text = decoder.Append(0xFF) + decoder.Append('a') + decoder.Append(0xC3) + decoder.Append('b');

        Assert.Equal("\uFFFDa\uFFFDb", text);
    }

    [Fact]
    public void FlushEmitsAnIncompleteCharacterAsReplacementAndResets()
    {
        var decoder = new StreamingDecoder(_tokenizer);

        Assert.Equal("", decoder.Append(0xE6));
        Assert.Equal("\uFFFD", decoder.Flush());
        Assert.Equal("x", decoder.Append('x'));
    }
}
