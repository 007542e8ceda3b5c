using System.Text.Json.Nodes;
using Nexus.Model.Tokenization;

namespace Nexus.Model.Tests.Tokenization;

public sealed class HuggingFaceTokenizerTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private HuggingFaceTokenizer Load(JsonNode? document = null, JsonNode? config = null) =>
        HuggingFaceTokenizer.Load(TinyBpeFiles.Write(_directory.Path, document ?? TinyBpeFiles.Document(), config));

    [Fact]
    public void ByteAlphabetSpellsSpaceAndNewlineAsGpt2Does()
    {
        Assert.Equal('Ġ', TinyBpeFiles.ByteChar(' '));
        Assert.Equal('Ċ', TinyBpeFiles.ByteChar('\n'));
        Assert.Equal('a', TinyBpeFiles.ByteChar('a'));
    }

    [Fact]
    public void EncodeAppliesMergesInRankOrder()
    {
        var tokenizer = Load();

        Assert.Equal([TinyBpeFiles.Hello, TinyBpeFiles.SpaceWor, 'l', 'd'], tokenizer.Encode("hello world"));
        Assert.Equal([TinyBpeFiles.He, 'y'], tokenizer.Encode("hey"));
    }

    [Fact]
    public void MergesWrittenAsArraysEncodeLikeMergesWrittenAsStrings()
    {
        var fromStrings = Load(TinyBpeFiles.Document(mergesAsArrays: false)).Encode("hello world, hello");
        var fromArrays = Load(TinyBpeFiles.Document(mergesAsArrays: true)).Encode("hello world, hello");

        Assert.Equal(fromStrings, fromArrays);
        Assert.Equal(TinyBpeFiles.Hello, fromArrays[0]);
    }

    [Theory]
    [InlineData("hello world")]
    [InlineData("naïve 日本 🙂")]
    [InlineData("")]
    [InlineData("  two  spaces\n\ttab, it's 12345!")]
    public void DecodeRoundTrips(string text)
    {
        var tokenizer = Load();

        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void Gpt2StylePreTokenizerRoundTrips()
    {
        var tokenizer = Load(TinyBpeFiles.Document(preTokenizer: TinyBpeFiles.Gpt2PreTokenizer()));

        Assert.Equal([TinyBpeFiles.Hello, TinyBpeFiles.SpaceWor, 'l', 'd'], tokenizer.Encode("hello world"));
        Assert.Equal("naïve 日本 🙂", tokenizer.Decode(tokenizer.Encode("naïve 日本 🙂")));
    }

    [Fact]
    public void AddPrefixSpacePutsASpaceBeforeTheText()
    {
        var tokenizer = Load(TinyBpeFiles.Document(preTokenizer: TinyBpeFiles.Gpt2PreTokenizer(addPrefixSpace: true)));

        Assert.Equal([' ', TinyBpeFiles.Hello], tokenizer.Encode("hello"));
    }

    [Fact]
    public void SpecialTokensInTextMapToTheirIds()
    {
        var tokenizer = Load();

        Assert.Equal(
            [TinyBpeFiles.BeginOfText, TinyBpeFiles.Hello, TinyBpeFiles.EotId],
            tokenizer.Encode("<|begin_of_text|>hello<|eot_id|>"));
        Assert.Equal(TinyBpeFiles.EotId, tokenizer.TokenToId("<|eot_id|>"));
        Assert.Equal(TinyBpeFiles.Hello, tokenizer.TokenToId("hello"));
        Assert.Null(tokenizer.TokenToId("<|missing|>"));
        Assert.Equal(TinyBpeFiles.BeginOfText, tokenizer.AddedTokens["<|begin_of_text|>"]);
    }

    [Fact]
    public void DecodeSkipsSpecialTokensButKeepsOtherAddedTokens()
    {
        var tokenizer = Load();

        Assert.Equal("hello", tokenizer.Decode([TinyBpeFiles.BeginOfText, TinyBpeFiles.Hello, TinyBpeFiles.EotId]));
        Assert.Equal("<tool>hello", tokenizer.Decode(tokenizer.Encode("<tool>hello")));
        Assert.Equal(TinyBpeFiles.NonSpecialAdded, tokenizer.Encode("<tool>")[0]);
    }

    [Fact]
    public void VocabSizeCoversVocabularyAndAddedTokens()
    {
        Assert.Equal(TinyBpeFiles.VocabSize, Load().VocabSize);
    }

    [Fact]
    public void BosAndEosFallBackToWellKnownNamesWithoutConfig()
    {
        var tokenizer = Load();

        Assert.Equal(TinyBpeFiles.BeginOfText, tokenizer.BosId);
        Assert.Equal(TinyBpeFiles.EndOfText, tokenizer.EosId);
        Assert.Equal([TinyBpeFiles.BeginOfText, TinyBpeFiles.Hello], tokenizer.Encode("hello", addBos: true));
    }

    [Fact]
    public void BosAndEosComeFromTokenizerConfigAsStringOrObject()
    {
        var config = new JsonObject
        {
            ["bos_token"] = "<|begin_of_text|>",
            ["eos_token"] = new JsonObject { ["content"] = "<|eot_id|>", ["lstrip"] = false },
        };

        var tokenizer = Load(config: config);

        Assert.Equal(TinyBpeFiles.BeginOfText, tokenizer.BosId);
        Assert.Equal(TinyBpeFiles.EotId, tokenizer.EosId);
    }

    [Fact]
    public void NullBosInConfigMeansNoBos()
    {
        var tokenizer = Load(config: new JsonObject { ["bos_token"] = null, ["eos_token"] = "<|end_of_text|>" });

        Assert.Null(tokenizer.BosId);
        Assert.Equal(TinyBpeFiles.EndOfText, tokenizer.EosId);
        var error = Assert.Throws<InvalidOperationException>(() => tokenizer.Encode("hello", addBos: true));
        Assert.Contains("BOS", error.Message);
    }

    [Fact]
    public void ConfigNamingAnUnknownTokenIsAnError()
    {
        var error = Assert.Throws<InvalidDataException>(() => Load(config: new JsonObject { ["eos_token"] = "<|nope|>" }));

        Assert.Contains("tokenizer_config.json", error.Message);
        Assert.Contains("$.eos_token", error.Message);
        Assert.Contains("<|nope|>", error.Message);
    }

    [Fact]
    public void StreamingDecoderHoldsBackCharactersSplitAcrossByteTokens()
    {
        var tokenizer = Load();
        var ids = tokenizer.Encode("日本");
        Assert.Equal(6, ids.Length);
        var decoder = new StreamingDecoder(tokenizer);

        var pieces = ids.Select(decoder.Append).ToArray();

        Assert.Equal(["", "", "日", "", "", "本"], pieces);
    }

    [Fact]
    public void DecodeRejectsIdsOutsideTheVocabulary()
    {
        var tokenizer = Load();

        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([TinyBpeFiles.VocabSize]));
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([-1]));
    }

    [Fact]
    public void MissingFileNamesThePath()
    {
        var path = _directory.File("tokenizer.json");

        var error = Assert.Throws<FileNotFoundException>(() => HuggingFaceTokenizer.Load(path));

        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void InvalidJsonNamesTheFile()
    {
        var path = _directory.File("tokenizer.json");
        File.WriteAllText(path, "{ \"model\": { \"vocab\": ");

        var error = Assert.Throws<InvalidDataException>(() => HuggingFaceTokenizer.Load(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("not valid JSON", error.Message);
    }

    [Fact]
    public void InvalidTokenizerConfigNamesThatFile()
    {
        File.WriteAllText(_directory.File("tokenizer_config.json"), "not json");

        var error = Assert.Throws<InvalidDataException>(() => Load());

        Assert.Contains("tokenizer_config.json", error.Message);
    }

    [Theory]
    [InlineData("Unigram")]
    [InlineData("WordPiece")]
    [InlineData("WordLevel")]
    public void UnsupportedModelTypeSaysWhichTypesAreSupported(string type)
    {
        var document = TinyBpeFiles.Document();
        document["model"]!["type"] = type;

        var error = Assert.Throws<NotSupportedException>(() => Load(document));

        Assert.Contains("$.model.type", error.Message);
        Assert.Contains(type, error.Message);
        Assert.Contains("BPE", error.Message);
        Assert.Contains(_directory.File("tokenizer.json"), error.Message);
    }

    [Fact]
    public void MissingVocabularyNamesTheJsonPath()
    {
        var document = TinyBpeFiles.Document();
        document["model"]!.AsObject().Remove("vocab");

        var error = Assert.Throws<InvalidDataException>(() => Load(document));

        Assert.Contains("$.model.vocab", error.Message);
        Assert.Contains("missing", error.Message);
    }

    [Fact]
    public void MalformedMergeNamesItsIndex()
    {
        var document = TinyBpeFiles.Document();
        document["model"]!["merges"]!.AsArray()[1] = 42;

        var error = Assert.Throws<InvalidDataException>(() => Load(document));

        Assert.Contains("$.model.merges[1]", error.Message);
    }

    [Fact]
    public void NonByteLevelPreTokenizerIsRefused()
    {
        var document = TinyBpeFiles.Document(preTokenizer: new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁" });

        var error = Assert.Throws<NotSupportedException>(() => Load(document));

        Assert.Contains("$.pre_tokenizer.type", error.Message);
        Assert.Contains("Metaspace", error.Message);
    }
}
