using Nexus.Model.Tokenization;

namespace Nexus.Model.Tests.Tokenization;

public sealed class TokenizerFilesTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void SaveByteThenLoadGivesAByteTokenizer()
    {
        var modelDirectory = Path.Combine(_directory.Path, "new-model");

        TokenizerFiles.SaveByte(modelDirectory);
        var tokenizer = TokenizerFiles.Load(modelDirectory);

        Assert.IsType<ByteTokenizer>(tokenizer);
        Assert.Equal("{\"type\":\"byte\"}", File.ReadAllText(Path.Combine(modelDirectory, TokenizerFiles.NexusFileName)).Trim());
    }

    [Fact]
    public void HuggingFaceFileWinsOverNexusFile()
    {
        TokenizerFiles.SaveByte(_directory.Path);
        TinyBpeFiles.Write(_directory.Path, TinyBpeFiles.Document());

        var tokenizer = TokenizerFiles.Load(_directory.Path);

        Assert.IsType<HuggingFaceTokenizer>(tokenizer);
        Assert.Equal(TinyBpeFiles.VocabSize, tokenizer.VocabSize);
    }

    [Fact]
    public void NoTokenizerFileNamesDirectoryAndFilesLookedFor()
    {
        var error = Assert.Throws<FileNotFoundException>(() => TokenizerFiles.Load(_directory.Path));

        Assert.Contains(_directory.Path, error.Message);
        Assert.Contains("tokenizer.json", error.Message);
        Assert.Contains("nexus_tokenizer.json", error.Message);
    }

    [Fact]
    public void UnknownNexusTokenizerTypeIsRefused()
    {
        File.WriteAllText(_directory.File(TokenizerFiles.NexusFileName), "{\"type\":\"sentencepiece\"}");

        var error = Assert.Throws<NotSupportedException>(() => TokenizerFiles.Load(_directory.Path));

        Assert.Contains("sentencepiece", error.Message);
        Assert.Contains("byte", error.Message);
        Assert.Contains(TokenizerFiles.NexusFileName, error.Message);
    }

    [Fact]
    public void NexusFileWithoutTypeNamesTheJsonPath()
    {
        File.WriteAllText(_directory.File(TokenizerFiles.NexusFileName), "{}");

        var error = Assert.Throws<InvalidDataException>(() => TokenizerFiles.Load(_directory.Path));

        Assert.Contains("$.type", error.Message);
        Assert.Contains(TokenizerFiles.NexusFileName, error.Message);
    }
}
