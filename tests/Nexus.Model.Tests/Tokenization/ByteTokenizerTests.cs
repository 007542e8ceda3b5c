using Nexus.Model.Tokenization;

namespace Nexus.Model.Tests.Tokenization;

public class ByteTokenizerTests
{
    private readonly ByteTokenizer _tokenizer = new();

    [Theory]
    [InlineData("hello, world")]
    [InlineData("naïve 日本 🙂")]
    [InlineData("")]
    [InlineData("line\nbreak\ttab\0nul")]
    public void RoundTrips(string text)
    {
        Assert.Equal(text, _tokenizer.Decode(_tokenizer.Encode(text)));
    }

    [Fact]
    public void EncodesUtf8Bytes()
    {
        Assert.Equal([(int)'a', 0xC3, 0xAF, 0xF0, 0x9F, 0x99, 0x82], _tokenizer.Encode("aï🙂"));
        Assert.Empty(_tokenizer.Encode(""));
    }

    [Fact]
    public void DescribesItsVocabulary()
    {
        Assert.Equal(258, _tokenizer.VocabSize);
        Assert.Equal(256, _tokenizer.BosId);
        Assert.Equal(257, _tokenizer.EosId);
    }

    [Fact]
    public void AddBosPrependsBos()
    {
        Assert.Equal([256, 'h', 'i'], _tokenizer.Encode("hi", addBos: true));
        Assert.Equal([256], _tokenizer.Encode("", addBos: true));
        Assert.Equal(['h', 'i'], _tokenizer.Encode("hi"));
    }

    [Fact]
    public void DecodeSkipsSpecialIds()
    {
        Assert.Equal("hi", _tokenizer.Decode([256, 'h', 257, 'i', 257]));
        Assert.Equal("", _tokenizer.Decode([256, 257]));
    }

    [Fact]
    public void DecodeOfInvalidUtf8UsesReplacementCharacters()
    {
        var text = _tokenizer.Decode([0xFF, 'a', 0xC3, 'b', 0xE6, 0x97]);

        Assert.Equal("\uFFFDa\uFFFDb\uFFFD", text);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(258)]
    public void DecodeRejectsIdsOutsideTheVocabulary(int id)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _tokenizer.Decode([id]));
        Assert.Contains(id.ToString(), error.Message);
    }

    [Fact]
    public void TokenBytesAreTheByteItselfAndEmptyForSpecials()
    {
        Assert.Equal([0xC3], _tokenizer.GetTokenBytes(0xC3).ToArray());
        Assert.True(_tokenizer.GetTokenBytes(ByteTokenizer.Bos).IsEmpty);
        Assert.True(_tokenizer.GetTokenBytes(ByteTokenizer.Eos).IsEmpty);
    }
}
