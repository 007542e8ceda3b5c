using System.Security.Cryptography;
using Nexus.Model.Tokenization;
using Nexus.Training.Data;

namespace Nexus.Training.Tests.Data;

public sealed class ShardedCorpusTests : IDisposable
{
    private readonly TempDirectory temp = new();
    private readonly string dataset;
    private readonly DatasetManifest manifest;
    private readonly ByteTokenizer tokenizer = new();

    public ShardedCorpusTests()
    {
        var packages = FakePackages.Create(Path.Combine(temp.Path, "cache"));
        dataset = Path.Combine(temp.Path, "dataset");
        var (byteTokenizer, info) = DatasetTokenizers.Load(null);
        manifest = new DatasetPreparer(packages.Catalog, new NpmClient("/nonexistent/npm"), _ => { })
            .PrepareAsync(new DataPrepareOptions { OutputDirectory = dataset, CacheDirectory = packages.Cache, Offline = true, ValidationFraction = 0.3, ShardTokens = 2048 },
                byteTokenizer, info, CancellationToken.None).GetAwaiter().GetResult();
    }

    public void Dispose() => temp.Dispose();

    private int[] Tokens(string domain, DataSplit split) =>
        manifest.Domains.Single(d => d.Name == domain).Shards.Where(s => s.Split == split).SelectMany(s => ShardReader.Read(dataset, s)).ToArray();

    [Fact]
    public void LoadsOneDomainWithTheSplitItWasPreparedWith()
    {
        var news = ShardedCorpus.LoadDomain(dataset, "news", tokenizer);
        Assert.Equal(Tokens("news", DataSplit.Train), news.Train);
        Assert.Equal(Tokens("news", DataSplit.Validation), news.Validation);
        Assert.Equal(manifest.Domains[0].TrainTokens, news.Train.Length);
        Assert.All(news.Sources, s => Assert.EndsWith(".bin", s));
    }

    [Fact]
    public void TextPathsAndPreparedDataReadThroughTheSameEntryPoint()
    {
        var byName = TokenCorpus.FromFiles([dataset], tokenizer, 0.1, "science");
        var byFolder = TokenCorpus.FromFiles([Path.Combine(dataset, "science")], tokenizer, 0.1, "any-name");
        Assert.Equal(Tokens("science", DataSplit.Train), byName.Train);
        Assert.Equal(byName.Train, byFolder.Train);
        Assert.Equal(byName.Validation, byFolder.Validation);

        var initial = TokenCorpus.FromFiles([dataset], tokenizer, 0.1);
        var initialDomains = manifest.Domains.Where(d => d.Role == DomainRole.Initial).ToList();
        Assert.Equal(["news", "science", "books", "speeches"], initialDomains.Select(d => d.Name));
        Assert.Equal(initialDomains.Sum(d => d.TrainTokens), initial.Train.Length);
        Assert.Equal(initialDomains.Sum(d => d.ValidationTokens), initial.Validation.Length);

        var text = SampleText.WriteFile(Path.Combine(temp.Path, "text"));
        Assert.Equal([text], TokenCorpus.FromFiles([text], tokenizer, 0.1, "river").Sources); // text stays text
    }

    [Fact]
    public void AnUnknownDomainNamesTheDomainsThereAre()
    {
        var error = Assert.Throws<ArgumentException>(() => TokenCorpus.FromFiles([dataset], tokenizer, 0.1, "poetry"));
        Assert.Contains("'poetry'", error.Message);
        Assert.Contains("news, science, books, speeches, mail, code", error.Message);
    }

    [Fact]
    public void MixingTextWithAPreparedDatasetIsAnError()
    {
        var text = SampleText.WriteFile(Path.Combine(temp.Path, "text"));
        Assert.Contains("one kind of data", Assert.Throws<ArgumentException>(() => TokenCorpus.FromFiles([dataset, text], tokenizer, 0.1, "news")).Message);
        var shard = Path.Combine(dataset, "news", "train-00000.bin");
        Assert.Contains("one shard", Assert.Throws<ArgumentException>(() => TokenCorpus.FromFiles([shard], tokenizer, 0.1)).Message);
    }

    [Fact]
    public void ACorruptedShardIsCaughtAndNamed()
    {
        var shard = manifest.Domains.Single(d => d.Name == "books").Shards[0];
        var path = Path.Combine(dataset, shard.Path);
        var bytes = File.ReadAllBytes(path);
        bytes[10] ^= 0x01;
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<InvalidDataException>(() => ShardedCorpus.LoadDomain(dataset, "books", tokenizer));
        Assert.Contains(shard.Path, error.Message);
        Assert.Contains($"expected sha256 {shard.Sha256}", error.Message);
        Assert.Contains($"found {Convert.ToHexStringLower(SHA256.HashData(bytes))}", error.Message);
        Assert.Contains("re-run `nexus data prepare", error.Message);
        ShardedCorpus.LoadDomain(dataset, "news", tokenizer); // the other domains still load
    }

    [Fact]
    public void ATruncatedOrMissingShardIsCaughtAndNamed()
    {
        var shard = manifest.Domains.Single(d => d.Name == "mail").Shards[0];
        var path = Path.Combine(dataset, shard.Path);
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..^2]);
        var error = Assert.Throws<InvalidDataException>(() => ShardedCorpus.LoadDomain(dataset, "mail", tokenizer));
        Assert.Contains(shard.Path, error.Message);
        Assert.Contains($"expects {shard.Bytes}", error.Message);
        Assert.Contains(shard.Sha256, error.Message);

        File.Delete(path);
        Assert.Contains("is missing", Assert.Throws<InvalidDataException>(() => ShardedCorpus.LoadDomain(dataset, "mail", tokenizer)).Message);
    }

    [Fact]
    public void AModelWithAnotherTokenizerIsRefused()
    {
        var error = Assert.Throws<ArgumentException>(() => ShardedCorpus.LoadDomain(dataset, "news", new WideTokenizer()));
        Assert.Contains("--tokenizer", error.Message);
    }

    private sealed class WideTokenizer : ITextTokenizer
    {
        public int VocabSize => 70_000;
        public int? BosId => null;
        public int? EosId => 1;
        public int[] Encode(string text, bool addBos = false) => [];
        public string Decode(ReadOnlySpan<int> ids) => "";
        public ReadOnlySpan<byte> GetTokenBytes(int id) => [];
    }
}
