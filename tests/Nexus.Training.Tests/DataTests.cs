using Nexus.Model.Tokenization;

namespace Nexus.Training.Tests;

public class DataTests
{
    [Fact]
    public void ValidationIsEachFilesTailAndNeverOverlapsTraining()
    {
        using var temp = new TempDirectory();
        var a = SampleText.WriteFile(temp.Path, 10, "a.txt", seed: 1);
        var b = SampleText.WriteFile(temp.Path, 10, "b.txt", seed: 2);
        var tokenizer = new ByteTokenizer();
        var corpus = TokenCorpus.FromFiles([temp.Path], tokenizer, 0.2);

        Assert.Equal([a, b], corpus.Sources);
        var aTokens = tokenizer.Encode(File.ReadAllText(a));
        var held = (int)Math.Ceiling(aTokens.Length * 0.2);
        Assert.Equal(aTokens[..^held], corpus.Train[..(aTokens.Length - held)]);
        Assert.Equal(aTokens[^held..], corpus.Validation[..held]);
        Assert.Equal(tokenizer.EosId, corpus.Train[aTokens.Length - held]);
    }

    [Fact]
    public void BatchesAreAPureFunctionOfSeedAndStep()
    {
        var tokens = Enumerable.Range(0, 5000).Select(i => i % 250).ToArray();
        var one = new BatchSampler(tokens, 4, 16, seed: 9);
        var two = new BatchSampler(tokens, 4, 16, seed: 9);
        var (x1, y1) = one.Batch(17, 0);
        var (x2, y2) = two.Batch(17, 0);
        Assert.True((x1 == x2).all().item<bool>() && (y1 == y2).all().item<bool>());
        Assert.False((x1 == one.Batch(18, 0).Inputs).all().item<bool>());
        Assert.True((y1[.., ..^1] == x1[.., 1..]).all().item<bool>(), "targets are inputs shifted by one");
    }

    [Fact]
    public void MissingDataIsAClearError()
    {
        var error = Assert.Throws<FileNotFoundException>(() => TokenCorpus.FromFiles(["/no/such/corpus.txt"], new ByteTokenizer(), 0.1));
        Assert.Contains("/no/such/corpus.txt", error.Message);
    }

    [Fact]
    public void TooLittleDataIsAClearError()
    {
        var error = Assert.Throws<ArgumentException>(() => new BatchSampler([1, 2, 3], 2, 16, 0));
        Assert.Contains("--seq-len", error.Message);
    }
}
